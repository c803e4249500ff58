/*
 * Int8 elementwise kernels over the vector layer (docs/INT8.md): add / mul
 * with broadcast, quantize, dequantize, 8 elements per step, bit-exact
 * with the reference (the same binary32 operations per lane, in the same
 * order, no fused multiply-add: vec_i.h); the table activation, concat and
 * the CHW flatten are byte moves.
 */
#include <string.h>

#include "q8.h"

static inline dyce__vh load8_n(const int8_t *p, size_t n) {
  return n == 8 ? dyce__vh_load8(p) : dyce__vh_load8_partial(p, n, 0);
}

typedef struct binary_consts {
  dyce__vi zp_a, zp_b;
  dyce__vf ma, mb;
  dyce__q8_stage st;
} binary_consts;

/* Four lanes of add or mul. */
static inline dyce__vi binary4(dyce__op op, dyce__vi a, dyce__vi b,
                               const binary_consts *k) {
  a -= k->zp_a, b -= k->zp_b;
  if (op == DYCE__OP_ADD) {
    dyce__vf fa = dyce__vi_to_vf(a) * k->ma;
    dyce__vf fb = dyce__vi_to_vf(b) * k->mb;
    return dyce__q8_finish(fa + fb, &k->st);
  }
  return dyce__q8_finish(dyce__vi_to_vf(a * b) * k->ma, &k->st);
}

/* n elements of a against b (b_scalar: b[0] for all). */
static void binary_span(dyce__op op, const int8_t *a, const int8_t *b,
                        int b_scalar, size_t n, const binary_consts *k,
                        int8_t *out) {
  const dyce__vh bs = dyce__vh_splat(b[0]);
  for (size_t i = 0; i < n; i += 8) {
    size_t m = n - i < 8 ? n - i : 8;
    dyce__vh xa = load8_n(a + i, m), xb = b_scalar ? bs : load8_n(b + i, m);
    dyce__vi r0 = binary4(op, dyce__vi_widen_lo(xa), dyce__vi_widen_lo(xb), k);
    dyce__vi r1 = binary4(op, dyce__vi_widen_hi(xa), dyce__vi_widen_hi(xb), k);
    dyce__vi_store8(out + i, r0, r1, m);
  }
}

void dyce__simd_q8_binary(dyce__op op, size_t n, size_t c, const int8_t *a,
                          const int8_t *b, size_t b_count,
                          const dyce__q8_binary *q, int8_t *out) {
  binary_consts k = {dyce__vi_splat(q->zp_a), dyce__vi_splat(q->zp_b),
                     dyce__vf_splat(q->ma), dyce__vf_splat(q->mb),
                     dyce__q8_stage_of(q->zp, q->qmin, q->qmax)};
  if (n == 0) return;
  if (b_count == n || b_count == 1) {
    binary_span(op, a, b, b_count != n, n, &k, out);
    return;
  }
  for (size_t p = 0; p < n; p += c) binary_span(op, a + p, b, 0, c, &k, out + p);
}

void dyce__simd_q8_lut(size_t n, const int8_t *in, const int8_t *table,
                       int8_t *out) {
  const int8_t *t = table + 128;
  size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    int8_t a = t[in[i]], b = t[in[i + 1]], c = t[in[i + 2]], d = t[in[i + 3]];
    out[i] = a, out[i + 1] = b, out[i + 2] = c, out[i + 3] = d;
  }
  for (; i < n; i++) out[i] = t[in[i]];
}

void dyce__simd_quantize(size_t n, const float *in, float inv_scale,
                         int32_t zp, int8_t *out) {
  const dyce__vf s = dyce__vf_splat(inv_scale);
  const dyce__q8_stage st = dyce__q8_stage_of(zp, -128, 127);
  for (size_t i = 0; i < n; i += 8) {
    size_t m = n - i < 8 ? n - i : 8, m1 = m > 4 ? m - 4 : 0;
    dyce__vf x0 = dyce__vf_load_upto4(in + i, m < 4 ? m : 4);
    dyce__vf x1 = m1 ? dyce__vf_load_upto4(in + i + 4, m1) : dyce__vf_zero();
    x0 = x0 * s, x1 = x1 * s;
    dyce__vi_store8(out + i, dyce__q8_finish(x0, &st), dyce__q8_finish(x1, &st), m);
  }
}

void dyce__simd_dequantize(size_t n, const int8_t *in, float scale,
                           int32_t zp, float *out) {
  const dyce__vf s = dyce__vf_splat(scale);
  const dyce__vi z = dyce__vi_splat(zp);
  for (size_t i = 0; i < n; i += 8) {
    size_t m = n - i < 8 ? n - i : 8;
    dyce__vh x = load8_n(in + i, m);
    dyce__vf y0 = dyce__vi_to_vf(dyce__vi_widen_lo(x) - z) * s;
    dyce__vf y1 = dyce__vi_to_vf(dyce__vi_widen_hi(x) - z) * s;
    if (m == 8) {
      dyce__vf_store(out + i, y0);
      dyce__vf_store(out + i + 4, y1);
    } else {
      dyce__vf_store_partial(out + i, y0, m < 4 ? m : 4);
      if (m > 4) dyce__vf_store_partial(out + i + 4, y1, m - 4);
    }
  }
}

void dyce__simd_q8_concat_channels(size_t hw, size_t count, const size_t *c,
                                   const int8_t *const *in, int8_t *out) {
  for (size_t i = 0; i < hw; i++)
    for (size_t t = 0; t < count; t++) {
      memcpy(out, in[t] + i * c[t], c[t]);
      out += c[t];
    }
}

void dyce__simd_q8_flatten_chw(size_t h, size_t w, size_t c, const int8_t *in,
                               int8_t *out) {
  size_t hw = h * w;
  for (size_t p = 0; p < hw; p++)
    for (size_t k = 0; k < c; k++) out[k * hw + p] = in[p * c + k];
}
