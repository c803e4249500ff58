/* The XNNPACK convolution kernels (conv2d.c) behind dyce__kernels_xnnpack. */
#ifndef DYCE_KERNELS_XNNPACK_BACKEND_H
#define DYCE_KERNELS_XNNPACK_BACKEND_H

#include "../kernels.h"

size_t dyce__xnn_conv2d_packed_floats(const dyce__window *g);
void dyce__xnn_pack_conv2d(const dyce__window *g, const float *ohwi,
                           float *dst);
void dyce__xnn_prepare_conv2d(const dyce__window *g, const float *ohwi,
                              const float *bias, dyce__activation act,
                              float *dst);
void dyce__xnn_release_conv2d(const float *packed);
size_t dyce__xnn_conv2d_scratch_bytes(const dyce__window *g);
void dyce__xnn_conv2d(const dyce__window *g, const float *in,
                      const float *packed, const float *bias,
                      dyce__activation act, float *out, void *scratch);

#endif /* DYCE_KERNELS_XNNPACK_BACKEND_H */
