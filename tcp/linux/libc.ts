/**
 * libc through Deno's built-in FFI for netlab's Linux fast paths (udp/mmsg.ts, tcp/sendfile.ts).
 *
 * Each fast path has a portable twin, so this returns null rather than fail or ask: on anything
 * but 64-bit Linux (the struct layouts the callers use), without glibc, and unless FFI and reading
 * /proc/self/fd (where the callers find Deno's socket descriptors) are already granted, because
 * an optimisation must never make Deno prompt the user.
 */
export function openFastPathLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | null {
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) return null;
  const granted = (descriptor: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(descriptor).state === "granted";
  if (!granted({ name: "ffi" }) || !granted({ name: "read", path: "/proc/self/fd" })) return null;
  try {
    return Deno.dlopen("libc.so.6", symbols);
  } catch {
    return null; // no glibc
  }
}
