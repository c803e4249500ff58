// The WASI calls the clang-built modules (dyce-relaxed.wasm and the -mt
// builds, WASI reactors) can make in a browser or Node. The engine never
// prints or reads files, but it does ask the time: clock_gettime, for
// classify's deadlineMs and its `ms`. Without an answer the C library
// read an unset timespec, so deadlines were ignored and `ms` was 0.
// Every other call answers ENOSYS.

const ENOSYS = 52, EINVAL = 28;
const REALTIME = 0, MONOTONIC = 1;

/**
 * The wasi_snapshot_preview1 imports. `memory`: the module's memory, or a
 * function returning it (a reactor exports its memory, so it exists only
 * after instantiation).
 */
export function wasiImports(memory) {
  const mem = typeof memory === 'function' ? memory : () => memory;
  const clock_time_get = (id, _precision, timePtr) => {
    let ms;
    if (id === MONOTONIC) ms = performance.now();
    else if (id === REALTIME) ms = performance.timeOrigin + performance.now();
    else return EINVAL;
    // Nanoseconds, as a u64 at timePtr.
    new DataView(mem().buffer).setBigUint64(timePtr, BigInt(Math.round(ms * 1e6)), true);
    return 0;
  };
  return new Proxy({ clock_time_get }, { get: (target, name) => target[name] ?? (() => ENOSYS) });
}
