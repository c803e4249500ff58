/* What the int8 kernel tests (test_q8_kernels.c, test_q8_xnnpack.c)
 * share: convolution cases, random int8 data and the spec's formulas. */
#ifndef DYCE_TEST_Q8_H
#define DYCE_TEST_Q8_H

#include <math.h>
#include <stdlib.h>

#include "kernels/kernels.h"
#include "test.h"

/* A convolution; act_in / act_out: a width level's active channels
 * (0: all). Depthwise when groups == cin == cout. */
typedef struct q8_conv_spec {
  uint32_t h, w, cin, cout, groups, kh, kw, stride, pad, dil;
  uint32_t act_in, act_out;
  int32_t in_zp, out_zp, qmin, qmax;
} q8_conv_spec;

static inline dyce__window q8_window(const q8_conv_spec *s, int active) {
  dyce__window g = {.in_h = s->h, .in_w = s->w, .in_c = s->cin,
                    .out_c = s->cout, .kh = s->kh, .kw = s->kw,
                    .sh = s->stride, .sw = s->stride, .dh = s->dil,
                    .dw = s->dil, .pad_t = s->pad, .pad_l = s->pad,
                    .groups = s->groups, .packed_in_c = s->cin,
                    .packed_out_c = s->cout, .packed_groups = s->groups};
  g.out_h = (s->h + 2 * s->pad - s->dil * (s->kh - 1) - 1) / s->stride + 1;
  g.out_w = (s->w + 2 * s->pad - s->dil * (s->kw - 1) - 1) / s->stride + 1;
  if (active && s->act_in) {
    int dw = s->groups == s->cin && s->groups > 1;
    g.in_c = s->act_in;
    g.out_c = dw ? s->act_in : s->act_out;
    g.groups = dw ? s->act_in : 1;
  }
  return g;
}

static inline int8_t *q8_rand(size_t n, int lo, int hi) {
  int8_t *p = malloc(n ? n : 1);
  for (size_t i = 0; i < n; i++)
    p[i] = (int8_t)(lo + (int)(test_rand() % (unsigned)(hi - lo + 1)));
  return p;
}

/* Round half to even by hand (not nearbyintf: the reference uses that). */
static inline double q8_rne(double v) {
  double f = floor(v), d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return fmod(f, 2.0) == 0.0 ? f : f + 1;
}

/* clamp(rne(v) + zp, qmin, qmax), v a binary32 value. */
static inline int8_t q8_spec_out(float v, int32_t zp, int32_t qmin,
                                 int32_t qmax) {
  double r = q8_rne((double)v) + zp;
  return (int8_t)(r < qmin ? qmin : (r > qmax ? qmax : r));
}

/* Per-channel multipliers that spread the outputs over the int8 range
 * and past it both ways; every 5th channel 0.5 and every 7th 2^-8, so
 * exact ties (x.5) occur and must round to even. */
static inline float *q8_mults(size_t n, size_t k) {
  float *m = malloc((n ? n : 1) * sizeof(float));
  float base = 90.0f / (128.0f * 73.0f * sqrtf((float)k));
  for (size_t i = 0; i < n; i++) {
    m[i] = base * (0.25f + 3.0f * (float)(test_rand() % 1000u) / 1000.0f);
    if (i % 5 == 0) m[i] = 0.5f;
    if (i % 7 == 3) m[i] = 1.0f / 256.0f;
  }
  return m;
}

/* The cases of test_q8_misc.c, test_q8_xnnpack.c and test_q8_winograd.c. */
void q8_test_binary(void);
void q8_test_pools(void);
void q8_test_lut_quantize_moves(void);
void q8_test_xnnpack_conv(void);
void q8_test_xnnpack_fc(void);
void q8_test_winograd(void);

#endif
