/* Attention's SIMD kernels (src/kernels/simd/attention.c) against the
 * reference: matmul bit for bit (the same products added in the same
 * order) in both forms over sizes around the 4 x 8 tile (1 .. 13 rows,
 * columns and terms, 1 .. 3 heads, alpha != 1); softmax within a few ulp
 * of expf's (its exp is activation.h's polynomial), with and without the
 * log, over widths around the vector's 4 lanes and inputs far below the
 * maximum (whose exp underflows to 0 in both). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "test.h"

static float *randoms(size_t n, float scale) {
  float *p = malloc((n ? n : 1) * sizeof(float));
  for (size_t i = 0; i < n; i++) p[i] = scale * test_randf();
  return p;
}

static void matmul_case(size_t m, size_t n, size_t k, size_t g, int trans_b) {
  size_t ca = trans_b ? g * k : g * n, cb = g * k;
  size_t co = trans_b ? g * n : g * k;
  float *a = randoms(m * ca, 1.0f), *b = randoms(n * cb, 1.0f);
  float *want = calloc(m * co, sizeof(float)), *got = calloc(m * co, sizeof(float));
  float *scratch = calloc(n * k + 1, sizeof(float));
  dyce__kernels_ref.matmul(m, n, k, g, trans_b, 0.375f, a, b, want, scratch);
  dyce__kernels_simd.matmul(m, n, k, g, trans_b, 0.375f, a, b, got, scratch);
  CHECK(memcmp(want, got, m * co * sizeof(float)) == 0);
  free(a), free(b), free(want), free(got), free(scratch);
}

static void simd_matmul_is_the_reference(void) {
  static const size_t sizes[] = {1, 3, 4, 5, 8, 9, 13};
  for (size_t i = 0; i < 7; i++)
    for (size_t j = 0; j < 7; j++)
      for (size_t t = 0; t < 7; t++)
        for (size_t g = 1; g <= 3; g++)
          for (int trans = 0; trans <= 1; trans++)
            matmul_case(sizes[i], sizes[j], sizes[t], g, trans);
}

static void softmax_case(size_t rows, size_t c, int log) {
  float *x = randoms(rows * c, 8.0f);
  if (c > 2) x[1] = -200.0f; /* exp underflows: 0 in both */
  float *want = malloc(rows * c * sizeof(float)), *got = malloc(rows * c * sizeof(float));
  dyce__kernels_ref.softmax(rows, c, x, want, log);
  dyce__kernels_simd.softmax(rows, c, x, got, log);
  for (size_t i = 0; i < rows * c; i++)
    CHECK(fabsf(got[i] - want[i]) <= 4e-6f * fmaxf(1.0f, fabsf(want[i])));
  free(x), free(want), free(got);
}

static void simd_softmax_near_the_reference(void) {
  for (size_t c = 1; c <= 17; c++) {
    softmax_case(3, c, 0);
    softmax_case(3, c, 1);
  }
  softmax_case(2, 197, 0); /* a ViT's tokens */
}

const test_case attention_kernel_tests[] = {
    {"attention_kernels", "simd_matmul_is_the_reference", simd_matmul_is_the_reference},
    {"attention_kernels", "simd_softmax_near_the_reference", simd_softmax_near_the_reference},
    {0},
};
