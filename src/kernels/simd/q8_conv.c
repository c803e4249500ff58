/*
 * Int8 convolution and fully connected layer through the SIMD kernels
 * (docs/INT8.md; layouts in q8.h). Dense convolutions (groups 1, any
 * window; 1x1 included) run the igemm microkernels (conv_dense), but 3x3
 * stride-1 ones within q8.h's channel range run the exact integer
 * Winograd of q8_winograd.c (same bits); depthwise ones run q8_dwconv.c;
 * other grouped convolutions and channel multipliers the igemm
 * microkernel once per group (conv_grouped), as the float table does.
 */
#include <string.h>

#include "../ref/ref.h"
#include "q8.h"

#define MR DYCE__Q8_MR
#define GEMM16 DYCE__Q8_GEMM16_MR
#define NR DYCE__Q8_NR

typedef enum { Q8_DENSE, Q8_WINOGRAD, Q8_DEPTHWISE, Q8_GROUPED, Q8_REFERENCE } q8_kind;

/* By the packed sizes: a width level may run a depthwise convolution over
 * one channel (groups 1) with its depthwise weights. */
static q8_kind kind_of(const dyce__window *g) {
  if (g->packed_groups == 1)
    return dyce__q8_winograd_applies(g) ? Q8_WINOGRAD : Q8_DENSE;
  if (g->packed_groups == g->packed_in_c && g->packed_out_c == g->packed_in_c)
    return Q8_DEPTHWISE;
  if (g->packed_in_c % g->packed_groups == 0 && g->packed_out_c % g->packed_groups == 0)
    return Q8_GROUPED; /* never narrowed by a width level (levels.c) */
  return Q8_REFERENCE;
}

static size_t taps(const dyce__window *g) { return (size_t)g->kh * g->kw; }

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

/* Grouped: each group's weights packed as a GEMM of its own, kh * kw
 * segments (taps) of in_c / groups rows. */
static size_t group_bytes(const dyce__window *g) {
  return dyce__q8_bytes(round8(g->out_c / g->groups), taps(g), g->in_c / g->groups);
}

/* Writes the kh*kw input-pixel pointers of output pixel `pixel` to p,
 * padding taps at `zero` (a pixel of zero points); returns p past them. */
static const int8_t **pixel_taps(const dyce__window *g, const int8_t *in,
                                 const int8_t *zero, size_t pixel,
                                 const int8_t **p) {
  size_t oy = pixel / g->out_w, ox = pixel % g->out_w;
  for (uint32_t ky = 0; ky < g->kh; ky++)
    for (uint32_t kx = 0; kx < g->kw; kx++) {
      long at = dyce__window_tap(g, oy, ox, ky, kx);
      *p++ = at < 0 ? zero : in + (size_t)at * g->in_c;
    }
  return p;
}

size_t dyce__simd_q8_conv2d_packed_bytes(const dyce__window *g) {
  switch (kind_of(g)) {
    case Q8_DENSE:
      return dyce__q8_bytes(round8(g->packed_out_c), (uint64_t)g->kh * g->kw,
                            g->packed_in_c);
    case Q8_WINOGRAD: return dyce__q8_winograd_packed_bytes(g);
    case Q8_DEPTHWISE: return dyce__q8_dwconv_packed_bytes(g);
    case Q8_GROUPED: {
      size_t one = group_bytes(g);
      return one > SIZE_MAX / g->groups ? SIZE_MAX : g->groups * one;
    }
    default: return dyce__ref_q8_conv2d_packed_bytes(g);
  }
}

void dyce__simd_pack_q8_conv2d(const dyce__window *g, const int8_t *ohwi,
                               void *dst) {
  switch (kind_of(g)) {
    case Q8_DENSE:
      dyce__q8_pack_gemm(g->packed_out_c, 1, taps(g) * g->packed_in_c, ohwi,
                         dst);
      break;
    case Q8_WINOGRAD: dyce__q8_pack_winograd(g, ohwi, dst); break;
    case Q8_DEPTHWISE: dyce__q8_pack_dwconv(g, ohwi, dst); break;
    case Q8_GROUPED: {
      size_t cin = g->in_c / g->groups, cout = g->out_c / g->groups;
      for (size_t q = 0; q < g->groups; q++)
        dyce__q8_pack_gemm(cout, taps(g), cin, ohwi + q * cout * taps(g) * cin,
                           (int8_t *)dst + q * group_bytes(g));
      break;
    }
    default: dyce__ref_pack_q8_conv2d(g, ohwi, dst); break;
  }
}

/* Dense scratch: a row of packed_in_c zero points (padding pixels of
 * 1x1 windows), rounded to 16 bytes; windows larger than 1x1 then MR
 * gathered rows of kh * kw * packed_in_c bytes. In 64 bits and saturated:
 * SIZE_MAX makes the planner refuse a crafted window. */
static size_t zero_bytes(const dyce__window *g) {
  return ((size_t)g->packed_in_c + 15) & ~(size_t)15;
}
static uint64_t row_bytes(const dyce__window *g) {
  return ((uint64_t)g->kh * g->kw * g->packed_in_c + 15) & ~(uint64_t)15;
}

/* A widened row: kh * kw * packed_in_c int16, rounded to 8. */
static uint64_t wide_elems(const dyce__window *g) {
  return ((uint64_t)g->kh * g->kw * g->packed_in_c + 7) & ~(uint64_t)7;
}

size_t dyce__simd_q8_conv2d_scratch_bytes(const dyce__window *g) {
  switch (kind_of(g)) {
    case Q8_DENSE: {
      uint64_t bytes = zero_bytes(g) + (taps(g) != 1 ? MR * row_bytes(g) : 0) +
                       MR * 2 * wide_elems(g);
      return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
    }
    case Q8_WINOGRAD: return dyce__q8_winograd_scratch_bytes(g);
    case Q8_DEPTHWISE: return dyce__q8_dwconv_scratch_bytes(g);
    case Q8_GROUPED: /* the zero pixel, a tile's tap pointers */
      return zero_bytes(g) + MR * taps(g) * sizeof(int8_t *);
    default: return dyce__ref_q8_conv2d_scratch_bytes(g);
  }
}

/* Gathers output pixel (oy, ox)'s window into row: per tap, packed_in_c
 * bytes, the input's in_c channels or zero points (padding, and the
 * channels a width level leaves out). */
static void gather(const dyce__window *g, const int8_t *in, int8_t zp,
                   uint32_t oy, uint32_t ox, int8_t *row) {
  const size_t c = g->in_c, cp = g->packed_in_c;
  long iy0 = (long)oy * g->sh - (long)g->pad_t;
  long ix0 = (long)ox * g->sw - (long)g->pad_l;
  /* A kernel row wholly inside the input, taps adjacent (dw 1) and no
   * channels left out: kw * c contiguous bytes, copied 8 at a time, the
   * tail as the last 8 overlapping the copied ones (a per-byte loop cost
   * RGB stems, 9 bytes a row, most of their time). */
  const int contiguous = g->dw == 1 && cp == c && ix0 >= 0 &&
                         ix0 + (long)g->kw <= (long)g->in_w;
  for (uint32_t ky = 0; ky < g->kh; ky++) {
    long iy = iy0 + (long)ky * g->dh;
    int row_inside = iy >= 0 && iy < (long)g->in_h;
    if (row_inside && contiguous) {
      const int8_t *src = in + ((size_t)iy * g->in_w + (size_t)ix0) * c;
      size_t n = (size_t)g->kw * c, q = 0;
      for (; q + 8 <= n; q += 8) memcpy(row + q, src + q, 8);
      if (q < n && n >= 8) memcpy(row + n - 8, src + n - 8, 8);
      else for (; q < n; q++) row[q] = src[q];
      row += n;
      continue;
    }
    for (uint32_t kx = 0; kx < g->kw; kx++, row += cp) {
      long ix = ix0 + (long)kx * g->dw;
      const int8_t *src = row_inside && ix >= 0 && ix < (long)g->in_w
                              ? in + ((size_t)iy * g->in_w + (size_t)ix) * c
                              : NULL;
      if (cp >= 16) { /* a call per tap pays off */
        if (src) memcpy(row, src, c);
        memset(row + (src ? c : 0), zp, src ? cp - c : cp);
      } else { /* a few channels (RGB stems): no call per tap */
        for (size_t q = 0; q < cp; q++) row[q] = src && q < c ? src[q] : zp;
      }
    }
  }
}

/* 1x1 windows read the input in place, a pointer per pixel; larger ones
 * gather MR pixels' windows (per-tile im2col), so the microkernel runs
 * one long k and its 1-7 channel tail once per row and panel instead of
 * once per tap (3-channel stems: 3.3x faster). */
static void conv_dense(const dyce__window *g, const int8_t *in,
                       int32_t in_zp, const int8_t *packed,
                       const int32_t *bias, const dyce__q8_out *o,
                       int8_t *out, void *scratch) {
  int8_t *zero = scratch, *tile = zero + zero_bytes(g);
  int16_t *wide = (int16_t *)(void *)(tile + (taps(g) != 1 ? MR * row_bytes(g) : 0));
  const int8_t *rows[MR];
  const size_t pixels = (size_t)g->out_h * g->out_w, c = g->in_c;
  const size_t k = taps(g) * g->packed_in_c, rb = (size_t)row_bytes(g);
  const int one_by_one = taps(g) == 1;
  memset(zero, (int8_t)in_zp, c);
  uint32_t oy = 0, ox = 0;
  for (size_t m0 = 0; m0 < pixels; m0 += MR) {
    size_t mr = pixels - m0 < MR ? pixels - m0 : MR;
    for (size_t i = 0; i < mr; i++) {
      if (one_by_one) {
        long iy = (long)oy * g->sh - (long)g->pad_t;
        long ix = (long)ox * g->sw - (long)g->pad_l;
        rows[i] = iy >= 0 && iy < (long)g->in_h && ix >= 0 && ix < (long)g->in_w
                      ? in + ((size_t)iy * g->in_w + (size_t)ix) * c : zero;
      } else {
        gather(g, in, (int8_t)in_zp, oy, ox, tile + i * rb);
        rows[i] = tile + i * rb;
      }
      if (++ox == g->out_w) ox = 0, oy++;
    }
    const size_t kc = one_by_one ? c : k;
    dyce__q8_widen_rows(mr, rows, kc, in_zp, wide);
    /* Two call sites of the MR-row kernel keep it out of line (wasm-opt
     * inlines a function called once; V8 then spilled its accumulators
     * in this larger function). */
    int8_t *dst = out + m0 * g->out_c;
    if (mr == MR)
      GEMM16(MR, g->out_c, kc, k, wide, packed, bias, o, dst, g->out_c);
    else if (mr == 1)
      dyce__q8_gemm16_1x8(1, g->out_c, kc, k, wide, packed, bias, o, dst,
                          g->out_c);
    else
      GEMM16(mr, g->out_c, kc, k, wide, packed, bias, o, dst, g->out_c);
  }
}

/* Grouped convolutions, as the float table's: per tile of MR pixels,
 * each pixel's kh * kw tap pointers, then per group the igemm
 * microkernel over its in_c / groups channels per tap into its
 * out_c / groups outputs (their requantization multipliers), after which
 * every pointer moves on to the next group's channels. */
static void conv_grouped(const dyce__window *g, const int8_t *in,
                         int32_t in_zp, const int8_t *packed,
                         const int32_t *bias, const dyce__q8_out *o,
                         int8_t *out, void *scratch) {
  int8_t *zero = scratch;
  const int8_t **tap = (const int8_t **)(void *)(zero + zero_bytes(g));
  const size_t pixels = (size_t)g->out_h * g->out_w, t = taps(g);
  const size_t cin = g->in_c / g->groups, cout = g->out_c / g->groups;
  memset(zero, (int8_t)in_zp, g->in_c);
  for (size_t m0 = 0; m0 < pixels; m0 += MR) {
    size_t mr = pixels - m0 < MR ? pixels - m0 : MR;
    const int8_t **p = tap;
    for (size_t i = 0; i < mr; i++) p = pixel_taps(g, in, zero, m0 + i, p);
    dyce__q8_out oq = *o;
    for (size_t q = 0; q < g->groups; q++, oq.mult += cout) {
      (mr == 1 ? dyce__q8_igemm_1x8 : dyce__q8_igemm_4x8)(
          mr, cout, cin, cin, t, tap, in_zp, packed + q * group_bytes(g),
          bias + q * cout, &oq, out + m0 * g->out_c + q * cout, g->out_c, 0);
      for (size_t j = 0; j < mr * t; j++) tap[j] += cin;
    }
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
    case Q8_WINOGRAD:
      dyce__q8_conv_winograd(g, in, in_zp, packed, bias, o, out, scratch);
      break;
    case Q8_DEPTHWISE:
      dyce__q8_dwconv(g, in, in_zp, packed, bias, o, out, scratch);
      break;
    case Q8_GROUPED:
      conv_grouped(g, in, in_zp, packed, bias, o, out, scratch);
      break;
    default:
      dyce__ref_q8_conv2d(g, in, in_zp, packed, bias, o, out, scratch);
      break;
  }
}

/* Fully connected: the 1x8 microkernel, one tap of k_packed rows. */
size_t dyce__simd_q8_fc_packed_bytes(size_t k, size_t n) {
  return dyce__q8_bytes(round8(n), k, 1);
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
                     n, 0);
}
