/* The SIMD kernel table (see kernels.h). The CHW flatten and the data
 * moves are not worth vectorising (kernels.h, DYCE__KERNELS_SCALAR) and
 * share the reference. */
#include "../ref/ref.h"
#include "simd.h"
#include "q8.h"

const dyce__kernels dyce__kernels_simd = {
    .name = "simd-" DYCE__ISA,
    .pack_block_rows = 8, /* nr of the GEMM panels and cr of the depthwise blocks */
    DYCE__KERNELS_CONV2D(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_FC(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_POOL(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_ELEMENTWISE(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_NORM(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_GATHER(DYCE__KERNEL_ENTRY, simd)
    DYCE__KERNELS_SCALAR(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_ATTENTION(DYCE__KERNEL_ENTRY, simd)
#if defined(__wasm_simd128__) || defined(__SSE2__)
    DYCE__KERNELS_Q8(DYCE__KERNEL_ENTRY, simd)
#else
    /* Without SIMD the int8 kernels' vector code lowers to element-wise
     * code ~30x slower than the reference's plain loops (measured: the
     * Fashion-MNIST head 492 ms per image in the no-SIMD build). */
    DYCE__KERNELS_Q8(DYCE__KERNEL_ENTRY, ref)
#endif
};
