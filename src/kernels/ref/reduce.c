/* Reductions the SIMD tables take from here: the mean (summed in double)
 * or the maximum of each pixel's channels, and of each adaptive pooling
 * bin. A NaN makes the maximum NaN, as torch.max. */
#include <math.h>

#include "../kernels.h"

void dyce__ref_channel_reduce(size_t hw, size_t c, int max, const float *in,
                              float *out) {
  for (size_t i = 0; i < hw; i++, in += c) {
    if (max) {
      float m = in[0];
      for (size_t k = 1; k < c; k++)
        if (in[k] > m || isnan(in[k])) m = isnan(m) ? m : in[k];
      out[i] = m;
    } else {
      double sum = 0;
      for (size_t k = 0; k < c; k++) sum += in[k];
      out[i] = (float)(sum / (double)c);
    }
  }
}

/* Adaptive pooling: output row i covers input rows floor(i*h/oh) ..
 * ceil((i+1)*h/oh) - 1, as PyTorch's adaptive pools (likewise columns);
 * the mean summed in double. */
void dyce__ref_adaptive_pool(uint32_t h, uint32_t w, uint32_t c, uint32_t oh,
                             uint32_t ow, int max, const float *in, float *out) {
  for (uint32_t i = 0; i < oh; i++) {
    uint32_t y0 = (uint32_t)((uint64_t)i * h / oh);
    uint32_t y1 = (uint32_t)(((uint64_t)(i + 1) * h + oh - 1) / oh);
    for (uint32_t j = 0; j < ow; j++, out += c) {
      uint32_t x0 = (uint32_t)((uint64_t)j * w / ow);
      uint32_t x1 = (uint32_t)(((uint64_t)(j + 1) * w + ow - 1) / ow);
      double n = (double)(y1 - y0) * (x1 - x0);
      for (uint32_t k = 0; k < c; k++) {
        double acc = max ? -INFINITY : 0.0;
        for (uint32_t y = y0; y < y1; y++)
          for (uint32_t x = x0; x < x1; x++) {
            float v = in[((size_t)y * w + x) * c + k];
            acc = max ? (v > acc || isnan(v) ? v : acc) : acc + v;
          }
        out[k] = (float)(max ? acc : acc / n);
      }
    }
  }
}
