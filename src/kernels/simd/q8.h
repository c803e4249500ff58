/*
 * Internal interface of the SIMD int8 kernels (q8_*.c, docs/INT8.md):
 * the GEMM microkernels and the kernel set dyce__simd_q8_* that the SIMD
 * (and XNNPACK) tables expose.
 *
 * Packed layouts (pack_block_rows 8: a block of 8 output channels packs
 * to the same number of bytes at the same offset):
 *   dense conv2d (groups 1) and fully connected: panels of 8 output
 *     channels, [ceil(Cout / 8)][K][8] with K = kh * kw * Cin_packed (the
 *     OHWI order), rows in pairs (k, k + 1) interleaved per output channel
 *     (w[k][0], w[k+1][0], w[k][1], w[k+1][1], ...: 16 bytes, the operand
 *     of i32x4.dot_i16x8_s / pmaddwd once widened), an odd last row alone
 *     (8 bytes); channels past Cout are zeros;
 *   depthwise: [ceil(C / 8)][kh * kw][8], taps paired the same way;
 *   grouped or channel multiplier: each group as a dense conv2d (its own
 *     panels of kh * kw segments), the groups one after another;
 *   3x3 stride 1 within the Winograd channel range: q8_winograd.c's 16
 *     int16 matrices (not blockwise: larger than the file's weights, so
 *     the loader's in-place packing, which requires equal sizes, skips it).
 *
 * Accumulation: int32, exact while K = kh * kw * Cin / groups <= 65536
 * and |bias| <= 2^24 (|q - zp| <= 255, |w| <= 127: 65536 * 255 * 127 +
 * 2^24 < 2^31); past that both tables wrap modulo 2^32 alike.
 */
#ifndef DYCE_KERNELS_SIMD_Q8_H
#define DYCE_KERNELS_SIMD_Q8_H

#include "../kernels.h"
#include "vec_i.h"

/*
 * Int8 indirect GEMM microkernel: an mr x n strip (mr <= MR) of
 *   c[i][j] = requant(bias[j] + sum_t sum_k (a[i*ks + t][k] - a_zp) * w)
 * over all n columns, one 8-column panel after another. a[i*ks + t] points
 * at kc int8 inputs (tap t of output row i; padding taps point at a row of
 * a_zp); the panels hold ks taps of kc_packed >= kc rows each (a width
 * level runs a prefix). Rows past mr repeat row mr - 1, as the float one.
 * `padded`: kc == kc_packed and every row may be read 8 bytes past its
 * last full step of 8 (gathered rows), so the 1-7 channel tail is one
 * load (lanes past kc meet zero weights or no pair) instead of a copy.
 */
typedef void (*dyce__q8_igemm_fn)(size_t mr, size_t n, size_t kc,
                                  size_t kc_packed, size_t ks,
                                  const int8_t *const *a, int32_t a_zp,
                                  const int8_t *w, const int32_t *bias,
                                  const dyce__q8_out *o, int8_t *c,
                                  size_t c_stride, int padded);

#define DYCE__Q8_MR 4 /* the rows dyce__q8_widen_rows interleaves */
#define DYCE__Q8_CAT(a, b, c) a##b##c
#define DYCE__Q8_XCAT(a, b, c) DYCE__Q8_CAT(a, b, c)
#define DYCE__Q8_GEMM16_MR DYCE__Q8_XCAT(dyce__q8_gemm16_, DYCE__Q8_MR, x8)
#define DYCE__Q8_NR 8

void dyce__q8_igemm_4x8(size_t mr, size_t n, size_t kc, size_t kc_packed,
                        size_t ks, const int8_t *const *a, int32_t a_zp,
                        const int8_t *w, const int32_t *bias,
                        const dyce__q8_out *o, int8_t *c, size_t c_stride,
                        int padded);
void dyce__q8_igemm_1x8(size_t mr, size_t n, size_t kc, size_t kc_packed,
                        size_t ks, const int8_t *const *a, int32_t a_zp,
                        const int8_t *w, const int32_t *bias,
                        const dyce__q8_out *o, int8_t *c, size_t c_stride,
                        int padded);

/* The same GEMM over rows already widened by dyce__q8_widen_rows: the
 * values x - a_zp as int16, channel pair p of row i at a + 2 * (4p + i)
 * (rows interleaved by pairs, 4 of them whatever mr), zeros from kc to
 * round8(kc); one tap (ks 1). The 1-row kernel reads row 0. */
#define DYCE__Q8_GEMM16(MR)                                                \
  void dyce__q8_gemm16_##MR##x8(size_t mr, size_t n, size_t kc,            \
                                size_t kc_packed, const int16_t *a,        \
                                const int8_t *w, const int32_t *bias,      \
                                const dyce__q8_out *o, int8_t *c,          \
                                size_t c_stride);
DYCE__Q8_GEMM16(1)
DYCE__Q8_GEMM16(4)
/* mr <= 4 rows of kc int8 at a[i] (rows past mr repeat row mr - 1) to
 * the interleaved int16 rows above: 4 * round8(kc) int16 at dst. */
void dyce__q8_widen_rows(size_t mr, const int8_t *const *a, size_t kc,
                         int32_t zp, int16_t *dst);

/* Packs [n][taps][kc] int8 into panels of ks = taps segments of kc rows,
 * each paired as above (the convolutions and FC pack one segment of K);
 * the packed bytes are round8(n) * taps * kc. */
void dyce__q8_pack_gemm(size_t n, size_t taps, size_t kc, const int8_t *src,
                        int8_t *dst);

/* Depthwise (q8_dwconv.c): packed_out_c == packed_in_c == packed_groups. */
size_t dyce__q8_dwconv_packed_bytes(const dyce__window *g);
void dyce__q8_pack_dwconv(const dyce__window *g, const int8_t *ohwi,
                          int8_t *dst);
size_t dyce__q8_dwconv_scratch_bytes(const dyce__window *g);
void dyce__q8_dwconv(const dyce__window *g, const int8_t *in, int32_t in_zp,
                     const int8_t *packed, const int32_t *bias,
                     const dyce__q8_out *o, int8_t *out, void *scratch);

/* Depthwise by output rows (q8_dwconv_rows.c), for windows whose
 * weight pairs (kernel rows paired, an odd last row's columns paired)
 * number at most DYCE__Q8_DW_ROW_PAIRS and kh <= 16, with the scratch
 * bytes of dyce__q8_dwconv_rows_scratch. */
#define DYCE__Q8_DW_ROW_PAIRS 25
size_t dyce__q8_dw_row_pairs(uint32_t kh, uint32_t kw);
size_t dyce__q8_dwconv_rows_scratch(const dyce__window *g);
void dyce__q8_dwconv_rows(const dyce__window *g, const int8_t *in,
                          int32_t in_zp, const int8_t *packed,
                          const int32_t *bias, const dyce__q8_out *o,
                          int8_t *out, void *scratch);

/* 3x3 depthwise, stride 1 or 2 across, no dilation (q8_dwconv_rows.c):
 * input rows widened once into horizontal tap pairs, kept for the output
 * rows that read them. */
int dyce__q8_dw3_applies(const dyce__window *g);
size_t dyce__q8_dw3_scratch(const dyce__window *g);
void dyce__q8_dw3(const dyce__window *g, const int8_t *in, int32_t in_zp,
                  const int8_t *packed, const int32_t *bias,
                  const dyce__q8_out *o, int8_t *out, void *scratch);

/* Exact integer Winograd F(2x2, 3x3) (q8_winograd.c) for 3x3 stride-1
 * dense convolutions whose packed input channels are within
 * [DYCE__Q8_WINOGRAD_MIN_C, DYCE__Q8_WINOGRAD_MAX_C]. The maximum is the
 * int32 bound of q8_winograd.c (454); the range where it pays is measured
 * (tests/bench/kernel_bench.c). */
#define DYCE__Q8_WINOGRAD_MIN_C 8
#define DYCE__Q8_WINOGRAD_MAX_C 454
int dyce__q8_winograd_applies(const dyce__window *g);
size_t dyce__q8_winograd_packed_bytes(const dyce__window *g);
void dyce__q8_pack_winograd(const dyce__window *g, const int8_t *ohwi,
                            int16_t *dst);
size_t dyce__q8_winograd_scratch_bytes(const dyce__window *g);
void dyce__q8_conv_winograd(const dyce__window *g, const int8_t *in,
                            int32_t in_zp, const int16_t *packed,
                            const int32_t *bias, const dyce__q8_out *o,
                            int8_t *out, void *scratch);

/* a * b * c in 64 bits, SIZE_MAX when it does not fit a size_t (32 bits
 * under WebAssembly): the planner and loader then refuse the node. */
static inline size_t dyce__q8_bytes(uint64_t a, uint64_t b, uint64_t c) {
  if (a && b > UINT64_MAX / a) return SIZE_MAX;
  uint64_t ab = a * b;
  if (ab && c > UINT64_MAX / ab) return SIZE_MAX;
  return ab * c > SIZE_MAX ? SIZE_MAX : (size_t)(ab * c);
}

/* The first n <= 4 int32 / floats at p, zeros after. */
static inline dyce__vi dyce__vi_load_n(const int32_t *p, size_t n) {
  if (n >= 4) return *(const dyce__vi_mem *)(const void *)p;
  dyce__vi v = dyce__vi_splat(0);
  for (size_t i = 0; i < n; i++) v[i] = p[i];
  return v;
}
static inline dyce__vf dyce__vf_load_upto4(const float *p, size_t n) {
  return n >= 4 ? dyce__vf_load(p) : dyce__vf_load_partial(p, n);
}

DYCE__KERNELS_Q8(DYCE__KERNEL_DECLARE, simd)

#endif /* DYCE_KERNELS_SIMD_Q8_H */
