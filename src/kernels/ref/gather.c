/* Channel gather: the channel slices, splits and shuffles of a model. */
#include "../kernels.h"

void dyce__ref_channel_gather(size_t hw, size_t c, size_t n,
                              const uint32_t *from, const float *in,
                              float *out) {
  for (size_t i = 0; i < hw; i++, in += c, out += n)
    for (size_t k = 0; k < n; k++) out[k] = in[from[k]];
}
