/* Fully connected: a one-row GEMM over weights packed in NR panels. */
#include "simd.h"

#define CFG dyce__simd_config_this_target

size_t dyce__simd_fc_packed_floats(size_t k, size_t n) {
  return dyce__simd_gemm_packed_floats(k, n, CFG.nr);
}

void dyce__simd_pack_fc(size_t k, size_t n, const float *nk, float *dst) {
  dyce__simd_pack_gemm(k, n, CFG.nr, nk, dst);
}

void dyce__simd_fully_connected(size_t k, size_t k_packed, size_t n,
                                const float *in,
                                const float *packed, const float *bias,
                                dyce__activation act, float *out) {
  int rest;
  dyce__clamp clamp = dyce__simd_clamp(act, &rest);
  const float *row[1] = {in};
  dyce__simd_gemm_rows(1, n, k, k_packed, 1, row, packed, bias, out, n, clamp);
  if (rest) dyce__simd_activate(act, out, n);
}
