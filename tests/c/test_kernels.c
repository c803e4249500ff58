/* Kernel tests: every SIMD kernel (dyce__kernels_simd, built for this
 * machine's ISA) against the scalar reference table at edge sizes: k = 1,
 * k not a multiple of the unroll, n % nr != 0, single rows, odd spatial
 * sizes, padding, stride 2, dilation, depthwise 3x3 / 5x5 / other
 * windows, and every fused activation. The same sources are the WASM
 * kernels, so passing here (also under ASan + UBSan) covers their logic.
 * Where XNNPACK is installed, every convolution is also checked against
 * it (dyce__kernels_xnnpack), an implementation independent of both. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/simd/simd.h"
#include "test.h"

static const dyce__kernels *S(void) { return &dyce__kernels_simd; }
static const dyce__kernels *R(void) { return &dyce__kernels_ref; }

static const dyce__act ALL_ACTS[] = {
    DYCE__ACT_NONE,       DYCE__ACT_RELU,        DYCE__ACT_CLIP,
    DYCE__ACT_SIGMOID,    DYCE__ACT_HARD_SIGMOID, DYCE__ACT_HARD_SWISH,
    DYCE__ACT_SILU,       DYCE__ACT_LEAKY_RELU,  DYCE__ACT_TANH,
    DYCE__ACT_GELU,       DYCE__ACT_GELU_TANH,   DYCE__ACT_ELU,
    DYCE__ACT_SOFTPLUS};
#define N_ACTS (sizeof ALL_ACTS / sizeof ALL_ACTS[0])

static dyce__activation act_of(dyce__act a) {
  dyce__activation r = {a, 0.0f, 0.0f};
  if (a == DYCE__ACT_CLIP) r.a = -0.25f, r.b = 0.5f; /* clamps both ways */
  if (a == DYCE__ACT_HARD_SIGMOID) r.a = 0.2f, r.b = 0.5f;
  if (a == DYCE__ACT_LEAKY_RELU) r.a = 0.01f;
  if (a == DYCE__ACT_ELU) r.a = 0.7f;
  return r;
}

static float *rand_array(size_t n) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = test_randf();
  return p;
}

/* Sums reorder under SIMD: allow a few ulps of the accumulated size. */
static int count_bad(const float *got, const float *want, size_t n,
                     float scale) {
  int bad = 0;
  for (size_t i = 0; i < n; i++)
    bad += !(fabsf(got[i] - want[i]) <= 1e-5f * scale + 1e-5f * fabsf(want[i]));
  return bad;
}

/* ---- convolution (dense via igemm, depthwise, grouped fallback) -------- */

static void conv_case(uint32_t h, uint32_t w, uint32_t cin, uint32_t cout,
                      uint32_t groups, uint32_t kh, uint32_t kw,
                      uint32_t stride, uint32_t pad, uint32_t dil,
                      int with_bias, dyce__act act) {
  dyce__window g = {.in_h = h, .in_w = w, .in_c = cin, .out_c = cout,
                    .kh = kh, .kw = kw, .sh = stride, .sw = stride,
                    .dh = dil, .dw = dil, .pad_t = pad, .pad_l = pad,
                    .groups = groups, .packed_in_c = cin,
                    .packed_out_c = cout, .packed_groups = groups};
  g.out_h = (h + 2 * pad - dil * (kh - 1) - 1) / stride + 1;
  g.out_w = (w + 2 * pad - dil * (kw - 1) - 1) / stride + 1;
  size_t nx = (size_t)h * w * cin, nw = (size_t)cout * kh * kw * (cin / groups);
  size_t ny = (size_t)g.out_h * g.out_w * cout;
  float *x = rand_array(nx), *wt = rand_array(nw), *b = rand_array(cout);
  float *ps = malloc(S()->conv2d_packed_floats(&g) * 4);
  float *pr = malloc(R()->conv2d_packed_floats(&g) * 4);
  size_t scratch_bytes = S()->conv2d_scratch_bytes(&g);
  /* Garbage in scratch: kernels must not rely on it being zeroed. */
  unsigned char *scratch = malloc(scratch_bytes ? scratch_bytes : 1);
  memset(scratch, 0xA5, scratch_bytes);
  float *y = malloc(ny * 4), *want = malloc(ny * 4);
  dyce__activation a = act_of(act);
  S()->pack_conv2d(&g, wt, ps);
  R()->pack_conv2d(&g, wt, pr);
  S()->conv2d(&g, x, ps, with_bias ? b : NULL, a, y,
              scratch_bytes ? scratch : NULL);
  R()->conv2d(&g, x, pr, with_bias ? b : NULL, a, want, NULL);
  int bad = count_bad(y, want, ny, (float)(kh * kw * (cin / groups)));
  CHECK_MSG(bad == 0,
            "%d of %zu differ: %ux%ux%u->%u g%u k%ux%u s%u p%u d%u bias%d "
            "act%d",
            bad, ny, h, w, cin, cout, groups, kh, kw, stride, pad, dil,
            with_bias, (int)act);
#if defined(DYCE_XNNPACK) || defined(DYCE_XNNPACK_ORACLE)
  /* XNNPACK, an implementation independent of both, must agree too. */
  const dyce__kernels *X = &dyce__kernels_xnnpack;
  float *px = malloc(X->conv2d_packed_floats(&g) * 4);
  X->prepare_conv2d(&g, wt, with_bias ? b : NULL, a, px);
  X->conv2d(&g, x, px, with_bias ? b : NULL, a, y,
            scratch_bytes ? scratch : NULL);
  X->release_conv2d(px);
  bad = count_bad(y, want, ny, (float)(kh * kw * (cin / groups)));
  CHECK_MSG(bad == 0, "xnnpack: %d of %zu differ: %ux%ux%u->%u g%u k%ux%u "
            "s%u p%u d%u", bad, ny, h, w, cin, cout, groups, kh, kw, stride,
            pad, dil);
  free(px);
#endif
  free(x); free(wt); free(b); free(ps); free(pr); free(scratch); free(y);
  free(want);
}

static void conv_dense_edges(void) {
  /* k = cin * taps: 1 (1x1, cin 1), below / not a multiple of anything,
   * large; n = cout around nr = 8; m = pixels 1, 2, 3, 5 (tile 4). */
  static const uint32_t cins[] = {1, 2, 3, 5, 8, 13};
  static const uint32_t couts[] = {1, 3, 7, 8, 9, 16, 17};
  for (size_t i = 0; i < sizeof cins / sizeof cins[0]; i++)
    for (size_t j = 0; j < sizeof couts / sizeof couts[0]; j++) {
      conv_case(1, 1, cins[i], couts[j], 1, 1, 1, 1, 0, 1, 1, DYCE__ACT_NONE);
      conv_case(1, 2, cins[i], couts[j], 1, 1, 1, 1, 0, 1, 0, DYCE__ACT_RELU);
      conv_case(1, 3, cins[i], couts[j], 1, 1, 1, 1, 0, 1, 1, DYCE__ACT_CLIP);
      conv_case(5, 7, cins[i], couts[j], 1, 1, 1, 1, 0, 1, 1, DYCE__ACT_NONE);
      conv_case(5, 7, cins[i], couts[j], 1, 3, 3, 1, 1, 1, 1, DYCE__ACT_RELU);
      conv_case(7, 5, cins[i], couts[j], 1, 3, 3, 2, 1, 1, 1, DYCE__ACT_CLIP);
    }
  /* Strided 1x1 (ResNet downsample), 7x7 stride 2 pad 3 (stem), odd
   * windows, asymmetric kernels, dilation, no padding. */
  conv_case(9, 9, 16, 24, 1, 1, 1, 2, 0, 1, 1, DYCE__ACT_NONE);
  conv_case(15, 13, 3, 16, 1, 7, 7, 2, 3, 1, 1, DYCE__ACT_RELU);
  conv_case(6, 9, 4, 12, 1, 1, 3, 1, 1, 1, 1, DYCE__ACT_NONE);
  conv_case(9, 9, 5, 11, 1, 3, 3, 1, 2, 2, 1, DYCE__ACT_RELU);
  conv_case(11, 11, 6, 10, 1, 5, 5, 2, 0, 1, 0, DYCE__ACT_NONE);
  conv_case(14, 14, 64, 64, 1, 3, 3, 1, 1, 1, 1, DYCE__ACT_RELU);
  /* Few channels: kernel rows read in place (MobileNet's RGB stem; pixels
   * at the left/right padding copy theirs), or gathered (kw * cin < 8). */
  conv_case(17, 19, 3, 32, 1, 3, 3, 2, 1, 1, 1, DYCE__ACT_CLIP);
  conv_case(13, 12, 3, 8, 1, 3, 3, 1, 2, 1, 0, DYCE__ACT_NONE);
  conv_case(12, 12, 1, 9, 1, 3, 3, 2, 1, 1, 1, DYCE__ACT_RELU);
}

/* 3x3 stride-1 dense convolutions with 8-128 input channels run by
 * Winograd F(2x2, 3x3): odd output sizes
 * (partial 2x2 blocks), padding 0-2, channel tails of the 4-lane
 * transforms and the 8-column panels, one output pixel, more 2x2 blocks
 * than one batch of 16, every clamp. With more input channels, or with
 * stride 2, they stay direct. */
static void conv_winograd(void) {
  static const uint32_t cases[][5] = {/* h, w, cin, cout, pad */
      {7, 9, 8, 8, 1},    {6, 5, 9, 13, 0},   {11, 10, 13, 17, 2},
      {1, 1, 8, 3, 1},    {19, 17, 16, 24, 1}, {4, 4, 12, 1, 1},
      {9, 14, 64, 64, 1}, {5, 5, 128, 128, 1}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const uint32_t *c = cases[i];
    dyce__window g = {.kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                      .packed_in_c = c[2], .packed_out_c = c[3],
                      .packed_groups = 1};
    CHECK_MSG(dyce__simd_winograd_applies(&g), "%ux%u is not Winograd", c[2], c[3]);
    for (size_t a = 0; a < 3; a++)
      conv_case(c[0], c[1], c[2], c[3], 1, 3, 3, 1, c[4], 1, (int)(a != 1),
                ALL_ACTS[a]);
  }
  conv_case(6, 7, 9, 10, 1, 3, 3, 1, 1, 1, 1, DYCE__ACT_SIGMOID);
  dyce__window big = {.kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
                      .packed_in_c = 129, .packed_out_c = 128, .packed_groups = 1};
  dyce__window strided = big;
  strided.packed_in_c = 16, strided.sh = strided.sw = 2;
  CHECK(!dyce__simd_winograd_applies(&big) && !dyce__simd_winograd_applies(&strided));
  conv_case(5, 6, 129, 128, 1, 3, 3, 1, 1, 1, 1, DYCE__ACT_RELU);
}

static void conv_depthwise_edges(void) {
  /* Channels around the 8-channel block and the 4-lane vector. */
  static const uint32_t chans[] = {1, 3, 4, 5, 8, 11, 16, 20, 32};
  for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
    uint32_t c = chans[i];
    conv_case(7, 9, c, c, c, 3, 3, 1, 1, 1, 1, DYCE__ACT_CLIP);
    conv_case(9, 7, c, c, c, 3, 3, 2, 1, 1, 0, DYCE__ACT_RELU);
    conv_case(9, 9, c, c, c, 5, 5, 1, 2, 1, 1, DYCE__ACT_NONE);
    conv_case(11, 10, c, c, c, 5, 5, 2, 2, 1, 1, DYCE__ACT_RELU);
    conv_case(5, 5, c, c, c, 3, 3, 1, 0, 1, 1, DYCE__ACT_NONE);
    conv_case(8, 8, c, c, c, 7, 7, 1, 3, 1, 1, DYCE__ACT_NONE);
    conv_case(8, 8, c, c, c, 3, 3, 1, 2, 2, 1, DYCE__ACT_RELU);
    conv_case(6, 6, c, c, c, 1, 3, 1, 1, 1, 1, DYCE__ACT_NONE);
  }
  conv_case(1, 1, 8, 8, 8, 3, 3, 1, 1, 1, 1, DYCE__ACT_NONE);
  /* Long rows: the 3x3 row kernel's interior loops (pairs at stride 1). */
  conv_case(4, 37, 12, 12, 12, 3, 3, 1, 1, 1, 1, DYCE__ACT_RELU);
  conv_case(5, 38, 20, 20, 20, 3, 3, 2, 1, 1, 1, DYCE__ACT_CLIP);
  conv_case(3, 30, 6, 6, 6, 3, 3, 1, 0, 1, 0, DYCE__ACT_NONE);
  /* The 5x5 row kernel (rows at least 3/4 interior; the narrow 5x5
   * cases above take the per-pixel kernel): long rows (pairs at stride
   * 1), odd channel counts, dilation, and output rows whose taps are all
   * padding (the bias alone). */
  conv_case(6, 37, 12, 12, 12, 5, 5, 1, 2, 1, 1, DYCE__ACT_CLIP);
  conv_case(7, 33, 7, 7, 7, 5, 5, 2, 2, 1, 1, DYCE__ACT_RELU);
  conv_case(9, 41, 5, 5, 5, 5, 5, 1, 4, 2, 0, DYCE__ACT_NONE);
  conv_case(3, 80, 9, 9, 9, 5, 5, 1, 5, 1, 1, DYCE__ACT_CLIP);
  conv_case(6, 12, 16, 16, 16, 5, 5, 1, 0, 1, 1, DYCE__ACT_HARD_SWISH);
}

static void conv_fallbacks_and_activations(void) {
  /* Grouped and channel-multiplier convolutions: a GEMM per group. */
  conv_case(8, 6, 6, 9, 3, 3, 3, 2, 1, 1, 1, DYCE__ACT_HARD_SWISH);
  conv_case(6, 6, 4, 8, 4, 3, 3, 1, 1, 1, 1, DYCE__ACT_RELU);
  for (size_t a = 0; a < N_ACTS; a++) {
    conv_case(5, 6, 7, 13, 1, 3, 3, 1, 1, 1, 1, ALL_ACTS[a]);
    conv_case(5, 6, 12, 12, 12, 3, 3, 1, 1, 1, 1, ALL_ACTS[a]);
    conv_case(3, 3, 9, 10, 1, 1, 1, 1, 0, 1, 1, ALL_ACTS[a]);
  }
}

static void conv_random_geometries(void) {
  /* 150 random small geometries: dense, depthwise and grouped. */
  for (int i = 0; i < 150; i++) {
    uint32_t k = 1 + test_rand() % 5, dil = 1 + test_rand() % 2;
    uint32_t span = dil * (k - 1) + 1, pad = test_rand() % k;
    uint32_t h = span + test_rand() % 9, w = span + test_rand() % 9;
    uint32_t cin = 1 + test_rand() % 19, kind = test_rand() % 3;
    /* Grouped: any divisor of cin (cin itself with cout > cin: a
     * channel multiplier). */
    uint32_t groups = kind == 0 ? 1 : (kind == 1 ? cin : 1 + test_rand() % cin);
    while (cin % groups) groups--;
    uint32_t cout = kind == 1 ? cin : groups * (1 + test_rand() % 12);
    conv_case(h, w, cin, cout, groups, k, k, 1 + test_rand() % 3, pad, dil,
              (int)(test_rand() % 2), ALL_ACTS[test_rand() % N_ACTS]);
  }
}

/* ---- the microkernels directly, every m/n/k edge ------------------------ */

static void igemm_edges(void) {
  const dyce__simd_config *cfg = &dyce__simd_config_this_target;
  static const size_t ks_[] = {1, 2, 3, 5, 8, 17};
  int rest;
  for (size_t a = 0; a < 3; a++) {
    dyce__clamp clamp = dyce__simd_clamp(act_of(ALL_ACTS[a]), &rest);
    for (size_t m = 1; m <= 9; m++)
      for (size_t n = 1; n <= 17; n++)
        for (size_t ki = 0; ki < sizeof ks_ / sizeof ks_[0]; ki++) {
          size_t k = ks_[ki];
          float *A = rand_array(m * k), *B = rand_array(n * k);
          float *bias = rand_array(n), *C = malloc(m * n * 4);
          float *packed = malloc(dyce__simd_gemm_packed_floats(k, n, cfg->nr) * 4);
          const float *rows[9];
          for (size_t i = 0; i < m; i++) rows[i] = A + i * k;
          dyce__simd_pack_gemm(k, n, cfg->nr, B, packed);
          dyce__simd_gemm_rows(m, n, k, k, 1, rows, packed, bias, C, n, clamp);
          int bad = 0;
          for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < n; j++) {
              float acc = bias[j];
              for (size_t kk = 0; kk < k; kk++) acc += A[i * k + kk] * B[j * k + kk];
              acc = dyce__activate(act_of(ALL_ACTS[a]).act, act_of(ALL_ACTS[a]).a,
                                   act_of(ALL_ACTS[a]).b, acc);
              bad += !(fabsf(C[i * n + j] - acc) <= 1e-5f * (float)k + 1e-5f);
            }
          CHECK_MSG(bad == 0, "%s m%zu n%zu k%zu act%zu: %d differ",
                    cfg->igemm_name, m, n, k, a, bad);
          free(A); free(B); free(bias); free(C); free(packed);
        }
  }
}

/* ---- fully connected, pooling, elementwise ------------------------------ */

static void fc_edges(void) {
  static const size_t ks_[] = {1, 3, 8, 33, 512};
  static const size_t ns[] = {1, 7, 8, 9, 10, 1000};
  for (size_t i = 0; i < sizeof ks_ / sizeof ks_[0]; i++)
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++)
      for (size_t a = 0; a < N_ACTS; a += 4) {
        size_t k = ks_[i], n = ns[j];
        float *x = rand_array(k), *w = rand_array(k * n), *b = rand_array(n);
        float *ps = malloc(S()->fc_packed_floats(k, n) * 4);
        float *pr = malloc(R()->fc_packed_floats(k, n) * 4);
        float *y = malloc(n * 4), *want = malloc(n * 4);
        S()->pack_fc(k, n, w, ps);
        R()->pack_fc(k, n, w, pr);
        dyce__activation act = act_of(ALL_ACTS[a]);
        S()->fully_connected(k, k, n, x, ps, a ? b : NULL, act, y);
        R()->fully_connected(k, k, n, x, pr, a ? b : NULL, act, want);
        int bad = count_bad(y, want, n, (float)k);
        CHECK_MSG(bad == 0, "fc k%zu n%zu act%zu: %d differ", k, n, a, bad);
        free(x); free(w); free(b); free(ps); free(pr); free(y); free(want);
      }
}

static void pool_case(uint32_t h, uint32_t w, uint32_t c, uint32_t k,
                      uint32_t stride, uint32_t pad, dyce__act act) {
  dyce__window g = {.in_h = h, .in_w = w, .in_c = c, .out_c = c, .kh = k,
                    .kw = k, .sh = stride, .sw = stride, .dh = 1, .dw = 1,
                    .pad_t = pad, .pad_l = pad, .groups = 1};
  g.out_h = (h + 2 * pad - k) / stride + 1;
  g.out_w = (w + 2 * pad - k) / stride + 1;
  size_t nx = (size_t)h * w * c, ny = (size_t)g.out_h * g.out_w * c;
  float *x = rand_array(nx), *y = malloc(ny * 4), *want = malloc(ny * 4);
  dyce__activation a = act_of(act);
  S()->max_pool(&g, x, a, y);
  R()->max_pool(&g, x, a, want);
  CHECK_MSG(count_bad(y, want, ny, 1) == 0, "max_pool %ux%ux%u k%u s%u p%u",
            h, w, c, k, stride, pad);
  for (int inc = 0; inc < 2; inc++) {
    S()->avg_pool(&g, inc, x, a, y);
    R()->avg_pool(&g, inc, x, a, want);
    CHECK_MSG(count_bad(y, want, ny, 1) == 0,
              "avg_pool %ux%ux%u k%u s%u p%u incl%d", h, w, c, k, stride, pad,
              inc);
  }
  float *gy = malloc(c * 4), *gw = malloc(c * 4);
  S()->global_avg_pool((size_t)h * w, c, x, a, gy);
  R()->global_avg_pool((size_t)h * w, c, x, a, gw);
  CHECK_MSG(count_bad(gy, gw, c, 1) == 0, "global_avg_pool %ux%ux%u", h, w, c);
  free(x); free(y); free(want); free(gy); free(gw);
}

/* Global pools stream the map through blocks of 256 channels: channel
 * counts around and past a block, one pixel and many; max exactly. */
static void global_pool_edges(void) {
  static const uint32_t chans[] = {1, 3, 4, 5, 255, 256, 257, 260, 1030};
  static const uint32_t pixels[] = {1, 2, 49, 196};
  for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++)
    for (size_t j = 0; j < sizeof pixels / sizeof pixels[0]; j++) {
      size_t c = chans[i], hw = pixels[j];
      float *x = rand_array(hw * c), *got = malloc(c * 4), *want = malloc(c * 4);
      dyce__activation a = act_of(DYCE__ACT_RELU);
      S()->global_avg_pool(hw, c, x, a, got);
      R()->global_avg_pool(hw, c, x, a, want);
      CHECK_MSG(count_bad(got, want, c, 1) == 0, "global_avg_pool %zu px x %zu", hw, c);
      S()->global_max_pool(hw, c, x, a, got);
      R()->global_max_pool(hw, c, x, a, want);
      CHECK_MSG(memcmp(got, want, c * 4) == 0, "global_max_pool %zu px x %zu", hw, c);
      free(x); free(got); free(want);
    }
}

static void pool_edges(void) {
  static const uint32_t chans[] = {1, 3, 4, 5, 9, 64};
  for (size_t i = 0; i < sizeof chans / sizeof chans[0]; i++) {
    pool_case(9, 7, chans[i], 3, 2, 1, DYCE__ACT_NONE);
    pool_case(8, 8, chans[i], 2, 2, 0, DYCE__ACT_RELU);
    pool_case(5, 6, chans[i], 3, 1, 1, DYCE__ACT_CLIP);
  }
  for (size_t a = 0; a < N_ACTS; a++) pool_case(4, 5, 6, 3, 1, 1, ALL_ACTS[a]);
}

static void elementwise_edges(void) {
  static const size_t hws[] = {1, 3, 10};
  static const size_t cs[] = {1, 3, 4, 7, 16};
  for (size_t i = 0; i < 3; i++)
    for (size_t j = 0; j < 5; j++)
      for (size_t a = 0; a < N_ACTS; a++) {
        size_t c = cs[j], n = hws[i] * c;
        dyce__activation act = act_of(ALL_ACTS[a]);
        float *x = rand_array(n), *b = rand_array(n), *s = rand_array(c);
        float *y = malloc(n * 4), *want = malloc(n * 4);
        const size_t counts[] = {n, c, 1};
        for (int op = 0; op < 2; op++)
          for (size_t bc = 0; bc < 3; bc++) {
            dyce__op o = op ? DYCE__OP_MUL : DYCE__OP_ADD;
            S()->binary(o, n, c, x, b, counts[bc], act, y);
            R()->binary(o, n, c, x, b, counts[bc], act, want);
            CHECK_MSG(count_bad(y, want, n, 1) == 0,
                      "binary op%d n%zu c%zu b%zu act%zu", op, n, c,
                      counts[bc], a);
          }
        S()->channel_affine(n, c, x, s, b, act, y);
        R()->channel_affine(n, c, x, s, b, act, want);
        CHECK_MSG(count_bad(y, want, n, 1) == 0, "affine n%zu c%zu act%zu", n,
                  c, a);
        S()->activation(n, x, act, y);
        R()->activation(n, x, act, want);
        CHECK_MSG(count_bad(y, want, n, 1) == 0, "activation n%zu act%zu", n,
                  a);
        free(x); free(b); free(s); free(y); free(want);
      }
}

/* The exp-based activations are vectorised (a polynomial exp): over the
 * whole float range they stay within a few ulp of the libm definitions,
 * relative to the value (not just absolutely), and saturate cleanly.
 * GELU's erfc fit allows 8 ulp (7 measured near x = -1.4, 8 in the far
 * tail). The tanh-form GELU rounds its argument v = 2u in float, which
 * costs |v| ulp where the value is about x e^v (161 ulp at x = -8.9,
 * a value of 5e-28; PyTorch's own float 1 + tanh(u) cancels far worse),
 * so its tolerance grows with |v|. */
static void exp_activations_accuracy(void) {
  static const dyce__act acts[] = {DYCE__ACT_SIGMOID, DYCE__ACT_SILU,
                                   DYCE__ACT_TANH, DYCE__ACT_GELU,
                                   DYCE__ACT_GELU_TANH, DYCE__ACT_ELU,
                                   DYCE__ACT_SOFTPLUS};
  enum { N_EXP_ACTS = sizeof acts / sizeof acts[0] };
  enum { N = 4003 };
  float *x = malloc(N * 4), *y = malloc(N * 4), *want = malloc(N * 4);
  /* Geometric magnitudes from 1e-6 to 200 with both signs, then exact
   * edges: 0, the tanh series boundary 0.3, the expm1 series boundary
   * -0.5, saturation, exp's clamp. */
  const float edges[] = {0.0f, 0.3f, -0.3f, 0.2999999f, -0.5f, -0.50000006f,
                         87.0f, -87.0f, 88.0f, -88.0f, 1e30f, -1e30f, -FLT_MIN};
  enum { E = sizeof edges / sizeof edges[0] };
  for (size_t i = 0; i < N - E; i++) {
    float m = 1e-6f * powf(2e8f, (float)(i / 2) / (float)((N - E) / 2));
    x[i] = i % 2 ? -m : m;
  }
  memcpy(x + N - E, edges, sizeof edges);
  for (size_t a = 0; a < N_EXP_ACTS; a++) {
    dyce__activation act = act_of(acts[a]);
    S()->activation(N, x, act, y);
    R()->activation(N, x, act, want);
    int bad = 0;
    float worst = 0.0f;
    for (size_t i = 0; i < N; i++) {
      /* 4 ulp relative; values under 1e-30 (far tails) absolutely. */
      float ulps = acts[a] == DYCE__ACT_GELU ? 8.0f : 4.0f;
      if (acts[a] == DYCE__ACT_GELU_TANH)
        ulps *= fminf(1.0f + fabsf(x[i] * (1.5957691f + 0.0713548f * x[i] * x[i])),
                      1e6f);
      float err = fabsf(y[i] - want[i]),
            tol = 1.2e-7f * ulps * fabsf(want[i]) + 1e-30f;
      if (!(err <= tol)) {
        if (bad++ < 3)
          fprintf(stderr, "  act %d x %.9g: %.9g vs %.9g\n", (int)acts[a],
                  (double)x[i], (double)y[i], (double)want[i]);
      }
      if (want[i] != 0.0f && err / fabsf(want[i]) > worst) worst = err / fabsf(want[i]);
    }
    CHECK_MSG(bad == 0, "act %d: %d of %d beyond tolerance (worst %.3g relative)",
              (int)acts[a], bad, N, (double)worst);
  }
  free(x); free(y); free(want);
}

/* Every table serves every op of the kernel lists (kernels.h); the
 * optional convolution state comes as a pair or not at all. */
#define CHECK_PRESENT(p, ret, field, params) \
  CHECK_MSG(k->field != NULL, "%s has no %s", k->name, #field);
static void tables_complete(void) {
  const dyce__kernels *tables[] = {
    &dyce__kernels_ref, &dyce__kernels_simd,
#if defined(DYCE_XNNPACK) || defined(DYCE_XNNPACK_ORACLE)
    &dyce__kernels_xnnpack,
#endif
  };
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    const dyce__kernels *k = tables[t];
    DYCE__KERNELS_CONV2D(CHECK_PRESENT, _)
    DYCE__KERNELS_FC(CHECK_PRESENT, _)
    DYCE__KERNELS_POOL(CHECK_PRESENT, _)
    DYCE__KERNELS_ELEMENTWISE(CHECK_PRESENT, _)
    DYCE__KERNELS_SCALAR(CHECK_PRESENT, _)
    CHECK_MSG(!k->prepare_conv2d == !k->release_conv2d,
              "%s: prepare_conv2d and release_conv2d come together", k->name);
  }
}
#undef CHECK_PRESENT

const test_case kernels_tests[] = {
    {"kernels", "tables_complete", tables_complete},
    {"kernels", "conv_dense_edges", conv_dense_edges},
    {"kernels", "conv_winograd", conv_winograd},
    {"kernels", "conv_depthwise_edges", conv_depthwise_edges},
    {"kernels", "conv_fallbacks_and_activations",
     conv_fallbacks_and_activations},
    {"kernels", "conv_random_geometries", conv_random_geometries},
    {"kernels", "igemm_edges", igemm_edges},
    {"kernels", "fc_edges", fc_edges},
    {"kernels", "pool_edges", pool_edges},
    {"kernels", "global_pool_edges", global_pool_edges},
    {"kernels", "elementwise_edges", elementwise_edges},
    {"kernels", "exp_activations_accuracy", exp_activations_accuracy},
    {0},
};
