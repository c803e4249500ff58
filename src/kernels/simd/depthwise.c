/* Depthwise convolution driver. 3x3 windows and 5x5 ones on wide rows go
 * to the row kernels (dwconv_rows.c, dwconv_rows5.c); other windows: per
 * output pixel, one pointer per tap
 * (padding taps point at a zero pixel in scratch), then the microkernel
 * over all channels. Weights packed [C / 8][kh * kw][8]. */
#include "dwconv_rows.h"

#define CFG dyce__simd_config_this_target

static size_t blocks(const dyce__window *g) {
  return (g->out_c + CFG.dw_cr - 1) / CFG.dw_cr;
}

size_t dyce__simd_dwconv_packed_floats(const dyce__window *g) {
  return blocks(g) * g->kh * g->kw * CFG.dw_cr;
}

void dyce__simd_pack_dwconv(const dyce__window *g, const float *ohwi,
                            float *dst) {
  size_t taps = (size_t)g->kh * g->kw, cr = CFG.dw_cr;
  memset(dst, 0, sizeof(float) * dyce__simd_dwconv_packed_floats(g));
  for (size_t o = 0; o < g->out_c; o++)
    for (size_t t = 0; t < taps; t++)
      dst[((o / cr) * taps + t) * cr + o % cr] = ohwi[o * taps + t];
}

static int rows_3x3(const dyce__window *g) { return g->kh == 3 && g->kw == 3; }

/* The 5x5 row kernel makes a pass per kernel row over the output row, so
 * it pays where most columns are interior: 1.9x faster than per pixel at
 * 28x28 (24 of 28), equal at 14x14 (10 of 14), 2.8x slower at 7x7 (3 of
 * 7; EfficientNet-B0's shapes, tests/bench/kernels.sh). */
static int rows_5x5(const dyce__window *g) {
  if (g->kh != 5 || g->kw != 5) return 0;
  dyce__dw_rows r = dyce__dw_rows_of(g, 5);
  return 4 * (r.hi - r.lo) >= 3 * (size_t)g->out_w;
}

/* 3x3: a zero input row (in_w * in_c floats; packed_in_c bounds the
 * channels of every width level). 5x5 by rows: none. Others: a zero
 * pixel (doubles as the zero bias), then the tap pointers. */
size_t dyce__simd_dwconv_scratch_bytes(const dyce__window *g) {
  if (rows_3x3(g)) return (size_t)g->in_w * g->packed_in_c * sizeof(float);
  if (rows_5x5(g)) return 0;
  return dyce__round4(g->in_c) * sizeof(float) + (size_t)g->kh * g->kw * sizeof(float *);
}

void dyce__simd_dwconv(const dyce__window *g, const float *in,
                       const float *packed, const float *bias,
                       dyce__clamp clamp, float *out, void *scratch) {
  float *zero = scratch;
  if (rows_3x3(g)) {
    memset(zero, 0, (size_t)g->in_w * g->in_c * sizeof(float));
    CFG.dwconv_3x3(g, in, packed, bias, clamp, out, zero);
    return;
  }
  if (rows_5x5(g)) {
    CFG.dwconv_5x5_rows(g, in, packed, bias, clamp, out, NULL);
    return;
  }
  size_t c = g->in_c, zero_floats = dyce__round4(c);
  const float **tap = (const float **)(void *)(zero + zero_floats);
  memset(zero, 0, sizeof(float) * zero_floats);
  if (!bias) bias = zero;
  dyce__dwconv_fn fn = g->kh == 5 && g->kw == 5 ? CFG.dwconv_5x5 : CFG.dwconv_any;
  size_t taps = (size_t)g->kh * g->kw;
  size_t pixels = (size_t)g->out_h * g->out_w;
  for (size_t i = 0; i < pixels; i++) {
    dyce__simd_pixel_taps(g, in, zero, i, tap);
    fn(c, taps, tap, packed, bias, out + i * c, clamp);
  }
}
