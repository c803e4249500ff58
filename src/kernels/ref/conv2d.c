/*
 * Reference convolution. Direct loops over NHWC, written so the innermost
 * loop runs over contiguous output channels.
 *
 * Packed layouts:
 *   grouped / dense (C/groups > 1): [groups][kh][kw][C/groups][Cout/groups]
 *   depthwise (C/groups == 1):      [kh][kw][Cout]
 * At a width level (dense with groups == 1, or depthwise) the loops run
 * over the active channels and index the weights with the packed sizes.
 */
#include <string.h>

#include "../activation.h"
#include "../kernels.h"

static int is_depthwise(const dyce__window *g) {
  return g->packed_in_c == g->packed_groups;
}

size_t dyce__ref_conv2d_packed_floats(const dyce__window *g) {
  return (size_t)g->out_c * g->kh * g->kw * (g->in_c / g->groups);
}

void dyce__ref_pack_conv2d(const dyce__window *g, const float *ohwi,
                           float *dst) {
  size_t cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups;
  for (size_t o = 0; o < g->out_c; o++) {
    size_t grp = o / cout_g, og = o % cout_g;
    for (size_t y = 0; y < g->kh; y++)
      for (size_t x = 0; x < g->kw; x++)
        for (size_t i = 0; i < cin_g; i++) {
          float v = ohwi[((o * g->kh + y) * g->kw + x) * cin_g + i];
          size_t at = is_depthwise(g)
                          ? (y * g->kw + x) * g->out_c + o
                          : (((grp * g->kh + y) * g->kw + x) * cin_g + i) *
                                    cout_g + og;
          dst[at] = v;
        }
  }
}

size_t dyce__ref_conv2d_scratch_bytes(const dyce__window *g) {
  (void)g;
  return 0;
}

/* Input row/column of kernel tap k for output position o, or -1 if the
 * tap falls in the padding. */
static long tap(uint32_t o, uint32_t stride, uint32_t pad, uint32_t k,
                uint32_t dil, uint32_t size) {
  long at = (long)o * stride - (long)pad + (long)k * dil;
  return (at >= 0 && at < (long)size) ? at : -1;
}

static void conv_pixel_dense(const dyce__window *g, const float *in,
                             const float *w, uint32_t oy, uint32_t ox,
                             float *o) {
  size_t cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups;
  size_t pin_g = g->packed_in_c / g->groups;
  size_t pout_g = g->packed_out_c / g->groups;
  for (size_t grp = 0; grp < g->groups; grp++) {
    float *og = o + grp * cout_g;
    for (uint32_t ky = 0; ky < g->kh; ky++) {
      long iy = tap(oy, g->sh, g->pad_t, ky, g->dh, g->in_h);
      if (iy < 0) continue;
      for (uint32_t kx = 0; kx < g->kw; kx++) {
        long ix = tap(ox, g->sw, g->pad_l, kx, g->dw, g->in_w);
        if (ix < 0) continue;
        const float *x = in + ((size_t)iy * g->in_w + ix) * g->in_c +
                         grp * cin_g;
        const float *wk =
            w + (((grp * g->kh + ky) * g->kw + kx) * pin_g) * pout_g;
        for (size_t ci = 0; ci < cin_g; ci++) {
          float xv = x[ci];
          const float *wr = wk + ci * pout_g;
          for (size_t co = 0; co < cout_g; co++) og[co] += xv * wr[co];
        }
      }
    }
  }
}

static void conv_pixel_depthwise(const dyce__window *g, const float *in,
                                 const float *w, uint32_t oy, uint32_t ox,
                                 float *o) {
  size_t mult = g->out_c / g->in_c;
  for (uint32_t ky = 0; ky < g->kh; ky++) {
    long iy = tap(oy, g->sh, g->pad_t, ky, g->dh, g->in_h);
    if (iy < 0) continue;
    for (uint32_t kx = 0; kx < g->kw; kx++) {
      long ix = tap(ox, g->sw, g->pad_l, kx, g->dw, g->in_w);
      if (ix < 0) continue;
      const float *x = in + ((size_t)iy * g->in_w + ix) * g->in_c;
      const float *wk = w + ((size_t)ky * g->kw + kx) * g->packed_out_c;
      if (mult == 1) {
        for (size_t c = 0; c < g->out_c; c++) o[c] += x[c] * wk[c];
      } else {
        for (size_t c = 0; c < g->out_c; c++) o[c] += x[c / mult] * wk[c];
      }
    }
  }
}

void dyce__ref_conv2d(const dyce__window *g, const float *in,
                      const float *packed, const float *bias,
                      dyce__activation act, float *out, void *scratch) {
  (void)scratch;
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      float *o = out + ((size_t)oy * g->out_w + ox) * g->out_c;
      if (bias)
        memcpy(o, bias, sizeof(float) * g->out_c);
      else
        memset(o, 0, sizeof(float) * g->out_c);
      if (is_depthwise(g))
        conv_pixel_depthwise(g, in, packed, oy, ox, o);
      else
        conv_pixel_dense(g, in, packed, oy, ox, o);
      if (act.act != DYCE__ACT_NONE)
        for (size_t c = 0; c < g->out_c; c++)
          o[c] = dyce__activate(act.act, act.a, act.b, o[c]);
    }
}

/* Every output is its own sum: any band of rows. */
uint32_t dyce__ref_conv2d_row_block(const dyce__window *g) {
  (void)g;
  return 1;
}

/* Whole outputs only. */
uint32_t dyce__ref_conv2d_channel_block(const dyce__window *g) {
  (void)g;
  return 0;
}
