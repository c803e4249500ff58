/* The reference kernel table, and the default table of this target. */
#include "ref.h"

const dyce__kernels dyce__kernels_ref = {
    .name = "ref-scalar",
    DYCE__KERNELS_CONV2D(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_FC(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_POOL(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_ELEMENTWISE(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_NORM(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_GATHER(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_SCALAR(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_ATTENTION(DYCE__KERNEL_ENTRY, ref)
    DYCE__KERNELS_Q8(DYCE__KERNEL_ENTRY, ref)
};

/* Every target runs the SIMD table (its vector layer, simd/vec.h, lowers
 * to scalar code where the target has no SIMD), except a native build
 * configured with -DDYCE_XNNPACK=ON, which runs XNNPACK's convolutions. */
const dyce__kernels *dyce__kernels_default(void) {
#ifdef DYCE_XNNPACK
  return &dyce__kernels_xnnpack;
#else
  return &dyce__kernels_simd;
#endif
}
