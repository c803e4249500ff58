/*
 * Fused activations for the SIMD kernels. Relu, clip and "none" are a
 * clamp [lo, hi] that the microkernels apply to their registers before
 * storing; every other activation is applied afterwards to the stored
 * output by dyce__simd_activate. The elementwise and pooling kernels
 * apply any activation in registers (dyce__vf_activate). Every one is
 * vectorised, exp-based ones through dyce__vf_exp_nonpositive.
 */
#ifndef DYCE_KERNELS_SIMD_ACTIVATION_H
#define DYCE_KERNELS_SIMD_ACTIVATION_H

#include <math.h>

#include "../activation.h"
#include "../kernels.h"
#include "vec.h"

typedef struct dyce__clamp {
  dyce__vf lo, hi;
} dyce__clamp;

/* The clamp a kernel applies in registers; *rest says whether a pass of
 * dyce__simd_activate must follow. */
static inline dyce__clamp dyce__simd_clamp(dyce__activation act, int *rest) {
  float lo = -INFINITY, hi = INFINITY;
  *rest = 0;
  switch (act.act) {
    case DYCE__ACT_NONE: break;
    case DYCE__ACT_RELU: lo = 0.0f; break;
    case DYCE__ACT_CLIP: lo = act.a; hi = act.b; break;
    default: *rest = 1; break;
  }
  dyce__clamp c = {dyce__vf_splat(lo), dyce__vf_splat(hi)};
  return c;
}

static inline dyce__vf dyce__clamp_apply(dyce__clamp c, dyce__vf v) {
  return dyce__vf_min(dyce__vf_max(v, c.lo), c.hi);
}

/* exp(z) for z <= 0 (every caller passes -|x|), within ~1.5 ulp of expf
 * down to z = -87 and 0 below (where expf is near or under FLT_MIN):
 * z = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, Cody-Waite), e^r
 * by a degree-5 polynomial fitted for least maximum relative error on
 * that interval (1.7e-7 evaluated in float), 2^n put into the exponent
 * bits. Below -87 n leaves the exponent's range and the result is
 * garbage, which the final mask turns into 0, so z needs no clamp. A
 * scalar expf per element took three quarters of EfficientNet-B0's time
 * (SiLU after nearly every convolution: 123.8 ms before, 32 after). */
static inline dyce__vf dyce__vf_exp_nonpositive(dyce__vf z) {
  const dyce__vf magic = dyce__vf_splat(12582912.0f); /* 1.5 * 2^23 */
  dyce__vf t = dyce__vf_madd(magic, z, dyce__vf_splat(1.44269504f));
  dyce__vf n = t - magic; /* round(z / ln2) */
  dyce__vf r = dyce__vf_madd(z, n, dyce__vf_splat(-0.693145752f));
  r = dyce__vf_madd(r, n, dyce__vf_splat(-1.42860677e-6f));
  dyce__vf p = dyce__vf_splat(0.00829031f);
  p = dyce__vf_madd(dyce__vf_splat(0.04189793f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(0.16667636f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(0.4999915f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(0.9999997f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(1.0f), p, r);
  /* The low mantissa bits of t hold n: shifted into the exponent field
   * (the constant's own bits shift out) and biased, they make 2^n.
   * Unsigned: below -87 this wraps, which is defined, and masked below. */
  typedef uint32_t vu __attribute__((vector_size(16)));
  vu scale = ((vu)t << 23) + (vu)dyce__vf_splat(1.0f);
  return (dyce__vf)((dyce__vi)(p * (dyce__vf)scale) &
                    (dyce__vi)(z > dyce__vf_splat(-87.0f)));
}

/* -|x|: the sign bit set. */
static inline dyce__vf dyce__vf_neg_abs(dyce__vf x) {
  return (dyce__vf)((dyce__vi)x | dyce__vi_splat((int32_t)0x80000000u));
}

static inline dyce__vf dyce__vf_abs(dyce__vf x) {
  return (dyce__vf)((dyce__vi)x & dyce__vi_splat(0x7fffffff));
}

/* 1 / (1 + e^-x) without overflow: e = e^-|x|, then 1 / (1 + e) for
 * x >= 0 and e / (1 + e) below (one division: the numerator is chosen). */
static inline dyce__vf dyce__vf_sigmoid(dyce__vf x) {
  dyce__vf one = dyce__vf_splat(1.0f);
  dyce__vf e = dyce__vf_exp_nonpositive(dyce__vf_neg_abs(x));
  return dyce__vf_select(x < dyce__vf_zero(), e, one) / (one + e);
}

/* tanh x = sign(x) (1 - e) / (1 + e) with e = e^-2|x|; below |x| = 0.3
 * that difference loses digits, so its odd Taylor series (to x^11,
 * error < 6e-10) is used there. */
static inline dyce__vf dyce__vf_tanh(dyce__vf x) {
  dyce__vf a = dyce__vf_abs(x);
  dyce__vf e = dyce__vf_exp_nonpositive(dyce__vf_neg_abs(x + x));
  dyce__vf big = (dyce__vf_splat(1.0f) - e) / (dyce__vf_splat(1.0f) + e);
  dyce__vf x2 = x * x, p = dyce__vf_splat(-1382.0f / 155925.0f);
  p = dyce__vf_madd(dyce__vf_splat(62.0f / 2835.0f), p, x2);
  p = dyce__vf_madd(dyce__vf_splat(-17.0f / 315.0f), p, x2);
  p = dyce__vf_madd(dyce__vf_splat(2.0f / 15.0f), p, x2);
  p = dyce__vf_madd(dyce__vf_splat(-1.0f / 3.0f), p, x2);
  dyce__vf small = dyce__vf_madd(x, x * x2, p);
  dyce__vf sign = (dyce__vf)((dyce__vi)x & dyce__vi_splat((int32_t)0x80000000u));
  big = (dyce__vf)((dyce__vi)big | (dyce__vi)sign);
  return dyce__vf_select(a < dyce__vf_splat(0.3f), small, big);
}

/* One vector through any activation (the loader has validated `act`). */
static inline dyce__vf dyce__vf_activate(dyce__activation act, dyce__vf x) {
  dyce__vf zero = dyce__vf_zero(), one = dyce__vf_splat(1.0f);
  switch (act.act) {
    case DYCE__ACT_NONE: return x;
    case DYCE__ACT_RELU: return dyce__vf_max(x, zero);
    case DYCE__ACT_CLIP:
      return dyce__vf_min(dyce__vf_max(x, dyce__vf_splat(act.a)),
                          dyce__vf_splat(act.b));
    case DYCE__ACT_HARD_SIGMOID: {
      dyce__vf y = dyce__vf_madd(dyce__vf_splat(act.b), x, dyce__vf_splat(act.a));
      return dyce__vf_min(dyce__vf_max(y, zero), one);
    }
    case DYCE__ACT_HARD_SWISH: {
      dyce__vf r = dyce__vf_min(dyce__vf_max(x + dyce__vf_splat(3.0f), zero),
                                dyce__vf_splat(6.0f));
      return x * r * dyce__vf_splat(1.0f / 6.0f);
    }
    case DYCE__ACT_LEAKY_RELU:
      return dyce__vf_select(x < zero, x * dyce__vf_splat(act.a), x);
    case DYCE__ACT_SIGMOID: return dyce__vf_sigmoid(x);
    case DYCE__ACT_SILU: return x * dyce__vf_sigmoid(x);
    case DYCE__ACT_TANH: return dyce__vf_tanh(x);
  }
  return x;
}

/* Applies `act` in place to n floats. */
void dyce__simd_activate(dyce__activation act, float *x, size_t n);

#endif /* DYCE_KERNELS_SIMD_ACTIVATION_H */
