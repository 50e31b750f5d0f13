/**
 * The seeded pseudo-random numbers every property and fuzz test draws from (mulberry32), so a
 * failing case can be replayed from its seed.
 */

/** A generator of numbers in [0, 1), the same sequence for the same seed. */
export function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
