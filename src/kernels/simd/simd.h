/*
 * Internal interface of the SIMD kernels: the microkernel signatures, the
 * per-target config table that picks tiles once, and the kernels that
 * the table in table.c exposes through dyce__kernels.
 */
#ifndef DYCE_KERNELS_SIMD_SIMD_H
#define DYCE_KERNELS_SIMD_SIMD_H

#include "../kernels.h"
#include "activation.h"

/*
 * Indirect GEMM microkernel (XNNPACK's igemm): computes an mr x n strip of
 *   c[i][j] = clamp(bias[j] + sum_t sum_k a[i*ks + t][k] * w[t][k][j])
 * for i < mr (<= MR), j < n, one nr-column panel after another. `a` holds
 * ks input-row pointers per output row (row-major: a[i*ks + t]); each
 * points at kc floats. `w` is the packed panels, each [ks][kc_packed][nr],
 * zero-padded past the last column, of which each tap's first kc rows are
 * used (kc < kc_packed when a width level runs a prefix of the input
 * channels). `bias` has n floats or is NULL. Rows i >= mr repeat row
 * mr - 1 (same pointers, same output row), so a partial tile reads and
 * writes nothing extra.
 */
typedef void (*dyce__igemm_fn)(size_t mr, size_t n, size_t kc,
                               size_t kc_packed, size_t ks,
                               const float *const *a, const float *w,
                               const float *bias, float *c, size_t c_stride,
                               dyce__clamp clamp);

/*
 * Depthwise microkernel: one output pixel over `channels` channels,
 *   out[c] = clamp(bias[c] + sum_t in[t][c] * w[block(c)][t][c % cr])
 * with `in` holding one pointer per tap (padding taps point at zeros) and
 * `w` packed [channels / cr][taps][cr], zero-padded to a multiple of cr.
 */
typedef void (*dyce__dwconv_fn)(size_t channels, size_t taps,
                                const float *const *in, const float *w,
                                const float *bias, float *out,
                                dyce__clamp clamp);

/*
 * Depthwise row kernel (3x3, 5x5): the whole convolution (any stride,
 * padding, dilation), one output row and 4 channels at a time with the
 * weights in registers; same packed weights as dyce__dwconv_fn. `zero`
 * holds in_w * in_c zeros (the rows above and below the input) for the
 * 3x3 kernel; the 5x5 one skips those rows and takes NULL.
 */
typedef void (*dyce__dwconv_rows_fn)(const dyce__window *g, const float *in,
                                     const float *w, const float *bias,
                                     dyce__clamp clamp, float *out,
                                     const float *zero);

/* The tiles and microkernels of one target, chosen once (config.c). */
typedef struct dyce__simd_config {
  uint32_t mr, nr;         /* main GEMM tile */
  dyce__igemm_fn igemm;    /* mr x nr */
  dyce__igemm_fn igemm_1;  /* 1 x nr, for one-row remainders and FC */
  const char *igemm_name, *igemm_1_name;
  uint32_t dw_cr;          /* channels per depthwise weight block */
  dyce__dwconv_rows_fn dwconv_3x3, dwconv_5x5_rows;
  dyce__dwconv_fn dwconv_5x5, dwconv_any;
  const char *dwconv_3x3_name, *dwconv_5x5_rows_name, *dwconv_5x5_name,
      *dwconv_any_name;
} dyce__simd_config;

extern const dyce__simd_config dyce__simd_config_this_target;

/* The microkernels (igemm.c, dwconv.c, dwconv_rows.c, dwconv_rows5.c);
 * names in config.c. */
void dyce__f32_igemm_1x8(size_t mr, size_t n, size_t kc, size_t kc_packed,
                         size_t ks,
                         const float *const *a, const float *w,
                         const float *bias, float *c, size_t c_stride,
                         dyce__clamp clamp);
void dyce__f32_igemm_4x8(size_t mr, size_t n, size_t kc, size_t kc_packed,
                         size_t ks,
                         const float *const *a, const float *w,
                         const float *bias, float *c, size_t c_stride,
                         dyce__clamp clamp);
void dyce__f32_dwconv_3x3r_4ch(const dyce__window *g, const float *in,
                               const float *w, const float *bias,
                               dyce__clamp clamp, float *out,
                               const float *zero);
void dyce__f32_dwconv_5x5r_4ch(const dyce__window *g, const float *in,
                               const float *w, const float *bias,
                               dyce__clamp clamp, float *out,
                               const float *zero);
void dyce__f32_dwconv_5x5_8ch(size_t channels, size_t taps,
                              const float *const *in, const float *w,
                              const float *bias, float *out,
                              dyce__clamp clamp);
void dyce__f32_dwconv_any_8ch(size_t channels, size_t taps,
                              const float *const *in, const float *w,
                              const float *bias, float *out,
                              dyce__clamp clamp);

/* How the SIMD table runs a convolution; packing follows from it. */
typedef enum {
  DYCE__CONV_DENSE,     /* groups == 1: GEMM over row pointers (kernel
                           rows in place, gathered rows, or pixels) */
  DYCE__CONV_WINOGRAD,  /* groups == 1, 3x3 stride 1, 8-128 input
                           channels: dyce__simd_winograd_applies */
  DYCE__CONV_DEPTHWISE, /* one filter per channel */
  DYCE__CONV_GROUPED,   /* other groups (ResNeXt, RegNet; channel
                           multipliers): a GEMM per group over its
                           channels of the same tap pointers */
  DYCE__CONV_REFERENCE  /* anything else: scalar reference */
} dyce__conv_kind;

dyce__conv_kind dyce__simd_conv_kind(const dyce__window *g);

/* Packs an [n][k] row-major matrix (k-contiguous, as OHWI is with
 * k = kh*kw*cin) into ceil(n / nr) panels of [k][nr]. */
size_t dyce__simd_gemm_packed_floats(size_t k, size_t n, size_t nr);
void dyce__simd_pack_gemm(size_t k, size_t n, size_t nr, const float *nk,
                          float *dst);

/* Runs rows of a GEMM: m output rows whose ks input-row pointers are
 * a[i*ks + t], over all n columns; out rows are c_stride apart. The
 * panels were packed with kc_packed rows per tap (see dyce__igemm_fn). */
void dyce__simd_gemm_rows(size_t m, size_t n, size_t kc, size_t kc_packed,
                          size_t ks,
                          const float *const *a, const float *packed,
                          const float *bias, float *out, size_t c_stride,
                          dyce__clamp clamp);

/* Writes the kh*kw input-pixel pointers of output pixel `pixel` (out_h
 * x out_w order) to p, padding taps at `zero`; returns p past them
 * (conv2d.c; the gathered and grouped convolutions, depthwise.c). */
const float **dyce__simd_pixel_taps(const dyce__window *g, const float *in,
                                    const float *zero, size_t pixel,
                                    const float **p);

/* The convolution of dyce__kernels_simd (conv2d.c): one of the kinds
 * above, by dyce__simd_conv_kind. */
DYCE__KERNELS_CONV2D(DYCE__KERNEL_DECLARE, simd)

/* DYCE__CONV_WINOGRAD: Winograd F(2x2, 3x3) (winograd.c). */
int dyce__simd_winograd_applies(const dyce__window *g);
size_t dyce__simd_winograd_packed_floats(const dyce__window *g);
void dyce__simd_pack_winograd(const dyce__window *g, const float *ohwi,
                              float *dst);
size_t dyce__simd_winograd_scratch_bytes(const dyce__window *g);
void dyce__simd_conv_winograd(const dyce__window *g, const float *in,
                              const float *packed, const float *bias,
                              dyce__clamp clamp, float *out, void *scratch);

size_t dyce__simd_dwconv_packed_floats(const dyce__window *g);
void dyce__simd_pack_dwconv(const dyce__window *g, const float *ohwi,
                            float *dst);
size_t dyce__simd_dwconv_scratch_bytes(const dyce__window *g);
void dyce__simd_dwconv(const dyce__window *g, const float *in,
                       const float *packed, const float *bias,
                       dyce__clamp clamp, float *out, void *scratch);

/* The ops of dyce__kernels_simd (table.c); softmax, the CHW flatten and
 * group_norm are the reference's. */
DYCE__KERNELS_FC(DYCE__KERNEL_DECLARE, simd)
DYCE__KERNELS_POOL(DYCE__KERNEL_DECLARE, simd)
DYCE__KERNELS_ELEMENTWISE(DYCE__KERNEL_DECLARE, simd)
DYCE__KERNELS_NORM(DYCE__KERNEL_DECLARE, simd)
DYCE__KERNELS_GATHER(DYCE__KERNEL_DECLARE, simd)
DYCE__KERNELS_ATTENTION(DYCE__KERNEL_DECLARE, simd)

/* n rounded up to a whole vector of floats. */
static inline size_t dyce__round4(size_t n) { return (n + 3) & ~(size_t)3; }

/* A vector of the first n <= 4 floats at p, and its store (tails of
 * channel loops). */
static inline dyce__vf dyce__vf_load_n(const float *p, size_t n) {
  return n == 4 ? dyce__vf_load(p) : dyce__vf_load_partial(p, n);
}
static inline void dyce__vf_store_n(float *p, dyce__vf v, size_t n) {
  if (n == 4)
    dyce__vf_store(p, v);
  else
    dyce__vf_store_partial(p, v, n);
}

#endif /* DYCE_KERNELS_SIMD_SIMD_H */
