/* Channel reduce: the mean (summed in double) or the maximum of each
 * pixel's channels. A NaN channel makes the maximum NaN, as torch.max. */
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
