/* LayerNorm over each pixel's (or token's) channels, the pixelwise
 * group_norm of ViT, Swin and ConvNeXt blocks, 4 channels at a time with
 * the reference's arithmetic: sums, mean, deviations and the affine
 * step in double (two f64 lanes per half vector), the result rounded to
 * float and activated in registers. Only the order of the sums differs
 * from the reference (four partial sums). The reference took 1.66x
 * onnxruntime-web's time on ConvNeXt's 56x56x96 LayerNorm: three scalar
 * passes per pixel and a switch on the activation per element. GroupNorm
 * over whole maps stays the reference's (memory-bound passes). */
#include <math.h>

#include "../ref/ref.h"
#include "simd.h"

typedef double dyce__vd __attribute__((vector_size(16)));
typedef float dyce__vf2 __attribute__((vector_size(8)));

/* Lanes 0-1 / 2-3 widened (f64x2.promote_low_f32x4, cvtps2pd). */
static inline dyce__vd lo_half(dyce__vf v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1), dyce__vd);
}
static inline dyce__vd hi_half(dyce__vf v) {
  return __builtin_convertvector(__builtin_shufflevector(v, v, 2, 3), dyce__vd);
}

/* Two double pairs rounded to one float vector. */
static inline dyce__vf narrow(dyce__vd a, dyce__vd b) {
  dyce__vf2 x = __builtin_convertvector(a, dyce__vf2);
  dyce__vf2 y = __builtin_convertvector(b, dyce__vf2);
  return __builtin_shufflevector(x, y, 0, 1, 2, 3);
}

/* Mean and 1 / sqrt(var + eps) of the n floats at x (n % 4 == 0). */
static void stats(size_t n, float eps, const float *x, double *mean,
                  double *rstd) {
  dyce__vd s0 = {0, 0}, s1 = {0, 0};
  for (size_t k = 0; k < n; k += 4) {
    dyce__vf v = dyce__vf_load(x + k);
    s0 += lo_half(v);
    s1 += hi_half(v);
  }
  dyce__vd s = s0 + s1;
  double m = (s[0] + s[1]) / (double)n;
  dyce__vd mv = {m, m}, q0 = {0, 0}, q1 = {0, 0};
  for (size_t k = 0; k < n; k += 4) {
    dyce__vf v = dyce__vf_load(x + k);
    dyce__vd d0 = lo_half(v) - mv, d1 = hi_half(v) - mv;
    q0 += d0 * d0;
    q1 += d1 * d1;
  }
  dyce__vd q = q0 + q1;
  *mean = m;
  *rstd = 1.0 / sqrt((q[0] + q[1]) / (double)n + (double)eps);
}

void dyce__simd_group_norm(size_t hw, size_t c, size_t groups, int pixelwise,
                           float eps, const float *in, const float *gamma,
                           const float *beta, dyce__activation act,
                           float *out) {
  size_t cg = c / groups;
  if (!pixelwise || cg % 4) {
    dyce__ref_group_norm(hw, c, groups, pixelwise, eps, in, gamma, beta, act, out);
    return;
  }
  DYCE__ACT_SPECIALISE(act, {
    for (size_t i = 0; i < hw; i++)
      for (size_t k0 = 0; k0 < c; k0 += cg) {
        const float *x = in + i * c + k0;
        float *y = out + i * c + k0;
        double mean, rstd;
        stats(cg, eps, x, &mean, &rstd);
        dyce__vd mv = {mean, mean}, rv = {rstd, rstd};
        for (size_t k = 0; k < cg; k += 4) {
          dyce__vf v = dyce__vf_load(x + k), g = dyce__vf_load(gamma + k0 + k);
          dyce__vf b = dyce__vf_load(beta + k0 + k);
          /* As the reference: a = rstd * gamma, (x - mean) * a + beta. */
          dyce__vd y0 = (lo_half(v) - mv) * (rv * lo_half(g)) + lo_half(b);
          dyce__vd y1 = (hi_half(v) - mv) * (rv * hi_half(g)) + hi_half(b);
          dyce__vf_store(y + k, dyce__vf_activate_inline(act, narrow(y0, y1)));
        }
      }
  })
}
