/* The config table of this target: which tiles and microkernels the SIMD
 * kernels use, chosen once at build time. Every target shares the 4x8
 * GEMM tile (5x8 and k-unrolled variants measured slower under V8) and
 * 8-channel depthwise blocks; docs/PERFORMANCE.md has the measurements. */
#include "simd.h"

const dyce__simd_config dyce__simd_config_this_target = {
    .mr = 4,
    .nr = 8,
    .igemm = dyce__f32_igemm_4x8,
    .igemm_1 = dyce__f32_igemm_1x8,
    .igemm_name = DYCE__KERNEL_NAME("igemm-4x8"),
    .igemm_1_name = DYCE__KERNEL_NAME("igemm-1x8"),
    .dw_cr = 8,
    .dwconv_3x3 = dyce__f32_dwconv_3x3r_4ch,
    .dwconv_5x5_rows = dyce__f32_dwconv_5x5r_4ch,
    .dwconv_5x5 = dyce__f32_dwconv_5x5_8ch,
    .dwconv_any = dyce__f32_dwconv_any_8ch,
    .dwconv_3x3_name = DYCE__KERNEL_NAME("dwconv-3x3r-4ch"),
    .dwconv_5x5_rows_name = DYCE__KERNEL_NAME("dwconv-5x5r-4ch"),
    .dwconv_5x5_name = DYCE__KERNEL_NAME("dwconv-5x5-8ch"),
    .dwconv_any_name = DYCE__KERNEL_NAME("dwconv-any-8ch"),
};
