/* Group normalisation (GroupNorm; InstanceNorm is one group per channel,
 * LayerNorm over a whole tensor one group, LayerNorm over each pixel's
 * channels one group `pixelwise`): the only kernel whose output element
 * depends on a statistic of many others. */
#include "../activation.h"
#include "../kernels.h"

/* Normalises the cg channels from k0 of `pixels` pixels (c floats apart)
 * by their own mean and variance. */
static void norm_block(size_t pixels, size_t c, size_t k0, size_t cg,
                       float eps, const float *in, const float *gamma,
                       const float *beta, dyce__activation act, float *out) {
  double count = (double)pixels * (double)cg;
  /* Two passes in double: the mean, then the squared deviations from it
   * (no cancellation, whatever the tensor's offset). */
  double sum = 0.0, dev = 0.0;
  for (size_t i = 0; i < pixels; i++)
    for (size_t k = k0; k < k0 + cg; k++) sum += in[i * c + k];
  double mean = sum / count;
  for (size_t i = 0; i < pixels; i++)
    for (size_t k = k0; k < k0 + cg; k++) {
      double d = in[i * c + k] - mean;
      dev += d * d;
    }
  double rstd = 1.0 / sqrt(dev / count + (double)eps);
  /* The deviation in double too: (x - mean) in float, or x * a + b as
   * PyTorch's CPU kernel has it, loses the digits of a tensor whose mean
   * dwarfs its spread (tests/c/test_norm.c). */
  for (size_t k = k0; k < k0 + cg; k++) {
    double a = rstd * gamma[k];
    for (size_t i = 0; i < pixels; i++) {
      float v = (float)((in[i * c + k] - mean) * a + beta[k]);
      out[i * c + k] = dyce__activate(act.act, act.a, act.b, v);
    }
  }
}

void dyce__ref_group_norm(size_t hw, size_t c, size_t groups, int pixelwise,
                          float eps, const float *in, const float *gamma,
                          const float *beta, dyce__activation act,
                          float *out) {
  size_t cg = c / groups;
  if (pixelwise) {
    for (size_t i = 0; i < hw; i++)
      for (size_t g = 0; g < groups; g++)
        norm_block(1, c, g * cg, cg, eps, in + i * c, gamma, beta, act,
                   out + i * c);
  } else {
    for (size_t g = 0; g < groups; g++)
      norm_block(hw, c, g * cg, cg, eps, in, gamma, beta, act, out);
  }
}
