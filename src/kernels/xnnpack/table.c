/* The XNNPACK table: convolutions through XNNPACK (conv2d.c), everything
 * else through the SIMD kernels. */
#include "../ref/ref.h"
#include "../simd/simd.h"
#include "../simd/q8.h"
#include "backend.h"


const dyce__kernels dyce__kernels_xnnpack = {
    .name = "xnnpack+simd-" DYCE__ISA,
    DYCE__KERNELS_CONV2D(DYCE__KERNEL_ENTRY, xnn)
    DYCE__KERNELS_CONV2D_STATE(DYCE__KERNEL_ENTRY, xnn)
    DYCE__KERNELS_FC(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_POOL(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_ELEMENTWISE(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_NORM(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_GATHER(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_SCALAR(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_ATTENTION(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_Q8(DYCE__KERNEL_ENTRY, simd)
};
