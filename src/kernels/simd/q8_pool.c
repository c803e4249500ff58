/*
 * Int8 pools over the vector layer: max pools 16 channels per step (i8
 * max), average pools 8 (i32 sums of the inputs, minus zp times the cells
 * summed: exact, so equal to the reference's sum of (q - zp); overflow-free
 * for windows of up to 2^23 cells), then the output stage of docs/INT8.md.
 */
#include <string.h>

#include "q8.h"

static void window_range(uint32_t o, uint32_t stride, uint32_t pad,
                         uint32_t k, uint32_t size, long *lo, long *hi) {
  long start = (long)o * stride - (long)pad;
  *lo = start < 0 ? 0 : start;
  *hi = start + (long)k > (long)size ? (long)size : start + (long)k;
}

static inline dyce__vb load16_n(const int8_t *p, size_t n) {
  if (n == 16) return dyce__vb_load(p);
  int8_t t[16];
  memset(t, -128, sizeof t);
  memcpy(t, p, n);
  return dyce__vb_load(t);
}
static inline void store16_n(int8_t *p, dyce__vb v, size_t n) {
  if (n == 16) {
    dyce__vb_store(p, v);
    return;
  }
  int8_t t[16];
  dyce__vb_store(t, v);
  memcpy(p, t, n);
}

/* Max of `cells` pixels (rows of `cols` pixels `row` bytes apart) over
 * channels [0, c), clamped, to out. */
static void max_cells(const int8_t *in, size_t rows, size_t cols, size_t row,
                      size_t c, int32_t qmin, int32_t qmax, int8_t *out) {
  const dyce__vb lo = dyce__vb_splat((int8_t)qmin), hi = dyce__vb_splat((int8_t)qmax);
  for (size_t c0 = 0; c0 < c; c0 += 16) {
    size_t n = c - c0 < 16 ? c - c0 : 16;
    dyce__vb m = dyce__vb_splat(-128);
    for (size_t y = 0; y < rows; y++)
      for (size_t x = 0; x < cols; x++)
        m = dyce__vb_max(m, load16_n(in + y * row + x * c + c0, n));
    store16_n(out + c0, dyce__vb_min(dyce__vb_max(m, lo), hi), n);
  }
}

void dyce__simd_q8_max_pool(const dyce__window *g, const int8_t *in,
                            int32_t qmin, int32_t qmax, int8_t *out) {
  size_t c = g->in_c, row = (size_t)g->in_w * c;
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      long y0, y1, x0, x1;
      window_range(oy, g->sh, g->pad_t, g->kh, g->in_h, &y0, &y1);
      window_range(ox, g->sw, g->pad_l, g->kw, g->in_w, &x0, &x1);
      max_cells(in + (size_t)y0 * row + (size_t)x0 * c, (size_t)(y1 - y0),
                (size_t)(x1 - x0), row, c, qmin, qmax,
                out + ((size_t)oy * g->out_w + ox) * c);
    }
}

void dyce__simd_q8_global_max_pool(size_t hw, size_t c, const int8_t *in,
                                   int32_t qmin, int32_t qmax, int8_t *out) {
  max_cells(in, 1, hw, 0, c, qmin, qmax, out);
}

/* Average of `rows` x `cols` pixels: sum, minus zp per cell, times
 * ratio / count. */
static void avg_cells(const int8_t *in, size_t rows, size_t cols, size_t row,
                      size_t c, size_t count, const dyce__q8_pool *q,
                      int8_t *out) {
  const dyce__q8_stage st = dyce__q8_stage_of(q->zp, q->qmin, q->qmax);
  const dyce__vf m = dyce__vf_splat(q->ratio / (float)count);
  const dyce__vi corr = dyce__vi_splat((int32_t)(rows * cols) * q->in_zp);
  for (size_t c0 = 0; c0 < c; c0 += 8) {
    size_t n = c - c0 < 8 ? c - c0 : 8;
    dyce__vi a0 = dyce__vi_splat(0), a1 = a0;
    for (size_t y = 0; y < rows; y++)
      for (size_t x = 0; x < cols; x++) {
        const int8_t *p = in + y * row + x * c + c0;
        dyce__vh v = n == 8 ? dyce__vh_load8(p) : dyce__vh_load8_partial(p, n, 0);
        a0 += dyce__vi_widen_lo(v), a1 += dyce__vi_widen_hi(v);
      }
    dyce__vi_store8(out + c0, dyce__vi_requant(a0 - corr, m, &st),
                    dyce__vi_requant(a1 - corr, m, &st), n);
  }
}

void dyce__simd_q8_avg_pool(const dyce__window *g, int count_include_pad,
                            const int8_t *in, const dyce__q8_pool *q,
                            int8_t *out) {
  size_t c = g->in_c, row = (size_t)g->in_w * c;
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      long y0, y1, x0, x1;
      window_range(oy, g->sh, g->pad_t, g->kh, g->in_h, &y0, &y1);
      window_range(ox, g->sw, g->pad_l, g->kw, g->in_w, &x0, &x1);
      size_t rows = (size_t)(y1 - y0), cols = (size_t)(x1 - x0);
      /* The reference's count: kh * kw with padding counted. */
      size_t count = count_include_pad ? (size_t)g->kh * g->kw : rows * cols;
      avg_cells(in + (size_t)y0 * row + (size_t)x0 * c, rows, cols, row, c,
                count, q, out + ((size_t)oy * g->out_w + ox) * c);
    }
}

void dyce__simd_q8_global_avg_pool(size_t hw, size_t c, const int8_t *in,
                                   const dyce__q8_pool *q, int8_t *out) {
  avg_cells(in, 1, hw, 0, c, hw, q, out);
}
