/*
 * Int8 convolution and fully connected layer through the SIMD kernels
 * (docs/INT8.md; layouts in q8.h). Dense convolutions (groups 1, any
 * window; 1x1 included) run the igemm microkernels over one input pointer
 * per output pixel and tap, built in scratch a tile of MR pixels at a
 * time (padding taps point at a row of the input zero point); depthwise
 * ones run q8_dwconv.c; grouped convolutions and channel multipliers the
 * scalar reference, as the float table does.
 */
#include <string.h>

#include "../ref/ref.h"
#include "q8.h"

#define MR DYCE__Q8_MR
#define NR DYCE__Q8_NR

typedef enum { Q8_DENSE, Q8_DEPTHWISE, Q8_REFERENCE } q8_kind;

/* By the packed sizes: a width level may run a depthwise convolution over
 * one channel (groups 1) with its depthwise weights. */
static q8_kind kind_of(const dyce__window *g) {
  if (g->packed_groups == 1) return Q8_DENSE;
  if (g->packed_groups == g->packed_in_c && g->packed_out_c == g->packed_in_c)
    return Q8_DEPTHWISE;
  return Q8_REFERENCE;
}

static size_t taps(const dyce__window *g) { return (size_t)g->kh * g->kw; }

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

size_t dyce__simd_q8_conv2d_packed_bytes(const dyce__window *g) {
  switch (kind_of(g)) {
    case Q8_DENSE: return round8(g->packed_out_c) * taps(g) * g->packed_in_c;
    case Q8_DEPTHWISE: return dyce__q8_dwconv_packed_bytes(g);
    default: return dyce__ref_q8_conv2d_packed_bytes(g);
  }
}

void dyce__simd_pack_q8_conv2d(const dyce__window *g, const int8_t *ohwi,
                               void *dst) {
  switch (kind_of(g)) {
    case Q8_DENSE:
      dyce__q8_pack_gemm(g->packed_out_c, taps(g), g->packed_in_c, ohwi, dst);
      break;
    case Q8_DEPTHWISE: dyce__q8_pack_dwconv(g, ohwi, dst); break;
    default: dyce__ref_pack_q8_conv2d(g, ohwi, dst); break;
  }
}

/* Dense scratch: a row of packed_in_c zero points (rounded to 16 bytes,
 * so the pointers after it are aligned), then MR * taps pointers. In 64
 * bits and saturated: SIZE_MAX makes the planner refuse a crafted window. */
static size_t zero_bytes(const dyce__window *g) {
  return ((size_t)g->packed_in_c + 15) & ~(size_t)15;
}

size_t dyce__simd_q8_conv2d_scratch_bytes(const dyce__window *g) {
  switch (kind_of(g)) {
    case Q8_DENSE: {
      uint64_t bytes = (uint64_t)zero_bytes(g) +
                       (uint64_t)MR * taps(g) * sizeof(const int8_t *);
      return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
    }
    case Q8_DEPTHWISE: return dyce__q8_dwconv_scratch_bytes(g);
    default: return dyce__ref_q8_conv2d_scratch_bytes(g);
  }
}

/* The kh*kw input pointers of output pixel (oy, ox) (padding taps:
 * `zero`). 1x1 windows without padding skip the bounds checks. */
static void pixel_taps(const dyce__window *g, const int8_t *in,
                       const int8_t *zero, uint32_t oy, uint32_t ox,
                       const int8_t **p) {
  long iy0 = (long)oy * g->sh - (long)g->pad_t;
  long ix0 = (long)ox * g->sw - (long)g->pad_l;
  for (uint32_t ky = 0; ky < g->kh; ky++) {
    long iy = iy0 + (long)ky * g->dh;
    int row_inside = iy >= 0 && iy < (long)g->in_h;
    for (uint32_t kx = 0; kx < g->kw; kx++) {
      long ix = ix0 + (long)kx * g->dw;
      *p++ = row_inside && ix >= 0 && ix < (long)g->in_w
                 ? in + ((size_t)iy * g->in_w + (size_t)ix) * g->in_c
                 : zero;
    }
  }
}

static void conv_dense(const dyce__window *g, const int8_t *in,
                       int32_t in_zp, const int8_t *packed,
                       const int32_t *bias, const dyce__q8_out *o,
                       int8_t *out, void *scratch) {
  int8_t *zero = scratch;
  const int8_t **ptr = (const int8_t **)(void *)(zero + zero_bytes(g));
  const size_t t = taps(g), pixels = (size_t)g->out_h * g->out_w;
  memset(zero, (int8_t)in_zp, g->in_c);
  uint32_t oy = 0, ox = 0;
  for (size_t m0 = 0; m0 < pixels; m0 += MR) {
    size_t mr = pixels - m0 < MR ? pixels - m0 : MR;
    for (size_t i = 0; i < mr; i++) {
      pixel_taps(g, in, zero, oy, ox, ptr + i * t);
      if (++ox == g->out_w) ox = 0, oy++;
    }
    dyce__q8_igemm_fn fn = mr == 1 ? dyce__q8_igemm_1x8 : dyce__q8_igemm_4x8;
    fn(mr, g->out_c, g->in_c, g->packed_in_c, t, ptr, in_zp, packed, bias, o,
       out + m0 * g->out_c, g->out_c);
  }
}

void dyce__simd_q8_conv2d(const dyce__window *g, const int8_t *in,
                          int32_t in_zp, const void *packed,
                          const int32_t *bias, const dyce__q8_out *o,
                          int8_t *out, void *scratch) {
  switch (kind_of(g)) {
    case Q8_DENSE:
      conv_dense(g, in, in_zp, packed, bias, o, out, scratch);
      break;
    case Q8_DEPTHWISE:
      dyce__q8_dwconv(g, in, in_zp, packed, bias, o, out, scratch);
      break;
    default:
      dyce__ref_q8_conv2d(g, in, in_zp, packed, bias, o, out, scratch);
      break;
  }
}

/* Fully connected: the 1x8 microkernel, one tap of k_packed rows. */
size_t dyce__simd_q8_fc_packed_bytes(size_t k, size_t n) {
  return round8(n) * k;
}

void dyce__simd_pack_q8_fc(size_t k, size_t n, const int8_t *nk, void *dst) {
  dyce__q8_pack_gemm(n, 1, k, nk, dst);
}

void dyce__simd_q8_fully_connected(size_t k, size_t k_packed, size_t n,
                                   const int8_t *in, int32_t in_zp,
                                   const void *packed, const int32_t *bias,
                                   const dyce__q8_out *o, int8_t *out) {
  const int8_t *row[1] = {in};
  dyce__q8_igemm_1x8(1, n, k, k_packed, 1, row, in_zp, packed, bias, o, out,
                     n);
}
