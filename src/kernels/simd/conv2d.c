/* Convolution through the SIMD kernels: dense convolutions (groups == 1,
 * any window, stride, padding, dilation; 1x1 included) run as a GEMM over
 * an indirection buffer built in the node's scratch each run; depthwise
 * ones use the depthwise microkernels; grouped convolutions and channel
 * multipliers fall back to the scalar reference. */
#include "../ref/ref.h"
#include "simd.h"

#define CFG dyce__simd_config_this_target

dyce__conv_kind dyce__simd_conv_kind(const dyce__window *g) {
  if (g->groups == 1) return DYCE__CONV_DENSE;
  if (g->groups == g->in_c && g->out_c == g->in_c) return DYCE__CONV_DEPTHWISE;
  return DYCE__CONV_REFERENCE;
}

static size_t taps(const dyce__window *g) { return (size_t)g->kh * g->kw; }

size_t dyce__simd_conv2d_packed_floats(const dyce__window *g) {
  switch (dyce__simd_conv_kind(g)) {
    case DYCE__CONV_DENSE:
      return dyce__simd_gemm_packed_floats(taps(g) * g->in_c, g->out_c, CFG.nr);
    case DYCE__CONV_DEPTHWISE: return dyce__simd_dwconv_packed_floats(g);
    default: return dyce__ref_conv2d_packed_floats(g);
  }
}

/* OHWI is [out_c][kh*kw*in_c], the k order the indirection buffer walks. */
void dyce__simd_pack_conv2d(const dyce__window *g, const float *ohwi,
                            float *dst) {
  switch (dyce__simd_conv_kind(g)) {
    case DYCE__CONV_DENSE:
      dyce__simd_pack_gemm(taps(g) * g->in_c, g->out_c, CFG.nr, ohwi, dst);
      break;
    case DYCE__CONV_DEPTHWISE: dyce__simd_pack_dwconv(g, ohwi, dst); break;
    default: dyce__ref_pack_conv2d(g, ohwi, dst); break;
  }
}

/* Dense scratch: a zero row of in_c floats for padding taps, then one
 * pointer per (output pixel, tap). */
static size_t zero_floats(const dyce__window *g) {
  return (g->in_c + 3) & ~(size_t)3;
}

size_t dyce__simd_conv2d_scratch_bytes(const dyce__window *g) {
  switch (dyce__simd_conv_kind(g)) {
    case DYCE__CONV_DENSE:
      return zero_floats(g) * sizeof(float) +
             (size_t)g->out_h * g->out_w * taps(g) * sizeof(float *);
    case DYCE__CONV_DEPTHWISE: return dyce__simd_dwconv_scratch_bytes(g);
    default: return dyce__ref_conv2d_scratch_bytes(g);
  }
}

static const float **build_indirection(const dyce__window *g, const float *in,
                                       void *scratch) {
  float *zero = scratch;
  const float **ind = (const float **)(void *)(zero + zero_floats(g));
  memset(zero, 0, sizeof(float) * zero_floats(g));
  const float **p = ind;
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++)
      for (uint32_t ky = 0; ky < g->kh; ky++) {
        long iy = (long)oy * g->sh - (long)g->pad_t + (long)ky * g->dh;
        for (uint32_t kx = 0; kx < g->kw; kx++) {
          long ix = (long)ox * g->sw - (long)g->pad_l + (long)kx * g->dw;
          int inside = iy >= 0 && iy < (long)g->in_h && ix >= 0 &&
                       ix < (long)g->in_w;
          *p++ = inside ? in + ((size_t)iy * g->in_w + (size_t)ix) * g->in_c
                        : zero;
        }
      }
  return ind;
}

void dyce__simd_conv2d(const dyce__window *g, const float *in,
                       const float *packed, const float *bias,
                       dyce__activation act, float *out, void *scratch) {
  dyce__conv_kind kind = dyce__simd_conv_kind(g);
  if (kind == DYCE__CONV_REFERENCE) {
    dyce__ref_conv2d(g, in, packed, bias, act, out, scratch);
    return;
  }
  int rest;
  dyce__clamp clamp = dyce__simd_clamp(act, &rest);
  size_t pixels = (size_t)g->out_h * g->out_w;
  if (kind == DYCE__CONV_DEPTHWISE) {
    dyce__simd_dwconv(g, in, packed, bias, clamp, out, scratch);
  } else {
    const float **ind = build_indirection(g, in, scratch);
    dyce__simd_gemm_rows(pixels, g->out_c, g->in_c, taps(g), ind, packed,
                         bias, out, g->out_c, clamp);
  }
  if (rest) dyce__simd_activate(act, out, pixels * g->out_c);
}
