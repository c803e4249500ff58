/* The exact int8 Winograd F(2x2, 3x3) of the SIMD table
 * (src/kernels/simd/q8_winograd.c) against the reference table's direct
 * convolution, bit-exact: every output size 1x1 ... 9x9 (odd sizes: a
 * partial last 2x2 block), padding 0 and 1, input channels 1 ... 454 (the
 * int32 limit) and past it (the direct path again), output channels not
 * multiples of 8, inputs and weights at the extremes of int8 (the largest
 * transformed values), width-level prefixes of the packed channels, and
 * bands of output rows (threads) starting at every row. */
#include <string.h>

#include "test_q8.h"

static const dyce__kernels *S(void) { return &dyce__kernels_simd; }
static const dyce__kernels *R(void) { return &dyce__kernels_ref; }

/* in_zp, out_zp, qmin, qmax */
static const int32_t WZ[][4] = {{3, -5, -128, 127},   {-128, -128, -128, 127},
                                {127, 127, -128, 127}, {-7, -20, -20, 127},
                                {0, 10, -30, 60}};
#define N_WZ (sizeof WZ / sizeof WZ[0])

typedef struct wino_case {
  uint32_t h, w, cin, cout, pad, act_in, act_out;
  int extreme; /* 0 random; 1 inputs and weights at the ends; 2 constant max */
  size_t z;
} wino_case;

/* The Winograd layout's size: tells the SIMD table took that path. */
static size_t wino_bytes(const dyce__window *g) {
  return 16 * (size_t)((g->packed_out_c + 7) / 8) *
         (size_t)((g->packed_in_c + 7) / 8 * 8) * 8 * 2;
}

static int8_t *wino_data(size_t n, int extreme, int lo, int hi) {
  int8_t *p = q8_rand(n, lo, hi);
  for (size_t i = 0; i < n && extreme; i++)
    p[i] = (int8_t)(extreme == 2 || test_rand() % 2 ? hi : lo);
  return p;
}

/* Rows [y0, y1) of g as the threads' band (src/ops/conv2d.c band_window). */
static void run_band(const dyce__window *g, const int8_t *in, int32_t zp,
                     const void *packed, const int32_t *bias,
                     const dyce__q8_out *o, int8_t *out, void *scratch,
                     uint32_t y0, uint32_t y1) {
  dyce__window sub = *g;
  long first = (long)y0 - (long)g->pad_t;
  size_t in_row = first > 0 ? (size_t)first : 0;
  sub.pad_t = first < 0 ? (uint32_t)-first : 0;
  sub.in_h = g->in_h - (uint32_t)in_row;
  sub.out_h = y1 - y0;
  S()->q8_conv2d(&sub, in + in_row * g->in_w * g->in_c, zp, packed, bias, o,
                 out + (size_t)y0 * g->out_w * g->out_c, scratch);
}

/* Runs c (bands: every band [y0, y1) of the output rows too). */
static void wino_run(wino_case c, int bands) {
  const int32_t *z = WZ[c.z % N_WZ];
  q8_conv_spec s = {c.h, c.w, c.cin, c.cout, 1, 3, 3, 1, c.pad, 1,
                    c.act_in, c.act_out, z[0], z[1], z[2], z[3]};
  dyce__window full = q8_window(&s, 0), g = q8_window(&s, 1);
  size_t nx = (size_t)c.h * c.w * g.in_c, ny = (size_t)g.out_h * g.out_w * g.out_c;
  int8_t *x = wino_data(nx, c.extreme, -128, 127);
  int8_t *w = wino_data((size_t)c.cout * 9 * c.cin, c.extreme, -127, 127);
  int32_t *bias = malloc(c.cout * sizeof(int32_t));
  for (size_t i = 0; i < c.cout; i++)
    bias[i] = (int32_t)(test_rand() % 2000001u) - 1000000;
  float *mult = q8_mults(c.cout, 9 * (size_t)c.cin);
  dyce__q8_out o = {mult, s.out_zp, s.qmin, s.qmax};
  size_t pb = S()->q8_conv2d_packed_bytes(&full);
  /* (The no-SIMD build's table runs the reference int8 kernels.) */
  int wino = c.cin >= 8 && c.cin <= 454 &&
             S()->q8_conv2d != R()->q8_conv2d;
  CHECK_MSG((pb == wino_bytes(&full)) == wino, "winograd %s for %u channels",
            wino ? "not taken" : "taken", c.cin);
  void *ps = malloc(pb), *pr = malloc(R()->q8_conv2d_packed_bytes(&full) + 1);
  size_t sb = S()->q8_conv2d_scratch_bytes(&full);
  void *scratch = malloc(sb + 1);
  memset(scratch, 0xA5, sb);
  int8_t *y = malloc(ny + 1), *want = malloc(ny + 1), *band = malloc(ny + 1);
  S()->pack_q8_conv2d(&full, w, ps);
  R()->pack_q8_conv2d(&full, w, pr);
  S()->q8_conv2d(&g, x, s.in_zp, ps, bias, &o, y, scratch);
  R()->q8_conv2d(&g, x, s.in_zp, pr, bias, &o, want, NULL);
  CHECK_MSG(memcmp(y, want, ny) == 0,
            "winograd != ref: %ux%ux%u->%u p%u level %u->%u extreme %d zp %d",
            c.h, c.w, c.cin, c.cout, c.pad, c.act_in, c.act_out, c.extreme,
            s.in_zp);
  for (uint32_t y0 = 0; bands && y0 < g.out_h; y0++)
    for (uint32_t y1 = y0 + 1; y1 <= g.out_h; y1++) {
      memset(band, 0x5A, ny);
      run_band(&g, x, s.in_zp, ps, bias, &o, band, scratch, y0, y1);
      size_t row = (size_t)g.out_w * g.out_c;
      CHECK_MSG(memcmp(band + y0 * row, want + y0 * row, (y1 - y0) * row) == 0,
                "winograd band [%u, %u) of %ux%ux%u->%u p%u", y0, y1, c.h,
                c.w, c.cin, c.cout, c.pad);
    }
  free(x); free(w); free(bias); free(mult); free(ps); free(pr); free(scratch);
  free(y); free(want); free(band);
}

static void q8_winograd_sizes(void) {
  size_t i = 0;
  for (uint32_t oh = 1; oh <= 9; oh++)
    for (uint32_t ow = 1; ow <= 9; ow++, i++) {
      uint32_t pad = (oh + ow) % 2, cin = 8 + (oh * ow) % 11;
      uint32_t cout = 1 + (oh + 3 * ow) % 19;
      wino_case c = {oh + 2 - 2 * pad, ow + 2 - 2 * pad, cin, cout, pad,
                     0, 0, 0, i};
      wino_run(c, 0);
      c.pad = 1 - pad, c.h = oh + 2 - 2 * c.pad, c.w = ow + 2 - 2 * c.pad;
      wino_run(c, 0);
    }
}

static void q8_winograd_channels(void) {
  static const uint32_t cins[] = {1, 2, 3, 5, 7, 8, 9, 10, 11, 12, 13, 14,
                                  15, 16, 17, 20, 24, 31, 32, 33, 40, 63,
                                  64, 65, 96, 127, 128, 129, 200, 255, 256,
                                  257, 300, 453, 454, 455};
  static const uint32_t couts[] = {1, 3, 8, 9, 16, 23};
  for (size_t a = 0; a < sizeof cins / sizeof cins[0]; a++) {
    wino_case c = {5, 6, cins[a], couts[a % 6], 1, 0, 0, 0, a};
    wino_run(c, 0);
    c.h = 4, c.w = 3, c.pad = 0, c.cout = couts[(a + 3) % 6];
    wino_run(c, 0);
  }
  /* The largest transformed values: inputs and weights at the ends of
   * int8 (zero points -128 and 127), random and all equal. */
  static const uint32_t big[] = {8, 64, 256, 453, 454, 455};
  for (size_t a = 0; a < sizeof big / sizeof big[0]; a++)
    for (int e = 1; e <= 2; e++)
      for (size_t zi = 1; zi <= 2; zi++) {
        wino_case c = {6, 5, big[a], 9, 1, 0, 0, e, zi};
        wino_run(c, 0);
      }
}

static void q8_winograd_levels_and_bands(void) {
  static const uint32_t lv[][4] = {/* packed in, out; active in, out */
      {24, 20, 13, 11}, {16, 16, 1, 1}, {16, 9, 9, 3}, {17, 8, 16, 8},
      {64, 40, 33, 17}, {8, 8, 7, 5}, {454, 12, 300, 12}};
  for (size_t i = 0; i < sizeof lv / sizeof lv[0]; i++)
    for (uint32_t pad = 0; pad <= 1; pad++) {
      wino_case c = {7 + (uint32_t)i % 3, 6, lv[i][0], lv[i][1], pad,
                     lv[i][2], lv[i][3], 0, i + pad};
      wino_run(c, 0);
    }
  for (size_t z = 0; z < N_WZ; z++) {
    wino_case c = {9, 7, 16, 12, 1, 0, 0, 0, z};
    wino_run(c, 1);
    c = (wino_case){10, 5, 13, 9, 0, 0, 0, 0, z};
    wino_run(c, 1);
    c = (wino_case){8, 8, 24, 10, 1, 17, 5, 0, z};
    wino_run(c, 1);
  }
}

void q8_test_winograd(void) {
  q8_winograd_sizes();
  q8_winograd_channels();
  q8_winograd_levels_and_bands();
}
