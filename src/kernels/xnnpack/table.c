/* The XNNPACK table: convolutions through XNNPACK (conv2d.c), everything
 * else through the SIMD kernels. */
#include "../ref/ref.h"
#include "../simd/simd.h"
#include "backend.h"


const dyce__kernels dyce__kernels_xnnpack = {
    .name = "xnnpack+simd-" DYCE__ISA,
    .conv2d_packed_floats = dyce__xnn_conv2d_packed_floats,
    .pack_conv2d = dyce__xnn_pack_conv2d,
    .conv2d_scratch_bytes = dyce__xnn_conv2d_scratch_bytes,
    .conv2d = dyce__xnn_conv2d,
    .prepare_conv2d = dyce__xnn_prepare_conv2d,
    .release_conv2d = dyce__xnn_release_conv2d,
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
