/* Attention's kernels over the vector layer (kernels.h,
 * DYCE__KERNELS_ATTENTION): softmax with activation.h's exp, and matmul
 * tiled 4 rows x 8 columns, each output the reference's sum — the same
 * products added in the same order, a multiply then an add (no fused
 * multiply-add), so the bits are the reference's. */
#include "simd.h"

/* Column block [j, j + w) of o[r] = alpha * sum_t x[r][t] y[t] for
 * r < rows: rows of `x` are x_row floats apart, of y ys, of o os; every
 * sum starts at 0 and takes term t after t - 1. Four full rows and eight
 * full columns keep their sums in registers (named, not an array, which
 * a wasm engine would keep in memory); the edges take the general loop. */
static void tile_4x8(size_t terms, const float *x, size_t x_row,
                     const float *y, size_t ys, float alpha, float *o,
                     size_t os) {
  dyce__vf c00 = dyce__vf_zero(), c01 = c00, c10 = c00, c11 = c00;
  dyce__vf c20 = c00, c21 = c00, c30 = c00, c31 = c00;
  for (size_t t = 0; t < terms; t++) {
    dyce__vf y0 = dyce__vf_load(y + t * ys), y1 = dyce__vf_load(y + t * ys + 4);
    dyce__vf x0 = dyce__vf_splat(x[t]), x1 = dyce__vf_splat(x[x_row + t]);
    dyce__vf x2 = dyce__vf_splat(x[2 * x_row + t]), x3 = dyce__vf_splat(x[3 * x_row + t]);
    dyce__vf p00 = x0 * y0, p01 = x0 * y1, p10 = x1 * y0, p11 = x1 * y1;
    dyce__vf p20 = x2 * y0, p21 = x2 * y1, p30 = x3 * y0, p31 = x3 * y1;
    c00 = c00 + p00, c01 = c01 + p01, c10 = c10 + p10, c11 = c11 + p11;
    c20 = c20 + p20, c21 = c21 + p21, c30 = c30 + p30, c31 = c31 + p31;
  }
  dyce__vf a = dyce__vf_splat(alpha);
  dyce__vf_store(o, c00 * a), dyce__vf_store(o + 4, c01 * a);
  dyce__vf_store(o + os, c10 * a), dyce__vf_store(o + os + 4, c11 * a);
  dyce__vf_store(o + 2 * os, c20 * a), dyce__vf_store(o + 2 * os + 4, c21 * a);
  dyce__vf_store(o + 3 * os, c30 * a), dyce__vf_store(o + 3 * os + 4, c31 * a);
}

static void tile_edge(size_t rows, size_t w, size_t terms, const float *x,
                      size_t x_row, const float *y, size_t ys, float alpha,
                      float *o, size_t os) {
  for (size_t r = 0; r < rows; r++)
    for (size_t q = 0; q < w; q++) {
      float sum = 0.0f;
      for (size_t t = 0; t < terms; t++) {
        float prod = x[r * x_row + t] * y[t * ys + q];
        sum += prod;
      }
      o[r * os + q] = sum * alpha;
    }
}

static void rows_times(size_t rows, size_t n, size_t terms, const float *x,
                       size_t x_row, const float *y, size_t ys, float alpha,
                       float *o, size_t os) {
  for (size_t j = 0; j < n; j += 8) {
    size_t w = n - j < 8 ? n - j : 8;
    if (rows == 4 && w == 8)
      tile_4x8(terms, x, x_row, y + j, ys, alpha, o + j, os);
    else
      tile_edge(rows, w, terms, x, x_row, y + j, ys, alpha, o + j, os);
  }
}

void dyce__simd_matmul(size_t m, size_t n, size_t k, size_t groups,
                       int trans_b, float alpha, const float *a,
                       const float *b, float *out, float *scratch) {
  size_t c = groups * k;
  for (size_t g = 0; g < groups; g++) {
    if (trans_b) {
      /* q k^T: head g of b transposed (k x n), then rows of a times it */
      for (size_t j = 0; j < n; j++)
        for (size_t t = 0; t < k; t++) scratch[t * n + j] = b[j * c + g * k + t];
      for (size_t i = 0; i < m; i += 4)
        rows_times(m - i < 4 ? m - i : 4, n, k, a + i * c + g * k, c,
                   scratch, n, alpha, out + (i * groups + g) * n, groups * n);
    } else {
      /* attn v: row i of head g's weights (n) times b's head g (n x k) */
      for (size_t i = 0; i < m; i += 4)
        rows_times(m - i < 4 ? m - i : 4, k, n, a + (i * groups + g) * n,
                   groups * n, b + g * k, c, alpha, out + i * c + g * k, c);
    }
  }
}

void dyce__simd_softmax(size_t rows, size_t c, const float *in, float *out,
                        int log) {
  size_t full = c & ~(size_t)3;
  for (size_t r = 0; r < rows; r++) {
    const float *x = in + r * c;
    float *y = out + r * c;
    float max = dyce__row_max(x, c);
    dyce__vf mv = dyce__vf_splat(max), sv = dyce__vf_zero();
    for (size_t k = 0; k < full; k += 4) {
      dyce__vf e = dyce__vf_exp_nonpositive(dyce__vf_load(x + k) - mv);
      if (!log) dyce__vf_store(y + k, e);
      sv = sv + e;
    }
    float sum = (sv[0] + sv[1]) + (sv[2] + sv[3]);
    if (full < c) { /* the last c % 4 through one partial vector */
      dyce__vf e = dyce__vf_exp_nonpositive(dyce__vf_load_partial(x + full, c - full) - mv);
      for (size_t k = full; k < c; k++) {
        if (!log) y[k] = e[k - full];
        sum += e[k - full];
      }
    }
    if (log) {
      float shift = max + logf(sum);
      for (size_t k = 0; k < c; k++) y[k] = x[k] - shift;
    } else {
      dyce__vf inv = dyce__vf_splat(1.0f / sum);
      for (size_t k = 0; k < full; k += 4) dyce__vf_store(y + k, dyce__vf_load(y + k) * inv);
      for (size_t k = full; k < c; k++) y[k] = y[k] / sum;
    }
  }
}
