/* matmul: attention's two products, head by head (kernels.h). Every
 * table takes this kernel, so its results are the same bits in every
 * build: each output is one float sum in index order, then times alpha.
 * A product and its addition are separate statements, which keeps a
 * compiler contracting within expressions (clang's default) from fusing
 * them into an FMA some targets have and others lack. */
#include "../kernels.h"

/* out[i][g n + j] = alpha * sum_t a[i][g k + t] * b[j][g k + t]. Group g
 * of b is first transposed into bt (k x n), so that the n sums of a row
 * grow together along contiguous rows of bt, term t after term t - 1:
 * each is the same sequence of additions as the dot product in t order,
 * and the inner loop over j is one a compiler vectorises (a dot product
 * itself it may not, without reordering its additions). */
static void matmul_trans_b(size_t m, size_t n, size_t k, size_t groups,
                           float alpha, const float *a, const float *b,
                           float *out, float *bt) {
  size_t c = groups * k;
  for (size_t g = 0; g < groups; g++) {
    for (size_t j = 0; j < n; j++)
      for (size_t t = 0; t < k; t++) bt[t * n + j] = b[j * c + g * k + t];
    for (size_t i = 0; i < m; i++) {
      const float *x = a + i * c + g * k;
      float *o = out + (i * groups + g) * n;
      for (size_t j = 0; j < n; j++) o[j] = 0.0f;
      for (size_t t = 0; t < k; t++) {
        const float *y = bt + t * n;
        for (size_t j = 0; j < n; j++) {
          float prod = x[t] * y[j];
          o[j] += prod;
        }
      }
      for (size_t j = 0; j < n; j++) o[j] *= alpha;
    }
  }
}

/* out[i][g k + t] = alpha * sum_j a[i][g n + j] * b[j][g k + t]: the sums
 * of a group's k outputs grow together, row j of b after row j - 1, so
 * each is the same sequence of additions as a dot product in j order
 * (and the inner loop over t runs along contiguous rows). */
static void matmul_plain(size_t m, size_t n, size_t k, size_t groups,
                         float alpha, const float *a, const float *b,
                         float *out) {
  size_t c = groups * k;
  for (size_t i = 0; i < m; i++)
    for (size_t g = 0; g < groups; g++) {
      const float *x = a + (i * groups + g) * n;
      float *o = out + i * c + g * k;
      for (size_t t = 0; t < k; t++) o[t] = 0.0f;
      for (size_t j = 0; j < n; j++) {
        const float *y = b + j * c + g * k;
        for (size_t t = 0; t < k; t++) {
          float prod = x[j] * y[t];
          o[t] += prod;
        }
      }
      for (size_t t = 0; t < k; t++) o[t] *= alpha;
    }
}

void dyce__ref_matmul(size_t m, size_t n, size_t k, size_t groups,
                      int trans_b, float alpha, const float *a,
                      const float *b, float *out, float *scratch) {
  if (trans_b)
    matmul_trans_b(m, n, k, groups, alpha, a, b, out, scratch);
  else
    matmul_plain(m, n, k, groups, alpha, a, b, out);
}
