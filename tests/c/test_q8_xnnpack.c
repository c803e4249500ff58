/* XNNPACK (Debian's libxnnpack, native test builds) as a second oracle
 * for the int8 convolution (dense, depthwise; qs8 with one kernel scale
 * and qc8 with one per output channel) and fully connected kernels: the
 * SIMD table's output must equal XNNPACK's, whose fp32 requantization
 * docs/INT8.md follows (multiplier (in_scale * kernel_scale) / out_scale,
 * one binary32 multiply, round half to even). */
#if defined(DYCE_XNNPACK) || defined(DYCE_XNNPACK_ORACLE)
#include <stdio.h>
#include <string.h>
#include <xnnpack.h>

#include "test_q8.h"

typedef struct xnn_tally {
  size_t outputs, differ, worst;
} xnn_tally;

static void tally(xnn_tally *t, const int8_t *a, const int8_t *b, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t d = (size_t)abs(a[i] - b[i]);
    t->outputs++, t->differ += d != 0;
    if (d > t->worst) t->worst = d;
  }
}

/* Scales: kscale[oc] (one value unless per_channel), out_scale so that
 * the multipliers land where test_q8.h's do; `ties`: in 0.5, k 1, out 1. */
static float *xnn_scales(size_t n, size_t k, int per_channel, int ties,
                         float *in_scale, float *out_scale) {
  float *ks = malloc(n * sizeof(float));
  float target = 90.0f / (128.0f * 73.0f * sqrtf((float)k));
  *in_scale = ties ? 0.5f : 0.02f * (1.0f + (float)(test_rand() % 100u) / 100.0f);
  for (size_t i = 0; i < n; i++)
    ks[i] = ties ? 1.0f : 0.003f * (1.0f + (float)(test_rand() % 300u) / 100.0f);
  if (!per_channel)
    for (size_t i = 1; i < n; i++) ks[i] = ks[0];
  *out_scale = ties ? 1.0f : *in_scale * ks[0] / target;
  return ks;
}

static void xnn_conv_run(q8_conv_spec s, int per_channel, int ties,
                         xnn_tally *t) {
  dyce__window g = q8_window(&s, 0);
  const dyce__kernels *S = &dyce__kernels_simd;
  size_t k = (size_t)s.kh * s.kw * (s.cin / s.groups);
  size_t nx = (size_t)s.h * s.w * s.cin, ny = (size_t)g.out_h * g.out_w * s.cout;
  int8_t *x = q8_rand(nx, -128, 127), *w = q8_rand(s.cout * k, -127, 127);
  int32_t *bias = malloc(s.cout * sizeof(int32_t));
  for (size_t i = 0; i < s.cout; i++) bias[i] = (int32_t)(test_rand() % 8001u) - 4000;
  float in_scale, out_scale;
  float *ks = xnn_scales(s.cout, k, per_channel, ties, &in_scale, &out_scale);
  float *mult = malloc(s.cout * sizeof(float));
  for (size_t i = 0; i < s.cout; i++) mult[i] = (in_scale * ks[i]) / out_scale;
  dyce__q8_out o = {mult, s.out_zp, s.qmin, s.qmax};
  void *ps = malloc(S->q8_conv2d_packed_bytes(&g) + 1);
  size_t sb = S->q8_conv2d_scratch_bytes(&g);
  void *scratch = malloc(sb + 1);
  int8_t *y = malloc(ny + 1), *xy = malloc(ny + 1);
  S->pack_q8_conv2d(&g, w, ps);
  S->q8_conv2d(&g, x, s.in_zp, ps, bias, &o, y, scratch);
  xnn_operator_t op = NULL;
  enum xnn_status st;
  size_t cin_g = s.cin / s.groups, cout_g = s.cout / s.groups;
  if (per_channel)
    st = xnn_create_convolution2d_nhwc_qc8(
        s.pad, s.pad, s.pad, s.pad, s.kh, s.kw, s.stride, s.stride, s.dil,
        s.dil, s.groups, cin_g, cout_g, s.cin, s.cout, (int8_t)s.in_zp,
        in_scale, ks, w, bias, (int8_t)s.out_zp, out_scale, (int8_t)s.qmin,
        (int8_t)s.qmax, 0, &op);
  else
    st = xnn_create_convolution2d_nhwc_qs8(
        s.pad, s.pad, s.pad, s.pad, s.kh, s.kw, s.stride, s.stride, s.dil,
        s.dil, s.groups, cin_g, cout_g, s.cin, s.cout, (int8_t)s.in_zp,
        in_scale, ks[0], w, bias, (int8_t)s.out_zp, out_scale, (int8_t)s.qmin,
        (int8_t)s.qmax, 0, &op);
  CHECK_MSG(st == xnn_status_success, "xnn create %d", (int)st);
  if (st == xnn_status_success) {
    st = per_channel ? xnn_setup_convolution2d_nhwc_qc8(op, 1, s.h, s.w, x, xy, NULL)
                     : xnn_setup_convolution2d_nhwc_qs8(op, 1, s.h, s.w, x, xy, NULL);
    CHECK(st == xnn_status_success);
    CHECK(xnn_run_operator(op, NULL) == xnn_status_success);
    xnn_delete_operator(op);
    tally(t, y, xy, ny);
  }
  free(x); free(w); free(bias); free(ks); free(mult); free(ps); free(scratch);
  free(y); free(xy);
}

static const int32_t XZPS[][4] = {
    {3, -5, -128, 127}, {-128, -128, -128, 127}, {127, 127, -128, 127},
    {-7, -20, -20, 127}, {0, 10, -30, 60}};
#define N_XZPS (sizeof XZPS / sizeof XZPS[0])

static q8_conv_spec xspec(uint32_t h, uint32_t cin, uint32_t cout,
                          uint32_t groups, uint32_t k, uint32_t stride,
                          uint32_t pad, uint32_t dil, size_t z) {
  const int32_t *q = XZPS[z % N_XZPS];
  q8_conv_spec s = {h, h + 1, cin, cout, groups, k, k, stride, pad, dil,
                    0, 0, q[0], q[1], q[2], q[3]};
  return s;
}

void q8_test_xnnpack_conv(void) {
  CHECK(xnn_initialize(NULL) == xnn_status_success);
  xnn_tally t = {0, 0, 0};
  for (size_t z = 0; z < N_XZPS; z++)
    for (int pc = 0; pc < 2; pc++)
      for (int ties = 0; ties < 2; ties++) {
        xnn_conv_run(xspec(7, 16, 24, 1, 1, 1, 0, 1, z), pc, ties, &t);
        xnn_conv_run(xspec(6, 13, 9, 1, 1, 2, 0, 1, z), pc, ties, &t);
        xnn_conv_run(xspec(9, 3, 16, 1, 3, 2, 1, 1, z), pc, ties, &t);
        xnn_conv_run(xspec(8, 17, 20, 1, 3, 1, 1, 1, z), pc, ties, &t);
        xnn_conv_run(xspec(9, 5, 11, 1, 3, 1, 2, 2, z), pc, ties, &t);
        xnn_conv_run(xspec(10, 24, 24, 24, 3, 1, 1, 1, z), pc, ties, &t);
        xnn_conv_run(xspec(11, 13, 13, 13, 3, 2, 1, 1, z), pc, ties, &t);
        xnn_conv_run(xspec(9, 40, 40, 40, 5, 1, 2, 1, z), pc, ties, &t);
        xnn_conv_run(xspec(9, 8, 8, 8, 7, 2, 3, 1, z), pc, ties, &t);
      }
  printf("q8 xnnpack conv: %zu of %zu outputs differ, by at most %zu\n",
         t.differ, t.outputs, t.worst);
  CHECK_MSG(t.differ == 0, "%zu of %zu outputs differ from XNNPACK (max %zu)",
            t.differ, t.outputs, t.worst);
}

static void xnn_fc_run(size_t k, size_t n, size_t z, int ties, xnn_tally *t) {
  const int32_t *q = XZPS[z % N_XZPS];
  int8_t *x = q8_rand(k, -128, 127), *w = q8_rand(k * n, -127, 127);
  int32_t *bias = malloc(n * sizeof(int32_t));
  for (size_t i = 0; i < n; i++) bias[i] = (int32_t)(test_rand() % 20001u) - 10000;
  float in_scale, out_scale;
  float *ks = xnn_scales(n, k, 0, ties, &in_scale, &out_scale);
  float *mult = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) mult[i] = (in_scale * ks[0]) / out_scale;
  dyce__q8_out o = {mult, q[1], q[2], q[3]};
  const dyce__kernels *S = &dyce__kernels_simd;
  void *ps = malloc(S->q8_fc_packed_bytes(k, n));
  int8_t *y = malloc(n), *xy = malloc(n);
  S->pack_q8_fc(k, n, w, ps);
  S->q8_fully_connected(k, k, n, x, q[0], ps, bias, &o, y);
  xnn_operator_t op = NULL;
  enum xnn_status st = xnn_create_fully_connected_nc_qs8(
      k, n, k, n, (int8_t)q[0], in_scale, ks[0], w, bias, (int8_t)q[1],
      out_scale, (int8_t)q[2], (int8_t)q[3], 0, &op);
  CHECK_MSG(st == xnn_status_success, "xnn fc create %d", (int)st);
  if (st == xnn_status_success) {
    CHECK(xnn_setup_fully_connected_nc_qs8(op, 1, x, xy, NULL) == xnn_status_success);
    CHECK(xnn_run_operator(op, NULL) == xnn_status_success);
    xnn_delete_operator(op);
    tally(t, y, xy, n);
  }
  free(x); free(w); free(bias); free(ks); free(mult); free(ps); free(y); free(xy);
}

void q8_test_xnnpack_fc(void) {
  CHECK(xnn_initialize(NULL) == xnn_status_success);
  xnn_tally t = {0, 0, 0};
  static const size_t ks[] = {1, 7, 16, 33, 1280};
  static const size_t ns[] = {1, 9, 100};
  for (size_t z = 0; z < N_XZPS; z++)
    for (size_t a = 0; a < 5; a++)
      for (size_t b = 0; b < 3; b++) {
        xnn_fc_run(ks[a], ns[b], z, 0, &t);
        xnn_fc_run(ks[a], ns[b], z, 1, &t);
      }
  printf("q8 xnnpack fc: %zu of %zu outputs differ, by at most %zu\n",
         t.differ, t.outputs, t.worst);
  CHECK_MSG(t.differ == 0, "%zu of %zu outputs differ from XNNPACK (max %zu)",
            t.differ, t.outputs, t.worst);
}
#else
typedef int q8_xnnpack_unavailable; /* not an empty translation unit */
#endif
