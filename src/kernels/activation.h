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

/* The activations below are the scalar oracle of the vectorised ones
 * (simd/activation.h), so they are computed in double and rounded once,
 * each in a form with no cancellation: GELU's 1 + erf(x/sqrt 2) as
 * erfc(-x/sqrt 2), the tanh approximation's 1 + tanh(u) as 2 sigmoid(2u),
 * softplus as max(x, 0) + log1p(e^-|x|). */
static inline float dyce__gelu(float x) {
  return (float)(0.5 * x * erfc(-(double)x * 0.70710678118654752440));
}

static inline float dyce__gelu_tanh(float x) {
  double u = 0.79788456080286535588 * (x + 0.044715 * (double)x * x * x);
  return (float)(x / (1.0 + exp(-2.0 * u)));
}

static inline float dyce__softplus(float x) {
  double d = x;
  return (float)((d > 0.0 ? d : 0.0) + log1p(exp(-fabs(d))));
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
    case DYCE__ACT_GELU: return dyce__gelu(x);
    case DYCE__ACT_GELU_TANH: return dyce__gelu_tanh(x);
    case DYCE__ACT_ELU: return x > 0.0f ? x : a * expm1f(x);
    case DYCE__ACT_SOFTPLUS: return dyce__softplus(x);
    /* As PyTorch: sqrt and log of a negative are NaN, log 0 is -inf, 1/0
     * is inf (the C library's correctly rounded sqrtf, its expf, logf). */
    case DYCE__ACT_ABS: return fabsf(x);
    case DYCE__ACT_SQRT: return sqrtf(x);
    case DYCE__ACT_EXP: return expf(x);
    case DYCE__ACT_LOG: return logf(x);
    case DYCE__ACT_RECIPROCAL: return 1.0f / x;
  }
  return x; /* unreachable: the loader validates `act` */
}

#endif /* DYCE_KERNELS_ACTIVATION_H */
