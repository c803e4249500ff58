/* Pooling over NHWC, 4 channels per vector with a partial tail: max,
 * average (floor mode, with or without padding in the count), global
 * average and global max. */
#include "simd.h"


/* Valid input range [lo, hi) of a window along one axis. */
static void window_range(uint32_t o, uint32_t stride, uint32_t pad,
                         uint32_t k, uint32_t size, size_t *lo, size_t *hi) {
  long start = (long)o * stride - (long)pad;
  long end = start + (long)k > (long)size ? (long)size : start + (long)k;
  *lo = start < 0 ? 0 : (size_t)start;
  *hi = (size_t)end;
}

/* One output pixel of a max (is_max) or sum pool over channels. */
static void pool_pixel(const dyce__window *g, const float *in, uint32_t oy,
                       uint32_t ox, int is_max, float scale_all,
                       int count_include_pad, dyce__activation act,
                       float *o) {
  size_t y0, y1, x0, x1, c = g->in_c;
  window_range(oy, g->sh, g->pad_t, g->kh, g->in_h, &y0, &y1);
  window_range(ox, g->sw, g->pad_l, g->kw, g->in_w, &x0, &x1);
  dyce__vf scale = dyce__vf_splat(
      count_include_pad ? scale_all : 1.0f / (float)((y1 - y0) * (x1 - x0)));
  for (size_t k = 0; k < c; k += 4) {
    size_t m = c - k < 4 ? c - k : 4;
    dyce__vf acc = dyce__vf_splat(is_max ? -INFINITY : 0.0f);
    for (size_t y = y0; y < y1; y++)
      for (size_t x = x0; x < x1; x++) {
        dyce__vf v = dyce__vf_load_n(in + (y * g->in_w + x) * c + k, m);
        acc = is_max ? dyce__vf_max(acc, v) : acc + v;
      }
    if (!is_max) acc = acc * scale;
    dyce__vf_store_n(o + k, dyce__vf_activate(act, acc), m);
  }
}

static void pool(const dyce__window *g, const float *in, int is_max,
                 int count_include_pad, dyce__activation act, float *out) {
  float scale_all = 1.0f / (float)(g->kh * g->kw);
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++)
      pool_pixel(g, in, oy, ox, is_max, scale_all, count_include_pad, act,
                 out + ((size_t)oy * g->out_w + ox) * g->in_c);
}

void dyce__simd_max_pool(const dyce__window *g, const float *in,
                         dyce__activation act, float *out) {
  pool(g, in, 1, 0, act, out);
}

void dyce__simd_avg_pool(const dyce__window *g, int count_include_pad,
                         const float *in, dyce__activation act, float *out) {
  pool(g, in, 0, count_include_pad, act, out);
}

/* Global pools read the map once, pixel by pixel, into one accumulator
 * per vector of a block of channels (a column of 4 channels at a time
 * re-read the map once per column: 24 times for 96 channels). Each
 * channel still sums or maxes its pixels in order, so the results are
 * those of the column loop bit for bit. */
#define GLOBAL_BLOCK 64 /* vectors: 256 channels, 1 KiB of accumulators */

static void global_pool(size_t hw, size_t c, const float *in, int is_max,
                        dyce__activation act, float *out) {
  dyce__vf acc[GLOBAL_BLOCK];
  dyce__vf scale = dyce__vf_splat(1.0f / (float)hw);
  for (size_t k0 = 0; k0 < c; k0 += 4 * GLOBAL_BLOCK) {
    size_t n = c - k0 < 4 * GLOBAL_BLOCK ? c - k0 : 4 * GLOBAL_BLOCK;
    size_t full = n / 4, tail = n % 4, v = full + (tail != 0);
    for (size_t j = 0; j < v; j++)
      acc[j] = is_max ? dyce__vf_load_n(in + k0 + 4 * j, j < full ? 4 : tail)
                      : dyce__vf_zero();
    for (size_t i = is_max ? 1 : 0; i < hw; i++) {
      const float *row = in + i * c + k0;
      if (is_max) {
        for (size_t j = 0; j < full; j++) acc[j] = dyce__vf_max(acc[j], dyce__vf_load(row + 4 * j));
        if (tail) acc[full] = dyce__vf_max(acc[full], dyce__vf_load_n(row + 4 * full, tail));
      } else {
        for (size_t j = 0; j < full; j++) acc[j] += dyce__vf_load(row + 4 * j);
        if (tail) acc[full] += dyce__vf_load_n(row + 4 * full, tail);
      }
    }
    for (size_t j = 0; j < v; j++)
      dyce__vf_store_n(out + k0 + 4 * j,
                       dyce__vf_activate(act, is_max ? acc[j] : acc[j] * scale),
                       j < full ? 4 : tail);
  }
}

void dyce__simd_global_avg_pool(size_t hw, size_t c, const float *in,
                                dyce__activation act, float *out) {
  global_pool(hw, c, in, 0, act, out);
}

void dyce__simd_global_max_pool(size_t hw, size_t c, const float *in,
                                dyce__activation act, float *out) {
  global_pool(hw, c, in, 1, act, out);
}
