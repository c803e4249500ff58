/*
 * The integer half of the vector layer (vec.h): what the int8 kernels
 * (q8_*.c, docs/INT8.md) need, written once for every ISA:
 *
 *   dyce__vh   8 x i16   widened int8 (activations minus their zero point,
 *                        weights)
 *   dyce__vi   4 x i32   accumulators (vec.h)
 *   dyce__vb  16 x i8    int8 data (max pools)
 *
 * The one multiply is dyce__vi_dot: i32 lane j = a[2j] * b[2j] +
 * a[2j+1] * b[2j+1] (WASM SIMD128 i32x4.dot_i16x8_s, SSE2 pmaddwd; exact:
 * the int8 kernels' operands stay within +-255 and +-127). Relaxed SIMD's
 * i8 dot is not used (its result for bytes > 127 is implementation-defined;
 * docs/INT8.md), so the relaxed build runs this SIMD128 code.
 *
 * Requantization (dyce__vi_requant): float(acc) * mult as one binary32
 * multiply, clamped to [qmin - zp, qmax - zp] (integers, so clamping before
 * rounding equals clamping after), rounded half to even, plus zp. No
 * multiply here is ever fused with an add: GCC compiles ISO C
 * (-std=c11) with -ffp-contract=off, and clang is told so below, for every
 * file that includes this header.
 */
#ifndef DYCE_KERNELS_SIMD_VEC_I_H
#define DYCE_KERNELS_SIMD_VEC_I_H

#include "vec.h"

#if defined(__clang__)
#pragma clang fp contract(off)
#endif

/* Before a loop: keep it one step per iteration. The int8 GEMMs' loops
 * are (q8_gemm.c): unrolled, clang hoisted every step's weight loads and
 * V8 then spilled the accumulators to the stack. */
#if defined(__clang__)
#define DYCE__NO_UNROLL _Pragma("clang loop unroll(disable)")
#else
#define DYCE__NO_UNROLL _Pragma("GCC unroll 1")
#endif

typedef int16_t dyce__vh __attribute__((vector_size(16)));
typedef int8_t dyce__vb __attribute__((vector_size(16)));
/* Unaligned, aliasing views of memory. */
typedef int8_t dyce__vb_mem __attribute__((vector_size(16), aligned(1), may_alias));
typedef int32_t dyce__vi_mem __attribute__((vector_size(16), aligned(1), may_alias));

static inline dyce__vh dyce__vh_splat(int16_t x) {
  dyce__vh v = {x, x, x, x, x, x, x, x};
  return v;
}
static inline dyce__vb dyce__vb_splat(int8_t x) {
  dyce__vb v = {x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x};
  return v;
}
static inline dyce__vb dyce__vb_load(const int8_t *p) {
  return *(const dyce__vb_mem *)(const void *)p;
}
static inline void dyce__vb_store(int8_t *p, dyce__vb v) {
  *(dyce__vb_mem *)(void *)p = v;
}

/* 8 int8 at p, sign-extended to 8 x i16. */
static inline dyce__vh dyce__vh_load8(const int8_t *p) {
#if defined(__wasm_simd128__)
  return (dyce__vh)wasm_i16x8_load8x8(p);
#elif defined(__SSE2__)
  __m128i v = _mm_loadl_epi64((const __m128i *)(const void *)p);
  return (dyce__vh)_mm_srai_epi16(_mm_unpacklo_epi8(v, v), 8);
#else
  dyce__vh v;
  for (int i = 0; i < 8; i++) v[i] = p[i];
  return v;
#endif
}

/* The low / high 8 bytes of v, sign-extended to 8 x i16. */
static inline dyce__vh dyce__vh_widen_lo(dyce__vb v) {
#if defined(__wasm_simd128__)
  return (dyce__vh)wasm_i16x8_extend_low_i8x16((v128_t)v);
#elif defined(__SSE2__)
  return (dyce__vh)_mm_srai_epi16(_mm_unpacklo_epi8((__m128i)v, (__m128i)v), 8);
#else
  dyce__vh r;
  for (int i = 0; i < 8; i++) r[i] = v[i];
  return r;
#endif
}
static inline dyce__vh dyce__vh_widen_hi(dyce__vb v) {
#if defined(__wasm_simd128__)
  return (dyce__vh)wasm_i16x8_extend_high_i8x16((v128_t)v);
#elif defined(__SSE2__)
  return (dyce__vh)_mm_srai_epi16(_mm_unpackhi_epi8((__m128i)v, (__m128i)v), 8);
#else
  dyce__vh r;
  for (int i = 0; i < 8; i++) r[i] = v[i + 8];
  return r;
#endif
}

/* The low / high 4 lanes of v, sign-extended to i32. */
static inline dyce__vi dyce__vi_widen_lo(dyce__vh v) {
#if defined(__wasm_simd128__)
  return (dyce__vi)wasm_i32x4_extend_low_i16x8((v128_t)v);
#elif defined(__SSE2__)
  return (dyce__vi)_mm_srai_epi32(_mm_unpacklo_epi16((__m128i)v, (__m128i)v), 16);
#else
  dyce__vi r = {v[0], v[1], v[2], v[3]};
  return r;
#endif
}
static inline dyce__vi dyce__vi_widen_hi(dyce__vh v) {
#if defined(__wasm_simd128__)
  return (dyce__vi)wasm_i32x4_extend_high_i16x8((v128_t)v);
#elif defined(__SSE2__)
  return (dyce__vi)_mm_srai_epi32(_mm_unpackhi_epi16((__m128i)v, (__m128i)v), 16);
#else
  dyce__vi r = {v[4], v[5], v[6], v[7]};
  return r;
#endif
}

/* (a0, b0, a1, b1, a2, b2, a3, b3) and the same of lanes 4-7. */
static inline dyce__vh dyce__vh_zip_lo(dyce__vh a, dyce__vh b) {
#if defined(__wasm_simd128__)
  return (dyce__vh)wasm_i16x8_shuffle((v128_t)a, (v128_t)b, 0, 8, 1, 9, 2, 10, 3, 11);
#elif defined(__SSE2__)
  return (dyce__vh)_mm_unpacklo_epi16((__m128i)a, (__m128i)b);
#else
  dyce__vh r = {a[0], b[0], a[1], b[1], a[2], b[2], a[3], b[3]};
  return r;
#endif
}
static inline dyce__vh dyce__vh_zip_hi(dyce__vh a, dyce__vh b) {
#if defined(__wasm_simd128__)
  return (dyce__vh)wasm_i16x8_shuffle((v128_t)a, (v128_t)b, 4, 12, 5, 13, 6, 14, 7, 15);
#elif defined(__SSE2__)
  return (dyce__vh)_mm_unpackhi_epi16((__m128i)a, (__m128i)b);
#else
  dyce__vh r = {a[4], b[4], a[5], b[5], a[6], b[6], a[7], b[7]};
  return r;
#endif
}

/* i32 lane j = a[2j] * b[2j] + a[2j+1] * b[2j+1]. */
static inline dyce__vi dyce__vi_dot(dyce__vh a, dyce__vh b) {
#if defined(__wasm_simd128__)
  return (dyce__vi)wasm_i32x4_dot_i16x8((v128_t)a, (v128_t)b);
#elif defined(__SSE2__)
  return (dyce__vi)_mm_madd_epi16((__m128i)a, (__m128i)b);
#else
  dyce__vi r;
  for (int j = 0; j < 4; j++)
    r[j] = (int32_t)a[2 * j] * b[2 * j] + (int32_t)a[2 * j + 1] * b[2 * j + 1];
  return r;
#endif
}

/* Lanes 2p and 2p+1 of x (one i32 lane) in every i32 lane; p a constant. */
#if defined(__wasm_simd128__)
#define DYCE__VH_PAIR(x, p) \
  ((dyce__vh)wasm_i32x4_shuffle((v128_t)(x), (v128_t)(x), p, p, p, p))
#elif defined(__SSE2__)
#define DYCE__VH_PAIR(x, p) \
  ((dyce__vh)_mm_shuffle_epi32((__m128i)(x), (p) * 0x55))
#else
#define DYCE__VH_PAIR(x, p) ((dyce__vh)dyce__vi_splat(((dyce__vi)(x))[p]))
#endif

/* The i16 pair at p (4 bytes) in every i32 lane: one v128.load32_splat
 * (a broadcast load under AVX) instead of a load and a lane shuffle. */
static inline dyce__vh dyce__vh_load_pair(const int16_t *p) {
#if defined(__wasm_simd128__)
  return (dyce__vh)wasm_v128_load32_splat(p);
#else
  int32_t x;
  memcpy(&x, p, 4);
  return (dyce__vh)dyce__vi_splat(x);
#endif
}
/* 8 x i16 at p, unaligned. */
static inline dyce__vh dyce__vh_load(const int16_t *p) {
  typedef int16_t mem __attribute__((vector_size(16), aligned(1), may_alias));
  return *(const mem *)(const void *)p;
}
static inline void dyce__vh_store(int16_t *p, dyce__vh v) {
  typedef int16_t mem __attribute__((vector_size(16), aligned(1), may_alias));
  *(mem *)(void *)p = v;
}

static inline dyce__vf dyce__vi_to_vf(dyce__vi v) {
  return __builtin_convertvector(v, dyce__vf);
}

/* Round half to even to int32; |v| <= 2^22 (the kernels clamp first). */
static inline dyce__vi dyce__vf_rne(dyce__vf v) {
#if defined(__wasm_simd128__)
  return (dyce__vi)wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest((v128_t)v));
#elif defined(__SSE2__)
  return (dyce__vi)_mm_cvtps_epi32((__m128)v); /* MXCSR: nearest even */
#else
  /* 1.5 * 2^23: the sum's ulp is 1, so the add rounds to even. */
  const dyce__vf magic = dyce__vf_splat(12582912.0f);
  dyce__vf r = v + magic;
  r = r - magic;
  return __builtin_convertvector(r, dyce__vi);
#endif
}

/* The output stage of docs/INT8.md, x already float(acc) * mult (or the
 * add's sum): clamp to [lo, hi] = [qmin - zp, qmax - zp], round half to
 * even, add zp. */
typedef struct dyce__q8_stage {
  dyce__vf lo, hi;
  dyce__vi zp;
} dyce__q8_stage;

/* 1.5 * 2^23 and its binary32 bits: x + magic (|x| <= 2^22) rounds x half
 * to even into the low mantissa bits (the sum's ulp is 1). */
#define DYCE__Q8_MAGIC 12582912.0f
#define DYCE__Q8_MAGIC_BITS 0x4B400000

static inline dyce__q8_stage dyce__q8_stage_of(int32_t zp, int32_t qmin,
                                               int32_t qmax) {
#if defined(__wasm_simd128__)
  const int32_t z = DYCE__Q8_MAGIC_BITS - zp; /* subtracted from the bits */
#else
  const int32_t z = zp;
#endif
  dyce__q8_stage s = {dyce__vf_splat((float)(qmin - zp)),
                      dyce__vf_splat((float)(qmax - zp)), dyce__vi_splat(z)};
  return s;
}

/* Under WebAssembly the magic-number rounding (one f32 add, one i32
 * subtract that also adds zp) replaces f32x4.nearest and
 * i32x4.trunc_sat_f32x4_s, which V8 lowers to several x64 instructions;
 * the same integer for every clamped x (|x| <= 255). */
static inline dyce__vi dyce__q8_finish(dyce__vf x, const dyce__q8_stage *s) {
  x = dyce__vf_min(dyce__vf_max(x, s->lo), s->hi);
#if defined(__wasm_simd128__)
  return (dyce__vi)(x + dyce__vf_splat(DYCE__Q8_MAGIC)) - s->zp;
#else
  return dyce__vf_rne(x) + s->zp;
#endif
}

/* out = clamp(rne(float(acc) * mult) + zp): one binary32 multiply. */
static inline dyce__vi dyce__vi_requant(dyce__vi acc, dyce__vf mult,
                                        const dyce__q8_stage *s) {
  dyce__vf x = dyce__vi_to_vf(acc);
  x = x * mult;
  return dyce__q8_finish(x, s);
}

/* Two vectors of int32 in -128..127 to 8 int8 at p (n <= 8 of them). */
static inline void dyce__vi_store8(int8_t *p, dyce__vi a, dyce__vi b,
                                   size_t n) {
#if defined(__wasm_simd128__)
  v128_t h = wasm_i16x8_narrow_i32x4((v128_t)a, (v128_t)b);
  v128_t q = wasm_i8x16_narrow_i16x8(h, h);
  if (n == 8) {
    wasm_v128_store64_lane(p, q, 0);
    return;
  }
  int8_t t[16];
  wasm_v128_store(t, q);
  memcpy(p, t, n);
#elif defined(__SSE2__)
  __m128i h = _mm_packs_epi32((__m128i)a, (__m128i)b);
  __m128i q = _mm_packs_epi16(h, h);
  if (n == 8) {
    _mm_storel_epi64((__m128i *)(void *)p, q);
    return;
  }
  int8_t t[16];
  _mm_storeu_si128((__m128i *)(void *)t, q);
  memcpy(p, t, n);
#else
  for (size_t i = 0; i < n; i++) p[i] = (int8_t)(i < 4 ? a[i] : b[i - 4]);
#endif
}

/* Two vectors of int32 in -128..127 to 4 int8 each, a's at p and b's at
 * q (n <= 4 of them). */
static inline void dyce__vi_store4x2(int8_t *p, int8_t *q, dyce__vi a,
                                     dyce__vi b, size_t n) {
#if defined(__wasm_simd128__)
  v128_t h = wasm_i16x8_narrow_i32x4((v128_t)a, (v128_t)b);
  v128_t v = wasm_i8x16_narrow_i16x8(h, h);
  if (n == 4) {
    wasm_v128_store32_lane(p, v, 0);
    wasm_v128_store32_lane(q, v, 1);
    return;
  }
#elif defined(__SSE2__)
  __m128i h = _mm_packs_epi32((__m128i)a, (__m128i)b);
  __m128i v = _mm_packs_epi16(h, h);
  if (n == 4) {
    int32_t x = _mm_cvtsi128_si32(v), y = _mm_cvtsi128_si32(_mm_srli_si128(v, 4));
    memcpy(p, &x, 4), memcpy(q, &y, 4);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++) p[i] = (int8_t)a[i], q[i] = (int8_t)b[i];
}

/* The first n < 8 int8 at p, the other lanes `fill`, as 8 x i16 (a
 * loop, not memcpy: under WebAssembly that is a call per tail). */
static inline dyce__vh dyce__vh_load8_partial(const int8_t *p, size_t n,
                                              int8_t fill) {
  dyce__vh v = dyce__vh_splat(fill);
  for (size_t i = 0; i < n; i++) v[i] = p[i];
  return v;
}

/* Lane-wise int8 max / min (SSE2 has only the unsigned byte ones). */
static inline dyce__vb dyce__vb_max(dyce__vb a, dyce__vb b) {
#if defined(__wasm_simd128__)
  return (dyce__vb)wasm_i8x16_max((v128_t)a, (v128_t)b);
#elif defined(__SSE2__)
  const __m128i flip = _mm_set1_epi8((char)0x80);
  return (dyce__vb)_mm_xor_si128(
      _mm_max_epu8(_mm_xor_si128((__m128i)a, flip), _mm_xor_si128((__m128i)b, flip)), flip);
#else
  dyce__vb gt = (dyce__vb)(a > b);
  return (a & gt) | (b & ~gt);
#endif
}
static inline dyce__vb dyce__vb_min(dyce__vb a, dyce__vb b) {
#if defined(__wasm_simd128__)
  return (dyce__vb)wasm_i8x16_min((v128_t)a, (v128_t)b);
#elif defined(__SSE2__)
  const __m128i flip = _mm_set1_epi8((char)0x80);
  return (dyce__vb)_mm_xor_si128(
      _mm_min_epu8(_mm_xor_si128((__m128i)a, flip), _mm_xor_si128((__m128i)b, flip)), flip);
#else
  dyce__vb lt = (dyce__vb)(a < b);
  return (a & lt) | (b & ~lt);
#endif
}

#endif /* DYCE_KERNELS_SIMD_VEC_I_H */
