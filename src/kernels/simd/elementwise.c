/* Elementwise kernels: add/mul/max/min with broadcast, channel affine and the
 * standalone activation, 4 lanes at a time with a partial tail; the
 * fused activation runs in registers. The channel concatenation is a
 * copy: one memcpy per input and pixel (the C library's vector copy). */
#include "simd.h"

/* Whole vectors without the partial-load branches of load_n/store_n
 * (that halved a ReLU6 pass), then the tail. */
void dyce__simd_activate(dyce__activation act, float *x, size_t n) {
  if (act.act == DYCE__ACT_NONE) return;
  size_t i = 0;
  DYCE__ACT_SPECIALISE(act, {
    for (; i + 4 <= n; i += 4)
      dyce__vf_store(x + i, dyce__vf_activate_inline(act, dyce__vf_load(x + i)));
  })
  if (i < n) dyce__vf_store_n(x + i, dyce__vf_activate(act, dyce__vf_load_n(x + i, n - i)), n - i);
}

void dyce__simd_activation(size_t n, const float *in, dyce__activation act,
                           float *out) {
  if (in != out) memcpy(out, in, sizeof(float) * n);
  dyce__simd_activate(act, out, n);
}

/* x op y; max and min as the reference's: NaN when either is (x + y is),
 * else the host's max / min instruction. */
static inline dyce__vf binary_vf(dyce__op op, dyce__vf x, dyce__vf y) {
  if (op == DYCE__OP_ADD) return x + y;
  if (op == DYCE__OP_MUL) return x * y;
  dyce__vf m = op == DYCE__OP_MAX ? dyce__vf_max(x, y) : dyce__vf_min(x, y);
  return dyce__vf_select((x != x) | (y != y), x + y, m);
}

/* out[i] = a[i] op b[i] for i < n; b_step 0 broadcasts b[0]. */
static void binary_span(dyce__op op, size_t n, const float *a, const float *b,
                        size_t b_step, dyce__activation act, float *out) {
  dyce__vf bs = dyce__vf_splat(b[0]);
  size_t i = 0;
  /* Most adds and muls (a residual add, a ReLU after it, an SE scale) in
   * a loop of their own, without a call per vector; the rest below. */
#define WHOLE_VECTORS                                                     \
  for (; i + 4 <= n; i += 4) {                                            \
    dyce__vf x = dyce__vf_load(a + i), y = b_step ? dyce__vf_load(b + i) : bs; \
    dyce__vf_store(out + i, dyce__vf_activate_inline(act, binary_vf(op, x, y))); \
  }
  switch (act.act) {
    DYCE__ACT_CASE(act, DYCE__ACT_NONE, WHOLE_VECTORS)
    DYCE__ACT_CASE(act, DYCE__ACT_RELU, WHOLE_VECTORS)
    DYCE__ACT_CASE(act, DYCE__ACT_CLIP, WHOLE_VECTORS)
    default: break;
  }
#undef WHOLE_VECTORS
  for (; i < n; i += 4) {
    size_t m = n - i < 4 ? n - i : 4;
    dyce__vf x = dyce__vf_load_n(a + i, m), y = b_step ? dyce__vf_load_n(b + i, m) : bs;
    dyce__vf_store_n(out + i, dyce__vf_activate(act, binary_vf(op, x, y)), m);
  }
}

void dyce__simd_binary(dyce__op op, size_t n, size_t c, const float *a,
                       const float *b, size_t b_count, dyce__activation act,
                       float *out) {
  if (b_count == n || b_count == 1) {
    binary_span(op, n, a, b, b_count == n, act, out);
  } else { /* per channel: one span per pixel */
    for (size_t i = 0; i < n; i += c)
      binary_span(op, c, a + i, b, 1, act, out + i);
  }
}

void dyce__simd_channel_affine(size_t n, size_t c, const float *in,
                               const float *scale, const float *shift,
                               dyce__activation act, float *out) {
  for (size_t p = 0; p < n; p += c)
    for (size_t i = 0; i < c; i += 4) {
      size_t m = c - i < 4 ? c - i : 4;
      dyce__vf v = dyce__vf_madd(dyce__vf_load_n(shift + i, m), dyce__vf_load_n(in + p + i, m),
                                 dyce__vf_load_n(scale + i, m));
      dyce__vf_store_n(out + p + i, dyce__vf_activate(act, v), m);
    }
}

void dyce__simd_concat_channels(size_t hw, size_t count, const size_t *c,
                                const float *const *in, float *out) {
  for (size_t i = 0; i < hw; i++)
    for (size_t t = 0; t < count; t++) {
      memcpy(out, in[t] + i * c[t], sizeof(float) * c[t]);
      out += c[t];
    }
}
