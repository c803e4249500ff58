/* Declarations of the scalar reference kernels: every op (kernels.h). */
#ifndef DYCE_KERNELS_REF_H
#define DYCE_KERNELS_REF_H

#include <math.h>

#include "../kernels.h"

DYCE__KERNELS_CONV2D(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_FC(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_POOL(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_ELEMENTWISE(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_NORM(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_GATHER(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_SCALAR(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_ATTENTION(DYCE__KERNEL_DECLARE, ref)
DYCE__KERNELS_Q8(DYCE__KERNEL_DECLARE, ref)

/* The int8 output stage (docs/INT8.md) as the spec reads:
 * clamp(rne(v) + zp, qmin, qmax), v already the binary32 product (or sum).
 * nearbyintf rounds half to even in the default rounding mode, which the
 * engine never changes; the clamp runs in double, so an infinite or huge
 * v saturates instead of overflowing an integer conversion. */
static inline int8_t dyce__ref_q8_out(float v, int32_t zp, int32_t qmin,
                                      int32_t qmax) {
  double r = (double)nearbyintf(v) + (double)zp;
  if (r < (double)qmin) r = (double)qmin;
  if (r > (double)qmax) r = (double)qmax;
  return (int8_t)r;
}

#endif /* DYCE_KERNELS_REF_H */
