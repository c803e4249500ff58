/* The XNNPACK convolution kernels (conv2d.c) behind dyce__kernels_xnnpack. */
#ifndef DYCE_KERNELS_XNNPACK_BACKEND_H
#define DYCE_KERNELS_XNNPACK_BACKEND_H

#include "../kernels.h"

DYCE__KERNELS_CONV2D(DYCE__KERNEL_DECLARE, xnn)
DYCE__KERNELS_CONV2D_STATE(DYCE__KERNEL_DECLARE, xnn)

#endif /* DYCE_KERNELS_XNNPACK_BACKEND_H */
