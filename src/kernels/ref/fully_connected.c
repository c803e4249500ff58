/* Reference fully-connected layer over [N][K] weights. */
#include <string.h>

#include "../activation.h"
#include "../kernels.h"

size_t dyce__ref_fc_packed_floats(size_t k, size_t n) { return k * n; }

void dyce__ref_pack_fc(size_t k, size_t n, const float *nk, float *dst) {
  memcpy(dst, nk, sizeof(float) * k * n);
}

void dyce__ref_fully_connected(size_t k, size_t k_packed, size_t n,
                               const float *in, const float *packed,
                               const float *bias, dyce__activation act,
                               float *out) {
  for (size_t j = 0; j < n; j++) {
    const float *w = packed + j * k_packed;
    float acc = bias ? bias[j] : 0.0f;
    for (size_t i = 0; i < k; i++) acc += w[i] * in[i];
    out[j] = dyce__activate(act.act, act.a, act.b, acc);
  }
}
