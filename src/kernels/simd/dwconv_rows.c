/*
 * f32-dwconv-3x3r-4ch: 3x3 depthwise convolution one output row at a time,
 * 4 channels per step, the 9 weight vectors held in registers for the
 * whole row. The per-pixel kernel (dwconv.c) reloads its weights for
 * every pixel: 18 loads per 4 channels and tap-pointer bookkeeping for 9
 * multiply-adds; here it is 9 loads. 9 weights + accumulator + input =
 * 11 of V8's ~15 usable SIMD registers. Any stride and dilation; rows
 * outside the input read a zero row, columns outside it are skipped in
 * the edge pixels.
 */
#include "dwconv_rows.h"

#define TAPS 9

typedef dyce__dw_rows row_geometry;

/* One output pixel near a left/right edge: taps outside are skipped. */
static inline dyce__vf edge_pixel(const row_geometry *r,
                                  const float *const rows[3], size_t ox,
                                  const dyce__vf w[TAPS], dyce__vf acc,
                                  size_t lanes) {
  for (size_t kx = 0; kx < 3; kx++) {
    long ix = (long)(ox * r->sw) - (long)r->pad_l + (long)(kx * r->dw);
    if (ix < 0 || ix >= (long)r->in_w) continue;
    for (size_t ky = 0; ky < 3; ky++) {
      const float *p = rows[ky] + (size_t)ix * r->c;
      acc = dyce__vf_madd(acc, dyce__vf_load_n(p, lanes), w[ky * 3 + kx]);
    }
  }
  return acc;
}

/* One pixel whose 9 taps are inside: rows p0..p2, columns d apart. */
static inline __attribute__((always_inline)) dyce__vf interior_pixel(
    const float *p0, const float *p1, const float *p2, size_t d,
    const dyce__vf w[TAPS], dyce__vf acc, size_t lanes) {
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p0, lanes), w[0]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p0 + d, lanes), w[1]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p0 + 2 * d, lanes), w[2]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p1, lanes), w[3]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p1 + d, lanes), w[4]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p1 + 2 * d, lanes), w[5]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p2, lanes), w[6]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p2 + d, lanes), w[7]);
  acc = dyce__vf_madd(acc, dyce__vf_load_n(p2 + 2 * d, lanes), w[8]);
  return acc;
}

/* One output row, channels [c0, c0 + lanes) (rows[] already offset by
 * c0): every weight and the bias loaded once. */
static void row_block(const row_geometry *r, const float *const rows[3],
                      const float *wb, dyce__vf bias, float *out,
                      dyce__clamp clamp, size_t lanes) {
  dyce__vf w[TAPS];
  for (size_t t = 0; t < TAPS; t++) w[t] = dyce__vf_load(wb + t * 8);
  size_t c = r->c, ox = 0;
  for (; ox < r->lo; ox++)
    dyce__vf_store_n(out + ox * c,
            dyce__clamp_apply(clamp, edge_pixel(r, rows, ox, w, bias, lanes)),
            lanes);
  /* Interior columns (ox >= lo, so ox * sw >= pad_l). */
  if (ox < r->hi) {
    const size_t step = r->sw * c, d = r->dw * c;
    const float *p0 = rows[0] + (ox * r->sw - r->pad_l) * c;
    const float *p1 = rows[1] + (ox * r->sw - r->pad_l) * c;
    const float *p2 = rows[2] + (ox * r->sw - r->pad_l) * c;
    if (lanes == 4) {
      const dyce__vf w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3], w4 = w[4],
                     w5 = w[5], w6 = w[6], w7 = w[7], w8 = w[8];
      if (step == c && d == c) /* stride 1: two pixels share 2 of 3 columns */
        for (; ox + 2 <= r->hi;
             ox += 2, p0 += 2 * c, p1 += 2 * c, p2 += 2 * c) {
          dyce__vf x0 = dyce__vf_load(p0), x1 = dyce__vf_load(p0 + c);
          dyce__vf x2 = dyce__vf_load(p0 + 2 * c),
                   x3 = dyce__vf_load(p0 + 3 * c);
          dyce__vf a = dyce__vf_madd(bias, x0, w0),
                   b = dyce__vf_madd(bias, x1, w0);
          a = dyce__vf_madd(a, x1, w1), b = dyce__vf_madd(b, x2, w1);
          a = dyce__vf_madd(a, x2, w2), b = dyce__vf_madd(b, x3, w2);
          x0 = dyce__vf_load(p1), x1 = dyce__vf_load(p1 + c);
          x2 = dyce__vf_load(p1 + 2 * c), x3 = dyce__vf_load(p1 + 3 * c);
          a = dyce__vf_madd(a, x0, w3), b = dyce__vf_madd(b, x1, w3);
          a = dyce__vf_madd(a, x1, w4), b = dyce__vf_madd(b, x2, w4);
          a = dyce__vf_madd(a, x2, w5), b = dyce__vf_madd(b, x3, w5);
          x0 = dyce__vf_load(p2), x1 = dyce__vf_load(p2 + c);
          x2 = dyce__vf_load(p2 + 2 * c), x3 = dyce__vf_load(p2 + 3 * c);
          a = dyce__vf_madd(a, x0, w6), b = dyce__vf_madd(b, x1, w6);
          a = dyce__vf_madd(a, x1, w7), b = dyce__vf_madd(b, x2, w7);
          a = dyce__vf_madd(a, x2, w8), b = dyce__vf_madd(b, x3, w8);
          dyce__vf_store(out + ox * c, dyce__clamp_apply(clamp, a));
          dyce__vf_store(out + (ox + 1) * c, dyce__clamp_apply(clamp, b));
        }
      for (; ox < r->hi; ox++, p0 += step, p1 += step, p2 += step)
        dyce__vf_store(out + ox * c,
                       dyce__clamp_apply(
                           clamp, interior_pixel(p0, p1, p2, d, w, bias, 4)));
    } else { /* the last 1-3 channels of a width level's odd channel count */
      for (; ox < r->hi; ox++, p0 += step, p1 += step, p2 += step)
        dyce__vf_store_n(out + ox * c,
                dyce__clamp_apply(
                    clamp, interior_pixel(p0, p1, p2, d, w, bias, lanes)),
                lanes);
    }
  }
  for (; ox < r->out_w; ox++)
    dyce__vf_store_n(out + ox * c,
            dyce__clamp_apply(clamp, edge_pixel(r, rows, ox, w, bias, lanes)),
            lanes);
}

/* Weights packed [C / 8][9][8] (dyce__simd_pack_dwconv); `zero` holds
 * in_w * in_c zeros for rows above and below the input. */
void dyce__f32_dwconv_3x3r_4ch(const dyce__window *g, const float *in,
                               const float *packed, const float *bias,
                               dyce__clamp clamp, float *out,
                               const float *zero) {
  row_geometry r = dyce__dw_rows_of(g, 3);
  const size_t c = r.c, in_row = (size_t)g->in_w * c;
  for (uint32_t oy = 0; oy < g->out_h; oy++) {
    const float *rows[3];
    for (uint32_t ky = 0; ky < 3; ky++) {
      long iy = (long)oy * g->sh - (long)g->pad_t + (long)ky * g->dh;
      rows[ky] =
          iy >= 0 && iy < (long)g->in_h ? in + (size_t)iy * in_row : zero;
    }
    float *orow = out + (size_t)oy * g->out_w * c;
    for (size_t c0 = 0; c0 < c; c0 += 4) {
      size_t lanes = c - c0 < 4 ? c - c0 : 4;
      const float *at[3] = {rows[0] + c0, rows[1] + c0, rows[2] + c0};
      dyce__vf b = bias ? dyce__vf_load_n(bias + c0, lanes) : dyce__vf_zero();
      row_block(&r, at, packed + (c0 / 8) * TAPS * 8 + c0 % 8, b, orow + c0,
                clamp, lanes);
    }
  }
}
