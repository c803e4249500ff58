/*
 * Fused activations for the SIMD kernels. Relu, clip and "none" are a
 * clamp [lo, hi] that the microkernels apply to their registers before
 * storing; every other activation is applied afterwards to the stored
 * output by dyce__simd_activate. The elementwise and pooling kernels
 * apply any activation in registers (dyce__vf_activate). Every one is
 * vectorised, exp-based ones through dyce__vf_exp_nonpositive; abs, sqrt
 * and 1/x give the reference's bits, exp and log are within 1 ulp of
 * expf and logf (lanes outside the polynomials' range take those).
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

typedef uint32_t dyce__vu __attribute__((vector_size(16)));

/* z = n ln2 + r with |r| <= ln2 / 2 (ln2 in two parts, Cody-Waite; n ln2's
 * high part is exact): r, and 2^n put into the exponent bits (the low
 * mantissa bits of t hold n: shifted into the exponent field, the
 * constant's own bits shifting out, and biased). Unsigned: where n leaves
 * -126 .. 127 this wraps, which is defined; callers mask or avoid it. */
static inline dyce__vf dyce__vf_exp_reduce(dyce__vf z, dyce__vf *r) {
  const dyce__vf magic = dyce__vf_splat(12582912.0f); /* 1.5 * 2^23 */
  dyce__vf t = dyce__vf_madd(magic, z, dyce__vf_splat(1.44269504f));
  dyce__vf n = t - magic; /* round(z / ln2) */
  *r = dyce__vf_madd(z, n, dyce__vf_splat(-0.693145752f));
  *r = dyce__vf_madd(*r, n, dyce__vf_splat(-1.42860677e-6f));
  return (dyce__vf)(((dyce__vu)t << 23) + (dyce__vu)dyce__vf_splat(1.0f));
}

/* exp(z) for z <= 0 (every caller passes -|x|), within ~1.5 ulp of expf
 * down to z = -87 and 0 below (where expf is near or under FLT_MIN):
 * dyce__vf_exp_reduce, then e^r by a degree-5 polynomial fitted for least
 * maximum relative error on |r| <= ln2 / 2 (1.7e-7 evaluated in float).
 * Below -87 n leaves the exponent's range and the result is garbage,
 * which the final mask turns into 0, so z needs no clamp. A scalar expf
 * per element took three quarters of EfficientNet-B0's time (SiLU after
 * nearly every convolution: 123.8 ms before, 32 after). */
static inline dyce__vf dyce__vf_exp_nonpositive(dyce__vf z) {
  dyce__vf r, scale = dyce__vf_exp_reduce(z, &r);
  dyce__vf p = dyce__vf_splat(0.00829031f);
  p = dyce__vf_madd(dyce__vf_splat(0.04189793f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(0.16667636f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(0.4999915f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(0.9999997f), p, r);
  p = dyce__vf_madd(dyce__vf_splat(1.0f), p, r);
  return (dyce__vf)((dyce__vi)(p * scale) & (dyce__vi)(z > dyce__vf_splat(-87.0f)));
}

/* e^x anywhere (the exp activation): inside (-87, 88), where 2^n is a
 * normal float, dyce__vf_exp_reduce and e^r by its Taylor series to r^7
 * (truncation < 6e-9 relative): within 1 ulp of expf. Outside (overflow
 * to inf, results below FLT_MIN, NaN) expf lane by lane. */
static inline dyce__vf dyce__vf_exp(dyce__vf x) {
  static const float c[] = {1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6,
                            0.5f, 1.0f, 1.0f};
  dyce__vi in = (x > dyce__vf_splat(-87.0f)) & (x < dyce__vf_splat(88.0f));
  dyce__vf r, scale = dyce__vf_exp_reduce(dyce__vf_select(in, x, dyce__vf_zero()), &r);
  dyce__vf p = dyce__vf_splat(1.0f / 5040);
  for (int i = 0; i < 7; i++) p = dyce__vf_madd(dyce__vf_splat(c[i]), p, r);
  dyce__vf y = p * scale;
  for (int i = 0; i < DYCE__VF_LANES; i++)
    if (!in[i]) y[i] = expf(x[i]);
  return y;
}

/* ln x for a normal x > 0 (the log activation), as fdlibm's logf: x = 2^k
 * m with m in [sqrt(1/2), sqrt 2) read from the bits, f = m - 1 (exact),
 * s = f / (2 + f), ln m = f - (f^2/2 - s (f^2/2 + R)) with R = 2 s^2 / 3 +
 * 2 s^4 / 5 + ... to s^10 (|s| < 0.1716: truncation < 4e-9), k ln2 added
 * in two parts: within 1 ulp of logf. Zero, negatives, subnormals,
 * infinities and NaN take logf lane by lane. */
static inline dyce__vf dyce__vf_log(dyce__vf x) {
  static const float c[] = {2.0f / 9, 2.0f / 7, 2.0f / 5, 2.0f / 3};
  dyce__vi bits = (dyce__vi)x;
  dyce__vi in = (bits >= dyce__vi_splat(0x00800000)) &
                (bits < dyce__vi_splat(0x7f800000));
  dyce__vu safe = (dyce__vu)dyce__vf_select(in, x, dyce__vf_splat(1.0f));
  dyce__vi k = (dyce__vi)(safe - 0x3f3504f3u) >> 23; /* x = 2^k m */
  dyce__vf f = (dyce__vf)(safe - ((dyce__vu)k << 23)) - dyce__vf_splat(1.0f);
  dyce__vf s = f / (dyce__vf_splat(2.0f) + f), z = s * s;
  dyce__vf R = dyce__vf_splat(2.0f / 11);
  for (int i = 0; i < 4; i++) R = dyce__vf_madd(dyce__vf_splat(c[i]), R, z);
  dyce__vf hfsq = dyce__vf_splat(0.5f) * f * f;
  dyce__vf kf = __builtin_convertvector(k, dyce__vf);
  dyce__vf lo = dyce__vf_madd(s * (hfsq + R * z), kf, dyce__vf_splat(1.42860677e-6f));
  dyce__vf y = dyce__vf_madd(f - (hfsq - lo), kf, dyce__vf_splat(0.693145752f));
  for (int i = 0; i < DYCE__VF_LANES; i++)
    if (!in[i]) y[i] = logf(x[i]);
  return y;
}

/* -|x|: the sign bit set. */
static inline dyce__vf dyce__vf_neg_abs(dyce__vf x) {
  return (dyce__vf)((dyce__vi)x | dyce__vi_splat((int32_t)0x80000000u));
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

/* e^x - 1 for x <= 0: its Taylor series to x^9 (error < 3e-10 relative)
 * above -0.5, where e^x - 1 would cancel digits; e^x - 1 below. */
static inline dyce__vf dyce__vf_expm1_nonpositive(dyce__vf x) {
  dyce__vf p = dyce__vf_splat(1.0f / 362880.0f);
  static const float c[] = {1.0f / 40320.0f, 1.0f / 5040.0f, 1.0f / 720.0f,
                            1.0f / 120.0f, 1.0f / 24.0f, 1.0f / 6.0f, 0.5f};
  for (int i = 0; i < 7; i++) p = dyce__vf_madd(dyce__vf_splat(c[i]), p, x);
  dyce__vf small = dyce__vf_madd(x, x * x, p);
  dyce__vf big = dyce__vf_exp_nonpositive(x) - dyce__vf_splat(1.0f);
  return dyce__vf_select(x > dyce__vf_splat(-0.5f), small, big);
}

/* ln(1 + e) for 0 <= e <= 1 as 2 atanh(s), s = e / (2 + e) <= 1/3: the
 * odd series of atanh to s^17 (error < 2e-9 relative). No cancellation
 * anywhere, so it stays relative-accurate as e goes to 0. */
static inline dyce__vf dyce__vf_log1p_unit(dyce__vf e) {
  dyce__vf s = e / (dyce__vf_splat(2.0f) + e), s2 = s * s;
  dyce__vf p = dyce__vf_splat(1.0f / 17.0f);
  for (int k = 15; k >= 1; k -= 2)
    p = dyce__vf_madd(dyce__vf_splat(1.0f / (float)k), p, s2);
  return (s + s) * p;
}

/* x (1 + erf(x / sqrt 2)) / 2 = x (1 - h) for x >= 0 and x h below, with
 * h = erfc(|x| / sqrt 2) / 2, so no branch cancels. erfc(z) = t e^(-z^2 +
 * P(t)), t = 1 / (1 + z/2), is the Chebyshev fit of Numerical Recipes
 * (erfcc, relative error < 1.2e-7 everywhere). z^2 = x^2 / 2 is split as
 * glibc's erfcf does: x = hi + lo with hi's low 12 mantissa bits cleared,
 * so hi^2 / 2 is exact and e^(-z^2) = e^(-hi^2/2) e^(-lo (x + hi)/2); a
 * rounded z^2 would cost |z|^2 ulp far out in the tail. */
static inline dyce__vf dyce__vf_gelu(dyce__vf x) {
  static const float c[] = {-0.82215223f, 1.48851587f, -1.13520398f,
                            0.27886807f,  -0.18628806f, 0.09678418f,
                            0.37409196f,  1.00002368f, -1.26551223f};
  dyce__vf one = dyce__vf_splat(1.0f), half = dyce__vf_splat(0.5f);
  dyce__vf a = dyce__vf_abs(x);
  dyce__vf t = one / dyce__vf_madd(one, a, dyce__vf_splat(0.353553391f));
  dyce__vf p = dyce__vf_splat(0.17087277f);
  for (int i = 0; i < 9; i++) p = dyce__vf_madd(dyce__vf_splat(c[i]), p, t);
  dyce__vf hi = (dyce__vf)((dyce__vi)a & dyce__vi_splat((int32_t)0xfffff000u));
  dyce__vf lo = a - hi;
  dyce__vf e1 = dyce__vf_exp_nonpositive(-(hi * hi) * half);
  dyce__vf e2 = dyce__vf_exp_nonpositive(
      dyce__vf_min(p - lo * (a + hi) * half, dyce__vf_zero()));
  dyce__vf h = half * t * e1 * e2;
  return dyce__vf_select(x < dyce__vf_zero(), x * h, x - x * h);
}

/* One vector through any activation (the loader has validated `act`).
 * Always inlined: a loop that knows act.act (DYCE__ACT_SPECIALISE) keeps
 * only its case; elsewhere dyce__vf_activate is the plain call. */
static inline __attribute__((always_inline)) dyce__vf
dyce__vf_activate_inline(dyce__activation act, dyce__vf x) {
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
    case DYCE__ACT_GELU: return dyce__vf_gelu(x);
    case DYCE__ACT_GELU_TANH: /* (1 + tanh u) / 2 = sigmoid(2u) */
      return x * dyce__vf_sigmoid(
                     x * dyce__vf_madd(dyce__vf_splat(1.59576912f), x * x,
                                       dyce__vf_splat(0.0713548162f)));
    case DYCE__ACT_ELU:
      return dyce__vf_select(
          x > zero, x,
          dyce__vf_splat(act.a) * dyce__vf_expm1_nonpositive(dyce__vf_min(x, zero)));
    case DYCE__ACT_SOFTPLUS:
      return dyce__vf_max(x, zero) +
             dyce__vf_log1p_unit(dyce__vf_exp_nonpositive(dyce__vf_neg_abs(x)));
    case DYCE__ACT_ABS: return dyce__vf_abs(x);
    case DYCE__ACT_SQRT: return dyce__vf_sqrt(x);
    case DYCE__ACT_EXP: return dyce__vf_exp(x);
    case DYCE__ACT_LOG: return dyce__vf_log(x);
    case DYCE__ACT_RECIPROCAL: return one / x;
  }
  return x;
}

static inline dyce__vf dyce__vf_activate(dyce__activation act, dyce__vf x) {
  return dyce__vf_activate_inline(act, x);
}

/* Runs the statement once with act.act set to the constant of its case,
 * so that the dyce__vf_activate_inline calls in its loop keep only that
 * case (one dispatch per span instead of a call and a switch per
 * vector). */
#define DYCE__ACT_CASE(act, k, ...) \
  case k: (act).act = k; __VA_ARGS__; break;
#define DYCE__ACT_SPECIALISE(act, ...)                                  \
  switch ((act).act) {                                                  \
    DYCE__ACT_CASE(act, DYCE__ACT_NONE, __VA_ARGS__)                    \
    DYCE__ACT_CASE(act, DYCE__ACT_RELU, __VA_ARGS__)                    \
    DYCE__ACT_CASE(act, DYCE__ACT_CLIP, __VA_ARGS__)                    \
    DYCE__ACT_CASE(act, DYCE__ACT_HARD_SIGMOID, __VA_ARGS__)            \
    DYCE__ACT_CASE(act, DYCE__ACT_HARD_SWISH, __VA_ARGS__)              \
    DYCE__ACT_CASE(act, DYCE__ACT_LEAKY_RELU, __VA_ARGS__)              \
    DYCE__ACT_CASE(act, DYCE__ACT_SIGMOID, __VA_ARGS__)                 \
    DYCE__ACT_CASE(act, DYCE__ACT_SILU, __VA_ARGS__)                    \
    DYCE__ACT_CASE(act, DYCE__ACT_GELU, __VA_ARGS__)                    \
    DYCE__ACT_CASE(act, DYCE__ACT_GELU_TANH, __VA_ARGS__)               \
    default: __VA_ARGS__; break;                                        \
  }

/* Applies `act` in place to n floats. */
void dyce__simd_activate(dyce__activation act, float *x, size_t n);

#endif /* DYCE_KERNELS_SIMD_ACTIVATION_H */
