/* The reference kernel table, and the default table of this target. */
#include "ref.h"

const dyce__kernels dyce__kernels_ref = {
    .name = "ref-scalar",
    .conv2d_packed_floats = dyce__ref_conv2d_packed_floats,
    .pack_conv2d = dyce__ref_pack_conv2d,
    .conv2d_scratch_bytes = dyce__ref_conv2d_scratch_bytes,
    .conv2d = dyce__ref_conv2d,
    .fc_packed_floats = dyce__ref_fc_packed_floats,
    .pack_fc = dyce__ref_pack_fc,
    .fully_connected = dyce__ref_fully_connected,
    .max_pool = dyce__ref_max_pool,
    .avg_pool = dyce__ref_avg_pool,
    .global_avg_pool = dyce__ref_global_avg_pool,
    .global_max_pool = dyce__ref_global_max_pool,
    .concat_channels = dyce__ref_concat_channels,
    .binary = dyce__ref_binary,
    .channel_affine = dyce__ref_channel_affine,
    .activation = dyce__ref_activation,
    .softmax = dyce__ref_softmax,
    .flatten_chw = dyce__ref_flatten_chw,
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
