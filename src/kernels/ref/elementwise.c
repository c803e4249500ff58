/* Reference elementwise kernels: binary add/mul/max/min with broadcast,
 * channel affine, standalone activation, softmax, the CHW flatten and the
 * channel concatenation. */
#include <math.h>

#include "../activation.h"
#include "../kernels.h"

/* max and min as torch.maximum / torch.minimum: NaN when either is. */
static float binary_op(dyce__op op, float a, float b) {
  if (op == DYCE__OP_ADD) return a + b;
  if (op == DYCE__OP_MUL) return a * b;
  if (a != a || b != b) return a + b;
  if (op == DYCE__OP_MAX) return a > b ? a : b;
  return a < b ? a : b;
}

void dyce__ref_binary(dyce__op op, size_t n, size_t c, const float *a,
                      const float *b, size_t b_count, dyce__activation act,
                      float *out) {
  for (size_t i = 0; i < n; i++) {
    /* b repeats: full (b_count == n), per channel (== c) or scalar (== 1). */
    float bv = b_count == n ? b[i] : (b_count == 1 ? b[0] : b[i % c]);
    out[i] = dyce__activate(act.act, act.a, act.b, binary_op(op, a[i], bv));
  }
}

void dyce__ref_channel_affine(size_t n, size_t c, const float *in,
                              const float *scale, const float *shift,
                              dyce__activation act, float *out) {
  for (size_t i = 0; i < n; i++) {
    size_t k = i % c;
    out[i] = dyce__activate(act.act, act.a, act.b, in[i] * scale[k] + shift[k]);
  }
}

void dyce__ref_activation(size_t n, const float *in, dyce__activation act,
                          float *out) {
  for (size_t i = 0; i < n; i++)
    out[i] = dyce__activate(act.act, act.a, act.b, in[i]);
}

/* Softmax over c at each of `rows`; `log`: log-softmax (PyTorch's
 * F.log_softmax, the classic classifier's last op). */
void dyce__ref_softmax(size_t rows, size_t c, const float *in, float *out,
                       int log) {
  for (size_t r = 0; r < rows; r++) {
    const float *x = in + r * c;
    float *y = out + r * c;
    float max = dyce__row_max(x, c);
    float sum = 0.0f;
    for (size_t k = 0; k < c; k++) {
      float e = expf(x[k] - max);
      if (!log) y[k] = e;
      sum += e;
    }
    float shift = max + logf(sum); /* log only */
    for (size_t k = 0; k < c; k++) y[k] = log ? x[k] - shift : y[k] / sum;
  }
}

void dyce__ref_flatten_chw(size_t h, size_t w, size_t c, const float *in,
                           float *out) {
  for (size_t y = 0; y < h; y++)
    for (size_t x = 0; x < w; x++)
      for (size_t k = 0; k < c; k++)
        out[(k * h + y) * w + x] = in[(y * w + x) * c + k];
}

void dyce__ref_concat_channels(size_t hw, size_t count, const size_t *c,
                               const float *const *in, float *out) {
  for (size_t i = 0; i < hw; i++)
    for (size_t t = 0; t < count; t++)
      for (size_t k = 0; k < c[t]; k++) *out++ = in[t][i * c[t] + k];
}
