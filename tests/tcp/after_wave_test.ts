import assert from "node:assert/strict";
import { AfterWave } from "../../tcp/core/after_wave.ts";
import { releaseFreedMemory } from "../../tcp/linux/release_memory.ts";

function watcher() {
  let releases = 0;
  const wave = new AfterWave({ release: () => releases++, minPeak: 100, ticks: 3 });
  return { wave, releases: () => releases };
}

Deno.test("AfterWave releases memory for a few ticks once a wave of connections has left", () => {
  const { wave, releases } = watcher();
  for (const count of [10, 120, 400, 390]) wave.tick(count);
  assert.equal(releases(), 0, "nothing while connections are up");
  wave.tick(100); // a quarter of the peak of 400: the wave is over
  assert.equal(releases(), 1);
  for (const count of [90, 80, 70, 60]) wave.tick(count);
  assert.equal(releases(), 3, "only `ticks` releases per wave");
});

Deno.test("AfterWave ignores small peaks and slow declines that stay above a quarter", () => {
  const { wave, releases } = watcher();
  for (const count of [50, 99, 0, 0]) wave.tick(count); // never reached minPeak
  for (const count of [300, 200, 150, 80]) wave.tick(count); // 80 > 300 / 4
  assert.equal(releases(), 0);
  wave.tick(75);
  assert.equal(releases(), 1);
});

Deno.test({
  name: "releaseFreedMemory calls malloc_trim where libc is available",
  ignore: Deno.build.os !== "linux",
  fn() {
    assert.equal(releaseFreedMemory(), true);
  },
});
