/*
 * Fused activations for the SIMD kernels. Relu, clip and "none" are a
 * clamp [lo, hi] that the microkernels apply to their registers before
 * storing; every other activation is applied afterwards to the stored
 * output by dyce__simd_activate (vectorised where it is arithmetic, the
 * scalar definition from ../activation.h where it needs exp or tanh).
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

/* One vector through any activation that is plain arithmetic; returns 0
 * (leaving *v alone) for those that need exp or tanh. */
static inline int dyce__vf_activate(dyce__activation act, dyce__vf *v) {
  dyce__vf x = *v, zero = dyce__vf_zero(), one = dyce__vf_splat(1.0f);
  switch (act.act) {
    case DYCE__ACT_NONE: return 1;
    case DYCE__ACT_RELU: *v = dyce__vf_max(x, zero); return 1;
    case DYCE__ACT_CLIP:
      *v = dyce__vf_min(dyce__vf_max(x, dyce__vf_splat(act.a)),
                        dyce__vf_splat(act.b));
      return 1;
    case DYCE__ACT_HARD_SIGMOID: {
      dyce__vf y = dyce__vf_madd(dyce__vf_splat(act.b), x, dyce__vf_splat(act.a));
      *v = dyce__vf_min(dyce__vf_max(y, zero), one);
      return 1;
    }
    case DYCE__ACT_HARD_SWISH: {
      dyce__vf r = dyce__vf_min(dyce__vf_max(x + dyce__vf_splat(3.0f), zero),
                                dyce__vf_splat(6.0f));
      *v = x * r * dyce__vf_splat(1.0f / 6.0f);
      return 1;
    }
    case DYCE__ACT_LEAKY_RELU:
      *v = dyce__vf_select(x < zero, x * dyce__vf_splat(act.a), x);
      return 1;
    default: return 0;
  }
}

/* Applies `act` in place to n floats. */
void dyce__simd_activate(dyce__activation act, float *x, size_t n);

#endif /* DYCE_KERNELS_SIMD_ACTIVATION_H */
