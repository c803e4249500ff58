/*
 * The vector layer: 4 x f32 vectors written once with GCC/Clang vector
 * extensions, so every kernel in this folder builds as
 *
 *   wasmsimd         emcc / clang -msimd128          (V8: f32x4 ops)
 *   wasmrelaxedsimd  clang -msimd128 -mrelaxed-simd  (FMA via relaxed_madd)
 *   sse2             native x86-64, tested under ASan + UBSan
 *   scalar           anything else (clang/gcc lower the vectors to scalars;
 *                    this is the no-SIMD WebAssembly fallback)
 *
 * Only min/max and the multiply-add differ per ISA; everything else is
 * plain vector arithmetic. Worked example, y = max(x * s + b, 0):
 *
 *   dyce__vf v = dyce__vf_load(x);
 *   v = dyce__vf_madd(dyce__vf_splat(b), v, dyce__vf_splat(s));
 *   dyce__vf_store(y, dyce__vf_max(v, dyce__vf_zero()));
 */
#ifndef DYCE_KERNELS_SIMD_VEC_H
#define DYCE_KERNELS_SIMD_VEC_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#if defined(__wasm_relaxed_simd__)
#define DYCE__ISA "wasmrelaxedsimd"
#else
#define DYCE__ISA "wasmsimd"
#endif
#elif defined(__SSE2__)
#include <emmintrin.h>
#define DYCE__ISA "sse2"
#else
#define DYCE__ISA "scalar"
#endif

/* Kernel names follow XNNPACK: dtype-op-tile-isa. */
#define DYCE__KERNEL_NAME(op_tile) "f32-" op_tile "-" DYCE__ISA

#define DYCE__VF_LANES 4
typedef float dyce__vf __attribute__((vector_size(16)));
typedef int32_t dyce__vi __attribute__((vector_size(16)));
/* Same vector, any float alignment, allowed to alias float arrays. */
typedef float dyce__vf_mem
    __attribute__((vector_size(16), aligned(4), may_alias));

static inline dyce__vf dyce__vf_load(const float *p) {
  return *(const dyce__vf_mem *)(const void *)p;
}
static inline void dyce__vf_store(float *p, dyce__vf v) {
  *(dyce__vf_mem *)(void *)p = v;
}
static inline dyce__vf dyce__vf_splat(float x) {
  dyce__vf v = {x, x, x, x};
  return v;
}
static inline dyce__vf dyce__vf_zero(void) { return dyce__vf_splat(0.0f); }
static inline dyce__vi dyce__vi_splat(int32_t x) {
  dyce__vi v = {x, x, x, x};
  return v;
}

/* First n < 4 lanes from p, the others 0: tails never read past an array. */
static inline dyce__vf dyce__vf_load_partial(const float *p, size_t n) {
  dyce__vf v = dyce__vf_zero();
  for (size_t i = 0; i < n; i++) v[i] = p[i];
  return v;
}
static inline void dyce__vf_store_partial(float *p, dyce__vf v, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = v[i];
}

/* Lane-wise min and max. NaN handling follows the host instruction; the
 * engine refuses non-finite inputs, so it does not matter here. */
static inline dyce__vf dyce__vf_min(dyce__vf a, dyce__vf b) {
#if defined(__wasm_simd128__)
  return (dyce__vf)wasm_f32x4_pmin((v128_t)a, (v128_t)b);
#elif defined(__SSE2__)
  return (dyce__vf)_mm_min_ps((__m128)a, (__m128)b);
#else
  dyce__vi lt = b < a;
  return (dyce__vf)(((dyce__vi)b & lt) | ((dyce__vi)a & ~lt));
#endif
}
static inline dyce__vf dyce__vf_max(dyce__vf a, dyce__vf b) {
#if defined(__wasm_simd128__)
  return (dyce__vf)wasm_f32x4_pmax((v128_t)a, (v128_t)b);
#elif defined(__SSE2__)
  return (dyce__vf)_mm_max_ps((__m128)a, (__m128)b);
#else
  dyce__vi gt = b > a;
  return (dyce__vf)(((dyce__vi)b & gt) | ((dyce__vi)a & ~gt));
#endif
}

/* |x| (f32x4.abs; natively the sign bit cleared, as andps does) and the
 * correctly rounded square root (f32x4.sqrt, sqrtps, sqrtf per lane): the
 * same bits as fabsf and sqrtf, NaN for a negative. */
static inline dyce__vf dyce__vf_abs(dyce__vf x) {
#if defined(__wasm_simd128__)
  return (dyce__vf)wasm_f32x4_abs((v128_t)x);
#else
  return (dyce__vf)((dyce__vi)x & dyce__vi_splat(0x7fffffff));
#endif
}
static inline dyce__vf dyce__vf_sqrt(dyce__vf x) {
#if defined(__wasm_simd128__)
  return (dyce__vf)wasm_f32x4_sqrt((v128_t)x);
#elif defined(__SSE2__)
  return (dyce__vf)_mm_sqrt_ps((__m128)x);
#else
  for (int i = 0; i < DYCE__VF_LANES; i++) x[i] = __builtin_sqrtf(x[i]);
  return x;
#endif
}

/* acc + a * b: one fused instruction under relaxed SIMD, else mul + add. */
static inline dyce__vf dyce__vf_madd(dyce__vf acc, dyce__vf a, dyce__vf b) {
#if defined(__wasm_relaxed_simd__)
  return __builtin_wasm_relaxed_madd_f32x4(a, b, acc);
#else
  return acc + a * b;
#endif
}

/* Lane-wise select: m ? a : b, with m from a vector comparison. */
static inline dyce__vf dyce__vf_select(dyce__vi m, dyce__vf a, dyce__vf b) {
  return (dyce__vf)(((dyce__vi)a & m) | ((dyce__vi)b & ~m));
}

#endif /* DYCE_KERNELS_SIMD_VEC_H */
