/* GEMM driver and weight packing shared by convolution and FC: tiles the
 * output into MR x NR blocks and calls the config's microkernels. */
#include "simd.h"

#define CFG dyce__simd_config_this_target

size_t dyce__simd_gemm_packed_floats(size_t k, size_t n, size_t nr) {
  return (n + nr - 1) / nr * nr * k;
}

void dyce__simd_pack_gemm(size_t k, size_t n, size_t nr, const float *nk,
                          float *dst) {
  for (size_t n0 = 0; n0 < n; n0 += nr, dst += k * nr)
    for (size_t kk = 0; kk < k; kk++)
      for (size_t j = 0; j < nr; j++)
        dst[kk * nr + j] = n0 + j < n ? nk[(n0 + j) * k + kk] : 0.0f;
}

/* Tiles of mr rows, each across all panels of nr columns in one
 * microkernel call: a tile's input rows stay in L1 while the weights
 * stream past. (Blocking the panels to stay in L2 across tiles measured
 * no gain here, even for the 9 MiB of a 3x3x512x512 layer, so the loop
 * nest stays this simple.) */
void dyce__simd_gemm_rows(size_t m, size_t n, size_t kc, size_t kc_packed,
                          size_t ks,
                          const float *const *a, const float *packed,
                          const float *bias, float *out, size_t c_stride,
                          dyce__clamp clamp) {
  const size_t mr_max = CFG.mr;
  for (size_t m0 = 0; m0 < m; m0 += mr_max) {
    size_t mr = m - m0 < mr_max ? m - m0 : mr_max;
    dyce__igemm_fn fn = mr == 1 ? CFG.igemm_1 : CFG.igemm;
    fn(mr, n, kc, kc_packed, ks, a + m0 * ks, packed, bias,
       out + m0 * c_stride, c_stride, clamp);
  }
}
