/* Resize (F.interpolate, nn.Upsample): nearest and bilinear, with
 * PyTorch's source coordinates and blend order, so results agree with it
 * to rounding. */
#include <math.h>

#include "../kernels.h"

/* Source position of output index `dst` along an axis of `in` cells. */
float dyce__resize_source(const dyce__resize *r, float inv, uint32_t dst) {
  if (!r->bilinear || r->align_corners) return inv * (float)dst;
  float s = inv * ((float)dst + 0.5f) - 0.5f;
  return s < 0.0f ? 0.0f : s;
}

/* The cell the position falls in, at most the last (compared as a float:
 * the loader bounds the positions, this bounds the conversion). */
static uint32_t nearest(float s, uint32_t in) {
  return s < (float)in ? (uint32_t)floorf(s) : in - 1;
}

void dyce__ref_resize(const dyce__resize *r, const float *in, float *out) {
  size_t c = r->c;
  for (uint32_t y = 0; y < r->out_h; y++) {
    float sy = dyce__resize_source(r, r->inv_h, y);
    for (uint32_t x = 0; x < r->out_w; x++, out += c) {
      float sx = dyce__resize_source(r, r->inv_w, x);
      if (!r->bilinear) {
        const float *p = in + ((size_t)nearest(sy, r->in_h) * r->in_w +
                               nearest(sx, r->in_w)) * c;
        for (size_t k = 0; k < c; k++) out[k] = p[k];
        continue;
      }
      uint32_t y0 = nearest(sy, r->in_h), x0 = nearest(sx, r->in_w);
      uint32_t y1 = y0 + (y0 < r->in_h - 1), x1 = x0 + (x0 < r->in_w - 1);
      float ly = sy - (float)y0, lx = sx - (float)x0, hy = 1.0f - ly, hx = 1.0f - lx;
      const float *a = in + ((size_t)y0 * r->in_w + x0) * c;
      const float *b = in + ((size_t)y0 * r->in_w + x1) * c;
      const float *d = in + ((size_t)y1 * r->in_w + x0) * c;
      const float *e = in + ((size_t)y1 * r->in_w + x1) * c;
      for (size_t k = 0; k < c; k++)
        out[k] = hy * (hx * a[k] + lx * b[k]) + ly * (hx * d[k] + lx * e[k]);
    }
  }
}
