/* Kernel tests: the reference kernels (with their packing) against naive
 * formulas written from the definitions in docs/FORMAT.md, over random
 * and edge-case geometries. The SIMD kernels of later work are tested
 * against the same reference. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/activation.h"
#include "kernels/kernels.h"
#include "test.h"

static const dyce__kernels *K(void) { return &dyce__kernels_ref; }

static int close_to(float a, float b) {
  return fabsf(a - b) <= 1e-5f + 1e-5f * fabsf(b);
}

static void naive_conv(const dyce__window *g, const float *x, const float *w,
                       const float *b, dyce__activation act, float *y) {
  size_t cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups;
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++)
      for (uint32_t o = 0; o < g->out_c; o++) {
        double acc = b ? b[o] : 0.0;
        size_t grp = o / cout_g;
        for (uint32_t ky = 0; ky < g->kh; ky++)
          for (uint32_t kx = 0; kx < g->kw; kx++)
            for (size_t i = 0; i < cin_g; i++) {
              long iy = (long)(oy * g->sh + ky * g->dh) - (long)g->pad_t;
              long ix = (long)(ox * g->sw + kx * g->dw) - (long)g->pad_l;
              if (iy < 0 || ix < 0 || iy >= (long)g->in_h || ix >= (long)g->in_w)
                continue;
              acc += (double)x[((size_t)iy * g->in_w + ix) * g->in_c + grp * cin_g + i] *
                     w[((o * g->kh + ky) * g->kw + kx) * cin_g + i];
            }
        y[((size_t)oy * g->out_w + ox) * g->out_c + o] =
            dyce__activate(act.act, act.a, act.b, (float)acc);
      }
}

static void conv_case(uint32_t h, uint32_t w, uint32_t cin, uint32_t cout,
                      uint32_t groups, uint32_t k, uint32_t stride,
                      uint32_t pad, uint32_t dil, int with_bias,
                      dyce__act act) {
  dyce__window g = {.in_h = h, .in_w = w, .in_c = cin, .out_c = cout,
                    .kh = k, .kw = k, .sh = stride, .sw = stride, .dh = dil,
                    .dw = dil, .pad_t = pad, .pad_l = pad, .groups = groups,
                    .packed_in_c = cin, .packed_out_c = cout,
                    .packed_groups = groups};
  g.out_h = (h + 2 * pad - dil * (k - 1) - 1) / stride + 1;
  g.out_w = (w + 2 * pad - dil * (k - 1) - 1) / stride + 1;
  size_t nx = (size_t)h * w * cin, nw = (size_t)cout * k * k * (cin / groups);
  size_t ny = (size_t)g.out_h * g.out_w * cout;
  float *x = malloc(nx * 4), *wt = malloc(nw * 4), *b = malloc(cout * 4);
  float *packed = malloc(K()->conv2d_packed_floats(&g) * 4);
  float *y = malloc(ny * 4), *want = malloc(ny * 4);
  for (size_t i = 0; i < nx; i++) x[i] = test_randf();
  for (size_t i = 0; i < nw; i++) wt[i] = test_randf();
  for (size_t i = 0; i < cout; i++) b[i] = test_randf();
  dyce__activation a = {act, 0.0f, 6.0f};
  K()->pack_conv2d(&g, wt, packed);
  K()->conv2d(&g, x, packed, with_bias ? b : NULL, a, y, NULL);
  naive_conv(&g, x, wt, with_bias ? b : NULL, a, want);
  int bad = 0;
  for (size_t i = 0; i < ny; i++) bad += !close_to(y[i], want[i]);
  CHECK_MSG(bad == 0,
            "%u elements differ: %ux%ux%u->%u groups %u k%u s%u p%u d%u", bad,
            h, w, cin, cout, groups, k, stride, pad, dil);
  free(x); free(wt); free(b); free(packed); free(y); free(want);
}

static void conv_matches_naive(void) {
  /* Dense, grouped, depthwise, depthwise with multiplier; 1x1 to 5x5;
   * strides 1-2; padding; dilation; odd sizes; every activation. */
  conv_case(5, 7, 3, 4, 1, 3, 1, 1, 1, 1, DYCE__ACT_RELU);
  conv_case(1, 1, 1, 1, 1, 1, 1, 0, 1, 0, DYCE__ACT_NONE);
  conv_case(9, 9, 8, 16, 1, 1, 1, 0, 1, 1, DYCE__ACT_CLIP);
  conv_case(9, 9, 8, 16, 1, 1, 2, 0, 1, 1, DYCE__ACT_NONE);
  conv_case(8, 6, 6, 9, 3, 3, 2, 1, 1, 1, DYCE__ACT_HARD_SWISH);
  conv_case(7, 7, 12, 12, 12, 3, 1, 1, 1, 1, DYCE__ACT_CLIP);
  conv_case(7, 7, 12, 12, 12, 3, 2, 1, 1, 1, DYCE__ACT_SILU);
  conv_case(11, 11, 8, 8, 8, 5, 2, 2, 1, 1, DYCE__ACT_RELU);
  conv_case(6, 6, 4, 8, 4, 3, 1, 1, 1, 0, DYCE__ACT_SIGMOID);
  conv_case(9, 9, 4, 5, 1, 3, 1, 2, 2, 1, DYCE__ACT_TANH);
  conv_case(3, 3, 2, 3, 1, 3, 3, 0, 1, 1, DYCE__ACT_NONE);
  for (int r = 0; r < 20; r++) {
    uint32_t groups = 1 + test_rand() % 3, k = 1 + test_rand() % 4;
    uint32_t cin = groups * (1 + test_rand() % 5);
    uint32_t cout = groups * (1 + test_rand() % 5);
    uint32_t pad = test_rand() % k, stride = 1 + test_rand() % 2;
    uint32_t h = k + test_rand() % 6, w = k + test_rand() % 6;
    /* Activations defined and smooth everywhere (abs ... reciprocal have
     * NaN or poles on these random sums: test_unary.c checks them). */
    conv_case(h, w, cin, cout, groups, k, stride, pad, 1, (int)(r & 1),
              (dyce__act)(test_rand() % (DYCE__ACT_SOFTPLUS + 1)));
  }
}

static void fully_connected_matches_naive(void) {
  size_t shapes[][2] = {{1, 1}, {3, 10}, {64, 10}, {17, 33}};
  for (size_t s = 0; s < 4; s++) {
    size_t k = shapes[s][0], n = shapes[s][1];
    float *x = malloc(k * 4), *w = malloc(k * n * 4), *b = malloc(n * 4),
          *p = malloc(K()->fc_packed_floats(k, n) * 4), *y = malloc(n * 4);
    for (size_t i = 0; i < k; i++) x[i] = test_randf();
    for (size_t i = 0; i < k * n; i++) w[i] = test_randf();
    for (size_t i = 0; i < n; i++) b[i] = test_randf();
    K()->pack_fc(k, n, w, p);
    dyce__activation none = {DYCE__ACT_NONE, 0, 0};
    K()->fully_connected(k, k, n, x, p, b, none, y);
    for (size_t j = 0; j < n; j++) {
      double acc = b[j];
      for (size_t i = 0; i < k; i++) acc += (double)w[j * k + i] * x[i];
      CHECK(close_to(y[j], (float)acc));
    }
    free(x); free(w); free(b); free(p); free(y);
  }
}

static void activations_match_definitions(void) {
  struct { dyce__act act; float a, b, x, y; } cases[] = {
      {DYCE__ACT_NONE, 0, 0, -2.5f, -2.5f},
      {DYCE__ACT_RELU, 0, 0, -1, 0},       {DYCE__ACT_RELU, 0, 0, 2, 2},
      {DYCE__ACT_CLIP, 0, 6, 7, 6},        {DYCE__ACT_CLIP, 0, 6, -1, 0},
      {DYCE__ACT_SIGMOID, 0, 0, 0, 0.5f},  {DYCE__ACT_SIGMOID, 0, 0, -200, 0},
      {DYCE__ACT_SIGMOID, 0, 0, 200, 1},
      {DYCE__ACT_HARD_SIGMOID, 1.0f / 6, 0.5f, 3, 1},
      {DYCE__ACT_HARD_SIGMOID, 0.2f, 0.5f, 1, 0.7f},
      {DYCE__ACT_HARD_SWISH, 0, 0, 1, 4.0f / 6},
      {DYCE__ACT_HARD_SWISH, 0, 0, -4, 0}, {DYCE__ACT_HARD_SWISH, 0, 0, 4, 4},
      {DYCE__ACT_SILU, 0, 0, 1, 0.7310586f},
      {DYCE__ACT_LEAKY_RELU, 0.1f, 0, -2, -0.2f},
      {DYCE__ACT_TANH, 0, 0, 0.5f, 0.46211716f},
      /* Values from mpmath at 30 digits. */
      {DYCE__ACT_GELU, 0, 0, 1, 0.84134475f},
      {DYCE__ACT_GELU, 0, 0, -1, -0.15865525f},
      {DYCE__ACT_GELU, 0, 0, -6, -5.9195259e-9f},
      {DYCE__ACT_GELU_TANH, 0, 0, 1, 0.84119199f},
      {DYCE__ACT_GELU_TANH, 0, 0, -2, -0.045402306f},
      {DYCE__ACT_ELU, 0.5f, 0, -1, -0.31606028f},
      {DYCE__ACT_ELU, 0.5f, 0, 2, 2},
      {DYCE__ACT_SOFTPLUS, 0, 0, 0, 0.69314718f},
      {DYCE__ACT_SOFTPLUS, 0, 0, 2, 2.1269280f},
      {DYCE__ACT_SOFTPLUS, 0, 0, -20, 2.0611537e-9f},
      {DYCE__ACT_SOFTPLUS, 0, 0, 100, 100},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    float y = dyce__activate(cases[i].act, cases[i].a, cases[i].b, cases[i].x);
    CHECK_MSG(close_to(y, cases[i].y), "case %zu: %g != %g", i, (double)y,
              (double)cases[i].y);
  }
}

static void pooling_by_hand(void) {
  float x[16], y[16];
  for (int i = 0; i < 16; i++) x[i] = (float)i; /* 4x4x1 */
  dyce__activation none = {DYCE__ACT_NONE, 0, 0};
  dyce__window g = {.in_h = 4, .in_w = 4, .in_c = 1, .out_h = 2, .out_w = 2,
                    .out_c = 1, .kh = 2, .kw = 2, .sh = 2, .sw = 2, .dh = 1,
                    .dw = 1, .groups = 1};
  K()->max_pool(&g, x, none, y);
  CHECK(y[0] == 5 && y[1] == 7 && y[2] == 13 && y[3] == 15);
  /* 3x3 stride 1 pad 1: corner window holds 0, 1, 4, 5. */
  dyce__window a = {.in_h = 4, .in_w = 4, .in_c = 1, .out_h = 4, .out_w = 4,
                    .out_c = 1, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1,
                    .dw = 1, .pad_t = 1, .pad_l = 1, .groups = 1};
  K()->avg_pool(&a, 0, x, none, y);
  CHECK(close_to(y[0], 2.5f));
  CHECK(close_to(y[5], 5.0f)); /* interior: mean of 0,1,2,4,5,6,8,9,10 */
  K()->avg_pool(&a, 1, x, none, y);
  CHECK(close_to(y[0], 10.0f / 9.0f));
  /* Padded max pool: padding never wins, even for negative inputs. */
  for (int i = 0; i < 16; i++) x[i] = -1.0f - (float)i;
  K()->max_pool(&a, x, none, y);
  CHECK(y[0] == -1.0f);
  K()->global_avg_pool(16, 1, x, none, y);
  CHECK(close_to(y[0], -8.5f));
}

static void elementwise_by_hand(void) {
  dyce__activation none = {DYCE__ACT_NONE, 0, 0};
  dyce__activation relu = {DYCE__ACT_RELU, 0, 0};
  float a[4] = {1, 2, 3, -4}, b[2] = {10, 100}, y[4];
  K()->binary(DYCE__OP_ADD, 4, 2, a, b, 2, none, y);
  CHECK(y[0] == 11 && y[1] == 102 && y[2] == 13 && y[3] == 96);
  K()->binary(DYCE__OP_MUL, 4, 2, a, b, 2, relu, y);
  CHECK(y[0] == 10 && y[1] == 200 && y[2] == 30 && y[3] == 0);
  float s = 3;
  K()->binary(DYCE__OP_MUL, 4, 2, a, &s, 1, none, y);
  CHECK(y[3] == -12);
  K()->binary(DYCE__OP_ADD, 4, 2, a, a, 4, none, y);
  CHECK(y[1] == 4);
  float scale[2] = {2, -1}, shift[2] = {1, 0};
  K()->channel_affine(4, 2, a, scale, shift, none, y);
  CHECK(y[0] == 3 && y[1] == -2 && y[2] == 7 && y[3] == 4);
  /* NHWC 2x1x2 -> CHW order. */
  float f[4] = {1, 2, 3, 4};
  K()->flatten_chw(2, 1, 2, f, y);
  CHECK(y[0] == 1 && y[1] == 3 && y[2] == 2 && y[3] == 4);
  float big[3] = {1000, 1001, 999}, p[3];
  K()->softmax(1, 3, big, p, 0);
  CHECK(close_to(p[0] + p[1] + p[2], 1.0f) && p[1] > p[0] && p[0] > p[2]);
  CHECK(!isnan(p[0]));
  /* log-softmax: the logs of those, without overflow at 1000. */
  float lp[3];
  K()->softmax(1, 3, big, lp, 1);
  for (int i = 0; i < 3; i++) CHECK(close_to(lp[i], logf(p[i])));
  CHECK(close_to(lp[1], -logf(1.0f + expf(-1.0f) + expf(-2.0f))));
}

const test_case ops_tests[] = {
    {"ops", "conv_matches_naive", conv_matches_naive},
    {"ops", "fully_connected_matches_naive", fully_connected_matches_naive},
    {"ops", "activations_match_definitions", activations_match_definitions},
    {"ops", "pooling_by_hand", pooling_by_hand},
    {"ops", "elementwise_by_hand", elementwise_by_hand},
    {0, 0, 0}};
