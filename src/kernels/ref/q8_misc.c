/*
 * Reference int8 kernels besides convolution (docs/INT8.md): add / mul
 * with broadcast, the table activation, max / average pools, quantize,
 * dequantize and the data moves (concat, CHW flatten).
 */
#include <string.h>

#include "ref.h"

/* No multiply fused with an add (docs/INT8.md): GCC compiles ISO C
 * (-std=c11) with -ffp-contract=off; clang contracts within an expression
 * unless told not to. */
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

void dyce__ref_q8_binary(dyce__op op, size_t n, size_t c, const int8_t *a,
                         const int8_t *b, size_t b_count,
                         const dyce__q8_binary *q, int8_t *out) {
  for (size_t i = 0; i < n; i++) {
    /* b repeats: full (b_count == n), per channel (== c) or scalar (== 1). */
    int32_t bv = b_count == n ? b[i] : (b_count == 1 ? b[0] : b[i % c]);
    float v;
    if (op == DYCE__OP_ADD) {
      float fa = (float)(a[i] - q->zp_a) * q->ma;
      float fb = (float)(bv - q->zp_b) * q->mb;
      v = fa + fb;
    } else {
      v = (float)((a[i] - q->zp_a) * (bv - q->zp_b)) * q->ma;
    }
    out[i] = dyce__ref_q8_out(v, q->zp, q->qmin, q->qmax);
  }
}

void dyce__ref_q8_lut(size_t n, const int8_t *in, const int8_t *table,
                      int8_t *out) {
  for (size_t i = 0; i < n; i++) out[i] = table[in[i] + 128];
}

/* Valid input range [lo, hi) of a window along one axis. */
static void window_range(uint32_t o, uint32_t stride, uint32_t pad,
                         uint32_t k, uint32_t size, long *lo, long *hi) {
  long start = (long)o * stride - (long)pad;
  *lo = start < 0 ? 0 : start;
  *hi = start + (long)k > (long)size ? (long)size : start + (long)k;
}

static int8_t clamp8(int32_t v, int32_t lo, int32_t hi) {
  return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}

void dyce__ref_q8_max_pool(const dyce__window *g, const int8_t *in,
                           int32_t qmin, int32_t qmax, int8_t *out) {
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      long y0, y1, x0, x1;
      window_range(oy, g->sh, g->pad_t, g->kh, g->in_h, &y0, &y1);
      window_range(ox, g->sw, g->pad_l, g->kw, g->in_w, &x0, &x1);
      int8_t *o = out + ((size_t)oy * g->out_w + ox) * g->in_c;
      for (size_t c = 0; c < g->in_c; c++) {
        int32_t m = -128;
        for (long y = y0; y < y1; y++)
          for (long x = x0; x < x1; x++) {
            int32_t v = in[((size_t)y * g->in_w + x) * g->in_c + c];
            if (v > m) m = v;
          }
        o[c] = clamp8(m, qmin, qmax);
      }
    }
}

void dyce__ref_q8_avg_pool(const dyce__window *g, int count_include_pad,
                           const int8_t *in, const dyce__q8_pool *q,
                           int8_t *out) {
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      long y0, y1, x0, x1;
      window_range(oy, g->sh, g->pad_t, g->kh, g->in_h, &y0, &y1);
      window_range(ox, g->sw, g->pad_l, g->kw, g->in_w, &x0, &x1);
      /* Floor mode keeps every window inside the padded input, so the
       * padded count is always kh * kw (as the float op). */
      uint32_t count = count_include_pad ? g->kh * g->kw
                                         : (uint32_t)((y1 - y0) * (x1 - x0));
      float m = q->ratio / (float)count;
      int8_t *o = out + ((size_t)oy * g->out_w + ox) * g->in_c;
      for (size_t c = 0; c < g->in_c; c++) {
        int32_t acc = 0;
        for (long y = y0; y < y1; y++)
          for (long x = x0; x < x1; x++)
            acc += in[((size_t)y * g->in_w + x) * g->in_c + c] - q->in_zp;
        o[c] = dyce__ref_q8_out((float)acc * m, q->zp, q->qmin, q->qmax);
      }
    }
}

void dyce__ref_q8_global_avg_pool(size_t hw, size_t c, const int8_t *in,
                                  const dyce__q8_pool *q, int8_t *out) {
  float m = q->ratio / (float)hw;
  for (size_t k = 0; k < c; k++) {
    int32_t acc = 0;
    for (size_t i = 0; i < hw; i++) acc += in[i * c + k] - q->in_zp;
    out[k] = dyce__ref_q8_out((float)acc * m, q->zp, q->qmin, q->qmax);
  }
}

void dyce__ref_q8_global_max_pool(size_t hw, size_t c, const int8_t *in,
                                  int32_t qmin, int32_t qmax, int8_t *out) {
  for (size_t k = 0; k < c; k++) {
    int32_t m = -128;
    for (size_t i = 0; i < hw; i++)
      if (in[i * c + k] > m) m = in[i * c + k];
    out[k] = clamp8(m, qmin, qmax);
  }
}

void dyce__ref_quantize(size_t n, const float *in, float inv_scale,
                        int32_t zp, int8_t *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = dyce__ref_q8_out(in[i] * inv_scale, zp, -128, 127);
}

void dyce__ref_dequantize(size_t n, const int8_t *in, float scale,
                          int32_t zp, float *out) {
  for (size_t i = 0; i < n; i++) out[i] = (float)(in[i] - zp) * scale;
}

void dyce__ref_q8_concat_channels(size_t hw, size_t count, const size_t *c,
                                  const int8_t *const *in, int8_t *out) {
  for (size_t i = 0; i < hw; i++)
    for (size_t t = 0; t < count; t++)
      for (size_t k = 0; k < c[t]; k++) *out++ = in[t][i * c[t] + k];
}

void dyce__ref_q8_flatten_chw(size_t h, size_t w, size_t c, const int8_t *in,
                              int8_t *out) {
  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      for (size_t k = 0; k < c; k++)
        out[(k * h + y) * w + x] = in[(y * w + x) * c + k];
}
