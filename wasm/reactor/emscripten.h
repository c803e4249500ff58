/* Stand-in for <emscripten.h> when wasm/binding.c is built by clang-19 as
 * a WASI reactor (the relaxed-SIMD module, see CMakeLists.txt): every
 * non-static function is exported by the link (--export-dynamic), so
 * "keep alive" only has to keep the function. */
#ifndef DYCE_REACTOR_EMSCRIPTEN_H
#define DYCE_REACTOR_EMSCRIPTEN_H
#define EMSCRIPTEN_KEEPALIVE __attribute__((used))
#endif
