/*
 * Scalar activation functions, shared by every kernel that fuses one.
 * Definitions match docs/FORMAT.md and ONNX.
 */
#ifndef DYCE_KERNELS_ACTIVATION_H
#define DYCE_KERNELS_ACTIVATION_H

#include <math.h>

#include "../format.h"

static inline float dyce__sigmoid(float x) {
  /* Written so that neither branch overflows expf. */
  if (x >= 0.0f) return 1.0f / (1.0f + expf(-x));
  float e = expf(x);
  return e / (1.0f + e);
}

static inline float dyce__activate(dyce__act act, float a, float b, float x) {
  switch (act) {
    case DYCE__ACT_NONE: return x;
    case DYCE__ACT_RELU: return x > 0.0f ? x : 0.0f;
    case DYCE__ACT_CLIP: return x < a ? a : (x > b ? b : x);
    case DYCE__ACT_SIGMOID: return dyce__sigmoid(x);
    case DYCE__ACT_HARD_SIGMOID: {
      float y = a * x + b;
      return y < 0.0f ? 0.0f : (y > 1.0f ? 1.0f : y);
    }
    case DYCE__ACT_HARD_SWISH: {
      float r = x + 3.0f;
      r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
      return x * r * (1.0f / 6.0f);
    }
    case DYCE__ACT_SILU: return x * dyce__sigmoid(x);
    case DYCE__ACT_LEAKY_RELU: return x < 0.0f ? a * x : x;
    case DYCE__ACT_TANH: return tanhf(x);
  }
  return x; /* unreachable: the loader validates `act` */
}

#endif /* DYCE_KERNELS_ACTIVATION_H */
