/**
 * Giving freed memory back to the kernel. glibc keeps the pages of freed allocations for reuse:
 * only the top of its heap is ever returned on its own, so after a wave of clients (their
 * buffers, Deno's per-connection state) the pages freed in the middle stay resident until the
 * next wave reuses them. `malloc_trim(0n)` hands every whole free page back (madvise), as
 * long-running servers on glibc do after a burst.
 */
import { libc } from "./libc.ts";

/** Returns freed heap pages to the kernel; false where libc is not available (a no-op). */
export function releaseFreedMemory(): boolean {
  const lib = libc();
  if (!lib) return false;
  lib.symbols.malloc_trim(0n);
  return true;
}
