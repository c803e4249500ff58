/*
 * Reference int8 convolution and fully connected layer (docs/INT8.md):
 * acc = bias[oc] + sum (q_in - zp_in) * q_w in int32 (summed in int64 and
 * wrapped to 32 bits, which is what int32 arithmetic gives when the
 * loader's limit is exceeded, without C's signed overflow), then
 * clamp(rne(float(acc) * mult[oc]) + zp, qmin, qmax).
 *
 * Packed layout: the file's OHWI bytes for the packed sizes,
 * [packed_out_c][kh][kw][packed_in_c / packed_groups] (a depthwise
 * convolution: [C][kh][kw][1]); fully connected: the [N][K] bytes.
 * Padding taps add nothing (the padded input is the real 0, zp_in).
 */
#include <string.h>

#include "ref.h"

/* No multiply fused with an add (docs/INT8.md): GCC compiles ISO C
 * (-std=c11) with -ffp-contract=off; clang contracts within an expression
 * unless told not to. */
#if defined(__clang__)
#pragma clang fp contract(off)
#endif

static int is_depthwise(const dyce__window *g) {
  return g->packed_in_c == g->packed_groups;
}

/* a * b * c, SIZE_MAX when it does not fit (32-bit size_t under wasm). */
static size_t bytes3(uint64_t a, uint64_t b, uint64_t c) {
  if (a && b > UINT64_MAX / a) return SIZE_MAX;
  uint64_t ab = a * b;
  if (ab && c > UINT64_MAX / ab) return SIZE_MAX;
  return ab * c > SIZE_MAX ? SIZE_MAX : (size_t)(ab * c);
}

size_t dyce__ref_q8_conv2d_packed_bytes(const dyce__window *g) {
  return bytes3(g->packed_out_c, (uint64_t)g->kh * g->kw,
                g->packed_in_c / g->packed_groups);
}

void dyce__ref_pack_q8_conv2d(const dyce__window *g, const int8_t *ohwi,
                              void *dst) {
  memcpy(dst, ohwi, dyce__ref_q8_conv2d_packed_bytes(g));
}

size_t dyce__ref_q8_conv2d_scratch_bytes(const dyce__window *g) {
  (void)g;
  return 0;
}

/* Input row/column of tap k for output position o, or -1 in the padding. */
static long tap(uint32_t o, uint32_t stride, uint32_t pad, uint32_t k,
                uint32_t dil, uint32_t size) {
  long at = (long)o * stride - (long)pad + (long)k * dil;
  return (at >= 0 && at < (long)size) ? at : -1;
}

/* The sum of output channel o at output pixel (oy, ox), bias excluded.
 * Channel o reads input channels [ci0, ci0 + cin) and weight row `row`
 * (pin input channels per tap). */
static int64_t dot(const dyce__window *g, const int8_t *in, int32_t in_zp,
                   const int8_t *w, uint32_t oy, uint32_t ox, size_t ci0,
                   size_t cin, size_t row, size_t pin) {
  int64_t acc = 0;
  for (uint32_t ky = 0; ky < g->kh; ky++) {
    long iy = tap(oy, g->sh, g->pad_t, ky, g->dh, g->in_h);
    if (iy < 0) continue;
    for (uint32_t kx = 0; kx < g->kw; kx++) {
      long ix = tap(ox, g->sw, g->pad_l, kx, g->dw, g->in_w);
      if (ix < 0) continue;
      const int8_t *x = in + ((size_t)iy * g->in_w + ix) * g->in_c + ci0;
      const int8_t *wk = w + ((row * g->kh + ky) * g->kw + kx) * pin;
      for (size_t i = 0; i < cin; i++)
        acc += (int64_t)(x[i] - in_zp) * wk[i];
    }
  }
  return acc;
}

void dyce__ref_q8_conv2d(const dyce__window *g, const int8_t *in,
                         int32_t in_zp, const void *packed,
                         const int32_t *bias, const dyce__q8_out *o,
                         int8_t *out, void *scratch) {
  (void)scratch;
  const int8_t *w = packed;
  int dw = is_depthwise(g);
  size_t groups = g->groups, cin_g = g->in_c / groups;
  size_t cout_g = g->out_c / groups, mult = g->out_c / g->in_c;
  size_t pin_g = g->packed_in_c / g->packed_groups;
  size_t pout_g = g->packed_out_c / g->packed_groups;
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      int8_t *y = out + ((size_t)oy * g->out_w + ox) * g->out_c;
      for (size_t c = 0; c < g->out_c; c++) {
        int64_t sum;
        if (dw) {
          sum = dot(g, in, in_zp, w, oy, ox, c / mult, 1, c, 1);
        } else {
          size_t grp = c / cout_g, row = grp * pout_g + c % cout_g;
          sum = dot(g, in, in_zp, w, oy, ox, grp * cin_g, cin_g, row, pin_g);
        }
        int32_t acc = (int32_t)(uint32_t)((uint64_t)sum + (uint32_t)bias[c]);
        float v = (float)acc * o->mult[c];
        y[c] = dyce__ref_q8_out(v, o->zp, o->qmin, o->qmax);
      }
    }
}

size_t dyce__ref_q8_fc_packed_bytes(size_t k, size_t n) {
  return bytes3(k, n, 1);
}

void dyce__ref_pack_q8_fc(size_t k, size_t n, const int8_t *nk, void *dst) {
  memcpy(dst, nk, k * n);
}

void dyce__ref_q8_fully_connected(size_t k, size_t k_packed, size_t n,
                                  const int8_t *in, int32_t in_zp,
                                  const void *packed, const int32_t *bias,
                                  const dyce__q8_out *o, int8_t *out) {
  const int8_t *w = packed;
  for (size_t j = 0; j < n; j++) {
    const int8_t *row = w + j * k_packed;
    int64_t sum = 0;
    for (size_t i = 0; i < k; i++) sum += (int64_t)(in[i] - in_zp) * row[i];
    int32_t acc = (int32_t)(uint32_t)((uint64_t)sum + (uint32_t)bias[j]);
    float v = (float)acc * o->mult[j];
    out[j] = dyce__ref_q8_out(v, o->zp, o->qmin, o->qmax);
  }
}
