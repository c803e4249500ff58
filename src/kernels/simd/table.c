/* The SIMD kernel table (see kernels.h). Softmax and the CHW flatten are
 * not worth vectorising (they run once per model, on the logits) and
 * share the reference. */
#include "../ref/ref.h"
#include "simd.h"

const dyce__kernels dyce__kernels_simd = {
    .name = "simd-" DYCE__ISA,
    .pack_block_rows = 8, /* nr of the GEMM panels and cr of the depthwise blocks */
    .conv2d_packed_floats = dyce__simd_conv2d_packed_floats,
    .pack_conv2d = dyce__simd_pack_conv2d,
    .conv2d_scratch_bytes = dyce__simd_conv2d_scratch_bytes,
    .conv2d = dyce__simd_conv2d,
    .fc_packed_floats = dyce__simd_fc_packed_floats,
    .pack_fc = dyce__simd_pack_fc,
    .fully_connected = dyce__simd_fully_connected,
    .max_pool = dyce__simd_max_pool,
    .avg_pool = dyce__simd_avg_pool,
    .global_avg_pool = dyce__simd_global_avg_pool,
    .global_max_pool = dyce__simd_global_max_pool,
    .concat_channels = dyce__simd_concat_channels,
    .binary = dyce__simd_binary,
    .channel_affine = dyce__simd_channel_affine,
    .activation = dyce__simd_activation,
    .softmax = dyce__ref_softmax,
    .flatten_chw = dyce__ref_flatten_chw,
};
