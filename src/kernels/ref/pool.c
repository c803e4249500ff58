/* Reference pooling: max, average, global average and global max over NHWC. */
#include <math.h>

#include "../activation.h"
#include "../kernels.h"

/* Valid input range [lo, hi) of a window along one axis. */
static void window_range(uint32_t o, uint32_t stride, uint32_t pad,
                         uint32_t k, uint32_t size, long *lo, long *hi) {
  long start = (long)o * stride - (long)pad;
  *lo = start < 0 ? 0 : start;
  *hi = start + (long)k > (long)size ? (long)size : start + (long)k;
}

void dyce__ref_max_pool(const dyce__window *g, const float *in,
                        dyce__activation act, float *out) {
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      long y0, y1, x0, x1;
      window_range(oy, g->sh, g->pad_t, g->kh, g->in_h, &y0, &y1);
      window_range(ox, g->sw, g->pad_l, g->kw, g->in_w, &x0, &x1);
      float *o = out + ((size_t)oy * g->out_w + ox) * g->in_c;
      for (size_t c = 0; c < g->in_c; c++) o[c] = -INFINITY;
      for (long y = y0; y < y1; y++)
        for (long x = x0; x < x1; x++) {
          const float *p = in + ((size_t)y * g->in_w + x) * g->in_c;
          for (size_t c = 0; c < g->in_c; c++)
            if (p[c] > o[c]) o[c] = p[c];
        }
      for (size_t c = 0; c < g->in_c; c++)
        o[c] = dyce__activate(act.act, act.a, act.b, o[c]);
    }
}

void dyce__ref_avg_pool(const dyce__window *g, int count_include_pad,
                        const float *in, dyce__activation act, float *out) {
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      long y0, y1, x0, x1;
      window_range(oy, g->sh, g->pad_t, g->kh, g->in_h, &y0, &y1);
      window_range(ox, g->sw, g->pad_l, g->kw, g->in_w, &x0, &x1);
      float *o = out + ((size_t)oy * g->out_w + ox) * g->in_c;
      for (size_t c = 0; c < g->in_c; c++) o[c] = 0.0f;
      for (long y = y0; y < y1; y++)
        for (long x = x0; x < x1; x++) {
          const float *p = in + ((size_t)y * g->in_w + x) * g->in_c;
          for (size_t c = 0; c < g->in_c; c++) o[c] += p[c];
        }
      /* Floor mode keeps every window inside the padded input, so the
       * padded count is always kh * kw. */
      float n = count_include_pad ? (float)(g->kh * g->kw)
                                  : (float)((y1 - y0) * (x1 - x0));
      for (size_t c = 0; c < g->in_c; c++)
        o[c] = dyce__activate(act.act, act.a, act.b, o[c] / n);
    }
}

void dyce__ref_global_avg_pool(size_t hw, size_t c, const float *in,
                               dyce__activation act, float *out) {
  for (size_t k = 0; k < c; k++) out[k] = 0.0f;
  for (size_t i = 0; i < hw; i++)
    for (size_t k = 0; k < c; k++) out[k] += in[i * c + k];
  for (size_t k = 0; k < c; k++)
    out[k] = dyce__activate(act.act, act.a, act.b, out[k] / (float)hw);
}

void dyce__ref_global_max_pool(size_t hw, size_t c, const float *in,
                               dyce__activation act, float *out) {
  for (size_t k = 0; k < c; k++) out[k] = in[k];
  for (size_t i = 1; i < hw; i++)
    for (size_t k = 0; k < c; k++)
      if (in[i * c + k] > out[k]) out[k] = in[i * c + k];
  for (size_t k = 0; k < c; k++)
    out[k] = dyce__activate(act.act, act.a, act.b, out[k]);
}
