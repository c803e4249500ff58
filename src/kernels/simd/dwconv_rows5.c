/*
 * f32-dwconv-5x5r-4ch: 5x5 depthwise convolution one output row and 4
 * channels at a time, one kernel row per pass: the pass holds that row's
 * 5 weight vectors in registers (25 would not fit in V8's ~15) and adds
 * its taps into the output row, the first pass starting from the bias,
 * the last one clamping. At stride 1 two pixels share 4 of their 5
 * columns: 6 loads for 10 multiply-adds. The per-pixel kernel (dwconv.c)
 * loads a weight and an input vector per multiply-add plus 25 tap
 * pointers per pixel. Kernel rows outside the input are skipped, columns
 * outside it in the edge pixels; any stride and dilation.
 */
#include "dwconv_rows.h"

#define K 5

/* One pass of kernel row `row` over output columns [x0, x1) that lie at
 * an edge: taps outside the input are skipped. */
static void edge_pass(const dyce__dw_rows *r, const float *row,
                      const dyce__vf w[K], size_t x0, size_t x1, float *out,
                      dyce__vf bias, int first, dyce__clamp clamp,
                      size_t lanes) {
  for (size_t ox = x0; ox < x1; ox++) {
    dyce__vf acc = first ? bias : dyce__vf_load_n(out + ox * r->c, lanes);
    for (size_t kx = 0; kx < K; kx++) {
      long ix = (long)(ox * r->sw) - (long)r->pad_l + (long)(kx * r->dw);
      if (ix < 0 || ix >= (long)r->in_w) continue;
      acc = dyce__vf_madd(acc, dyce__vf_load_n(row + (size_t)ix * r->c, lanes), w[kx]);
    }
    dyce__vf_store_n(out + ox * r->c, dyce__clamp_apply(clamp, acc), lanes);
  }
}

/* One pixel whose 5 taps are inside, p its first, d apart. */
static inline __attribute__((always_inline)) dyce__vf interior_pixel(
    const float *p, size_t d, const dyce__vf w[K], dyce__vf acc,
    size_t lanes) {
  for (size_t kx = 0; kx < K; kx++)
    acc = dyce__vf_madd(acc, dyce__vf_load_n(p + kx * d, lanes), w[kx]);
  return acc;
}

/* One pass of kernel row `row` (already offset by the channel block)
 * over the output row. `first`: start from the bias, else from what the
 * earlier passes stored; `clamp` is the identity but for the last pass. */
static void row_pass(const dyce__dw_rows *r, const float *row,
                     const float *wb, dyce__vf bias, int first,
                     dyce__clamp clamp, float *out, size_t lanes) {
  dyce__vf w[K];
  for (size_t kx = 0; kx < K; kx++) w[kx] = dyce__vf_load(wb + kx * 8);
  const size_t c = r->c;
  edge_pass(r, row, w, 0, r->lo, out, bias, first, clamp, lanes);
  size_t ox = r->lo;
  const size_t step = r->sw * c, d = r->dw * c;
  const float *p = row + (ox * r->sw - r->pad_l) * c;
  if (lanes == 4 && step == c && d == c) { /* stride 1: pixel pairs */
    const dyce__vf w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4];
    for (; ox + 2 <= r->hi; ox += 2, p += 2 * c) {
      float *o = out + ox * c;
      dyce__vf a = first ? bias : dyce__vf_load(o);
      dyce__vf b = first ? bias : dyce__vf_load(o + c);
      dyce__vf x = dyce__vf_load(p);
      a = dyce__vf_madd(a, x, w0);
      x = dyce__vf_load(p + c);
      a = dyce__vf_madd(a, x, w1), b = dyce__vf_madd(b, x, w0);
      x = dyce__vf_load(p + 2 * c);
      a = dyce__vf_madd(a, x, w2), b = dyce__vf_madd(b, x, w1);
      x = dyce__vf_load(p + 3 * c);
      a = dyce__vf_madd(a, x, w3), b = dyce__vf_madd(b, x, w2);
      x = dyce__vf_load(p + 4 * c);
      a = dyce__vf_madd(a, x, w4), b = dyce__vf_madd(b, x, w3);
      x = dyce__vf_load(p + 5 * c);
      b = dyce__vf_madd(b, x, w4);
      dyce__vf_store(o, dyce__clamp_apply(clamp, a));
      dyce__vf_store(o + c, dyce__clamp_apply(clamp, b));
    }
  }
  for (; ox < r->hi; ox++, p += step) {
    float *o = out + ox * c;
    dyce__vf acc = first ? bias : dyce__vf_load_n(o, lanes);
    dyce__vf_store_n(o, dyce__clamp_apply(clamp, interior_pixel(p, d, w, acc, lanes)),
            lanes);
  }
  edge_pass(r, row, w, ox, r->out_w, out, bias, first, clamp, lanes);
}

/* Weights packed [C / 8][25][8] (dyce__simd_pack_dwconv). Needs no
 * scratch: kernel rows above and below the input are skipped. */
void dyce__f32_dwconv_5x5r_4ch(const dyce__window *g, const float *in,
                               const float *packed, const float *bias,
                               dyce__clamp clamp, float *out,
                               const float *zero) {
  (void)zero;
  dyce__dw_rows r = dyce__dw_rows_of(g, K);
  const size_t c = r.c, in_row = (size_t)g->in_w * c;
  const dyce__clamp none = {dyce__vf_splat(-INFINITY), dyce__vf_splat(INFINITY)};
  for (uint32_t oy = 0; oy < g->out_h; oy++) {
    /* The kernel rows that fall inside the input. */
    const float *rows[K];
    size_t ky_of[K], nrows = 0;
    for (size_t ky = 0; ky < K; ky++) {
      long iy = (long)oy * g->sh - (long)g->pad_t + (long)(ky * g->dh);
      if (iy < 0 || iy >= (long)g->in_h) continue;
      rows[nrows] = in + (size_t)iy * in_row;
      ky_of[nrows++] = ky;
    }
    float *orow = out + (size_t)oy * g->out_w * c;
    for (size_t c0 = 0; c0 < c; c0 += 4) {
      size_t lanes = c - c0 < 4 ? c - c0 : 4;
      dyce__vf b = bias ? dyce__vf_load_n(bias + c0, lanes) : dyce__vf_zero();
      const float *wb = packed + (c0 / 8) * K * K * 8 + c0 % 8;
      if (nrows == 0) { /* every tap in the padding: the bias alone */
        for (size_t ox = 0; ox < r.out_w; ox++)
          dyce__vf_store_n(orow + ox * c + c0, dyce__clamp_apply(clamp, b), lanes);
        continue;
      }
      for (size_t i = 0; i < nrows; i++)
        row_pass(&r, rows[i] + c0, wb + ky_of[i] * K * 8, b, i == 0,
                 i + 1 == nrows ? clamp : none, orow + c0, lanes);
    }
  }
}
