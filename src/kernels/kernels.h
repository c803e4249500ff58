/*
 * The kernel layer: the arithmetic of each operator on raw float arrays,
 * with no knowledge of graphs or files. The op layer (ops/) validates and
 * packs, then calls a kernel through the table below.
 *
 * This is the seam where SIMD kernels plug in: a target provides its own
 * table (chosen once, at build or at load), the op layer never names a
 * kernel. `dyce__kernels_ref` is the plain scalar reference every other
 * table is tested against.
 */
#ifndef DYCE_KERNELS_KERNELS_H
#define DYCE_KERNELS_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "../format.h"

/* Geometry of a 2-D convolution or pooling window over NHWC data. */
typedef struct dyce__window {
  uint32_t in_h, in_w, in_c;
  uint32_t out_h, out_w, out_c;
  uint32_t kh, kw, sh, sw, dh, dw;
  uint32_t pad_t, pad_l;
  uint32_t groups;
  /* Channels the weights were packed for. A width level (REDS) runs a
   * prefix of the channels with the same packed weights: in_c <= packed_in_c
   * and out_c <= packed_out_c, and tensors are stored with their active
   * channel count. Equal to in_c / out_c / groups outside width levels;
   * the packed layout (dense or depthwise) follows the packed sizes, since
   * a level may leave a depthwise convolution one channel (groups 1). */
  uint32_t packed_in_c, packed_out_c, packed_groups;
  /* A part of a convolution split by output channels (threads; only where
   * conv2d_channel_block is nonzero): channels [out_c0, out_c0 + out_c)
   * of an output whose pixels are out_stride floats apart. `out`,
   * `packed` and `bias` still point at channel 0. Zero: the whole output. */
  uint32_t out_c0, out_stride;
} dyce__window;

/* The input pixel (row * in_w + column) that tap (ky, kx) of output
 * pixel (oy, ox) reads, or -1 where the tap falls in the padding. */
static inline long dyce__window_tap(const dyce__window *g, size_t oy,
                                    size_t ox, uint32_t ky, uint32_t kx) {
  long iy = (long)oy * g->sh - (long)g->pad_t + (long)ky * g->dh;
  long ix = (long)ox * g->sw - (long)g->pad_l + (long)kx * g->dw;
  return iy >= 0 && iy < (long)g->in_h && ix >= 0 && ix < (long)g->in_w
             ? iy * (long)g->in_w + ix
             : -1;
}

/* Fused activation applied to every output element. */
typedef struct dyce__activation {
  dyce__act act;
  float a, b;
} dyce__activation;

/*
 * The kernels, one list per op: X(prefix, return type, name, parameters).
 * Each list generates the fields of dyce__kernels below, the declarations
 * of a kernel set that implements the op (DYCE__KERNEL_DECLARE with the
 * set's prefix: dyce__ref_conv2d, dyce__simd_conv2d, ...) and a table's
 * entries (DYCE__KERNEL_ENTRY), so a kernel is named once per set.
 */

/* Convolution. `pack_conv2d` turns OHWI file weights into the kernel's
 * layout; `conv2d_packed_floats` says how many floats that takes and
 * `conv2d_scratch_bytes` how much workspace the kernel needs.
 * `conv2d_row_block`: output rows the kernel computes together (2 for
 * Winograd's 2x2 blocks, else 1). A convolution split into bands of output
 * rows that start at multiples of it (runtime threads) computes every
 * output with the same operations in the same order as in one call.
 * `conv2d_channel_block`: nonzero when the kernel also computes a range of
 * output channels starting at a multiple of it (out_c0, out_stride), each
 * with the same operations as in one call; 0 when it cannot. */
#define DYCE__KERNELS_CONV2D(X, p)                                         \
  X(p, size_t, conv2d_packed_floats, (const dyce__window *g))              \
  X(p, void, pack_conv2d,                                                  \
    (const dyce__window *g, const float *ohwi, float *dst))                \
  X(p, size_t, conv2d_scratch_bytes, (const dyce__window *g))              \
  X(p, uint32_t, conv2d_row_block, (const dyce__window *g))                \
  X(p, uint32_t, conv2d_channel_block, (const dyce__window *g))            \
  X(p, void, conv2d,                                                       \
    (const dyce__window *g, const float *in, const float *packed,          \
     const float *bias, dyce__activation act, float *out, void *scratch))

/* Optional, NULL in most tables: kernels that keep state outside the
 * packed floats (XNNPACK operators) build it at load from the bias and
 * activation too, instead of pack_conv2d, and free it with the model.
 * `packed` is what prepare_conv2d wrote. */
#define DYCE__KERNELS_CONV2D_STATE(X, p)                                   \
  X(p, void, prepare_conv2d,                                               \
    (const dyce__window *g, const float *ohwi, const float *bias,          \
     dyce__activation act, float *dst))                                    \
  X(p, void, release_conv2d, (const float *packed))

/* Fully connected: out[n] = act(sum_k w[n][k] * in[k] + bias[n]),
 * over the first k inputs and n outputs of weights packed for
 * k_packed x (n or more) (a width level runs a prefix). */
#define DYCE__KERNELS_FC(X, p)                                             \
  X(p, size_t, fc_packed_floats, (size_t k, size_t n))                     \
  X(p, void, pack_fc, (size_t k, size_t n, const float *nk, float *dst))   \
  X(p, void, fully_connected,                                              \
    (size_t k, size_t k_packed, size_t n, const float *in,                 \
     const float *packed, const float *bias, dyce__activation act,         \
     float *out))

#define DYCE__KERNELS_POOL(X, p)                                           \
  X(p, void, max_pool,                                                     \
    (const dyce__window *g, const float *in, dyce__activation act,         \
     float *out))                                                          \
  X(p, void, avg_pool,                                                     \
    (const dyce__window *g, int count_include_pad, const float *in,        \
     dyce__activation act, float *out))                                    \
  X(p, void, global_avg_pool,                                              \
    (size_t hw, size_t c, const float *in, dyce__activation act,           \
     float *out))                                                          \
  X(p, void, global_max_pool,                                              \
    (size_t hw, size_t c, const float *in, dyce__activation act,           \
     float *out))

/* concat_channels: pixel i of `out` is pixel i of in[0] (c[0] floats),
 * then of in[1] (c[1] floats), ... for `count` inputs.
 * binary: out = act(a op b); b has `b_count` elements that repeat along a
 * (b_count is n, c or 1). `op` is DYCE__OP_ADD, _MUL, _MAX or _MIN (max
 * and min NaN when either operand is, as torch.maximum / minimum). */
#define DYCE__KERNELS_ELEMENTWISE(X, p)                                    \
  X(p, void, concat_channels,                                              \
    (size_t hw, size_t count, const size_t *c, const float *const *in,     \
     float *out))                                                          \
  X(p, void, binary,                                                       \
    (dyce__op op, size_t n, size_t c, const float *a, const float *b,      \
     size_t b_count, dyce__activation act, float *out))                    \
  X(p, void, channel_affine,                                               \
    (size_t n, size_t c, const float *in, const float *scale,              \
     const float *shift, dyce__activation act, float *out))                \
  X(p, void, activation,                                                   \
    (size_t n, const float *in, dyce__activation act, float *out))

/* A resize (F.interpolate): in_h x in_w x c to out_h x out_w x c. Source
 * coordinate of output row y: inv_h * y (nearest, and bilinear aligning
 * corners) or inv_h * (y + 0.5) - 0.5 clamped at 0 (bilinear), in float
 * as PyTorch computes it; nearest takes the row it falls in (at most the
 * last), bilinear blends the two around it. */
typedef struct dyce__resize {
  uint32_t in_h, in_w, c, out_h, out_w;
  int bilinear, align_corners;
  float inv_h, inv_w;
} dyce__resize;

/* Source position of output index `dst` along an axis with step `inv`. */
float dyce__resize_source(const dyce__resize *r, float inv, uint32_t dst);

/* group_norm (GroupNorm, InstanceNorm, LayerNorm): for each of
 * `groups` groups of c / groups channels, mean and variance over its
 * channels at all hw pixels, or with `pixelwise` at each pixel alone
 * (double sums), then
 * out = act((x - mean) / sqrt(var + eps) * gamma[k] + beta[k]).
 * The SIMD table vectorises the pixelwise form (LayerNorm over each
 * token's or pixel's channels: ViT, Swin, ConvNeXt). */
#define DYCE__KERNELS_NORM(X, p)                                           \
  X(p, void, group_norm,                                                   \
    (size_t hw, size_t c, size_t groups, int pixelwise, float eps,         \
     const float *in, const float *gamma, const float *beta,               \
     dyce__activation act, float *out))

/* channel_gather: out[i][k] = in[i][from[k]] for n output channels of
 * each of hw pixels (a data move: a slice, split or shuffle). The SIMD
 * table copies runs of consecutive channels and zips ShuffleNet's
 * interleave of two halves. */
#define DYCE__KERNELS_GATHER(X, p)                                         \
  X(p, void, channel_gather,                                               \
    (size_t hw, size_t c, size_t n, const uint32_t *from, const float *in, \
     float *out))

/* Not worth vectorising: every table takes the reference's. flatten_chw
 * runs once per model, on the logits.
 * resize: dyce__resize above.
 * channel_reduce: out[i] = the mean (max != 0: the maximum) of the c
 * channels of pixel i, for hw pixels.
 * adaptive_pool: h x w x c to oh x ow x c, the mean (max != 0: maximum)
 * of each of PyTorch's adaptive bins.
 */
#define DYCE__KERNELS_SCALAR(X, p)                                         \
  X(p, void, flatten_chw,                                                  \
    (size_t h, size_t w, size_t c, const float *in, float *out))           \
  X(p, void, resize,                                                       \
    (const dyce__resize *r, const float *in, float *out))                  \
  X(p, void, channel_reduce,                                               \
    (size_t hw, size_t c, int max, const float *in, float *out))           \
  X(p, void, adaptive_pool,                                                \
    (uint32_t h, uint32_t w, uint32_t c, uint32_t oh, uint32_t ow, int max, \
     const float *in, float *out))

/* The largest of x[0 .. c) (c >= 1): where both softmax kernels start. */
static inline float dyce__row_max(const float *x, size_t c) {
  float max = x[0];
  for (size_t k = 1; k < c; k++)
    if (x[k] > max) max = x[k];
  return max;
}

/* Attention (and every classifier's softmax): both vectorised, the
 * reference's kernels in the reference table.
 * softmax: over c at each of `rows`; log != 0: log-softmax. The SIMD one
 * takes exp from activation.h's polynomial (within ~1.5 ulp of expf).
 * matmul: attention's products per head, rows a[i] and b[j] of m and n
 * rows, `groups` groups of channels; each sum in float in index order,
 * then times alpha: the same bits in every table (the SIMD kernel adds
 * the same products in the same order, without fused multiply-adds).
 * trans_b: a m x (groups k), b n x (groups k), out m x (groups n),
 *   out[i][g n + j] = alpha * sum_t a[i][g k + t] * b[j][g k + t];
 *   `scratch` holds k x n floats (one head of b, transposed);
 * else: a m x (groups n), b n x (groups k), out m x (groups k),
 *   out[i][g k + t] = alpha * sum_j a[i][g n + j] * b[j][g k + t]. */
#define DYCE__KERNELS_ATTENTION(X, p)                                      \
  X(p, void, softmax,                                                      \
    (size_t rows, size_t c, const float *in, float *out, int log))         \
  X(p, void, matmul,                                                       \
    (size_t m, size_t n, size_t k, size_t groups, int trans_b, float alpha, \
     const float *a, const float *b, float *out, float *scratch))

/* Int8 (docs/INT8.md). The output stage of conv2d and fully connected:
 * out = clamp(rne(float(acc) * mult[oc]) + zp, qmin, qmax), one binary32
 * multiply, round half to even; `mult` has one entry per output channel
 * (packed_out_c of them; a width level uses a prefix). */
typedef struct dyce__q8_out {
  const float *mult;
  int32_t zp, qmin, qmax;
} dyce__q8_out;

/* add: out = clamp(rne(float(a - zp_a) * ma + float(b - zp_b) * mb) + zp,
 * qmin, qmax); mul: clamp(rne(float((a - zp_a) * (b - zp_b)) * ma) + zp, ...)
 * (mb unused). */
typedef struct dyce__q8_binary {
  int32_t zp_a, zp_b;
  float ma, mb;
  int32_t zp, qmin, qmax;
} dyce__q8_binary;

/* avg pools: acc = sum of (q - in_zp) over the window's counted cells,
 * out = clamp(rne(float(acc) * (ratio / (float)count)) + zp, qmin, qmax),
 * ratio = in_scale / out_scale. */
typedef struct dyce__q8_pool {
  int32_t in_zp;
  float ratio;
  int32_t zp, qmin, qmax;
} dyce__q8_pool;

/* Int8 kernels. Convolution and fully connected take int8 weights packed
 * once (`*_packed_bytes`, `pack_*` from OHWI / [N][K] int8), int32 biases
 * (one per output channel, never NULL) and subtract the input zero point
 * themselves (padding taps add 0), so a width level runs a prefix of the
 * packed input channels as the float kernels do (dyce__window; out_c0 and
 * out_stride must be 0). q8_lut maps every byte through a 256-entry table
 * indexed by q + 128. quantize: clamp(rne(x * inv_scale) + zp, -128, 127);
 * dequantize: float(q - zp) * scale. Max pools and the data moves take
 * and give the same scale and zero point; qmin / qmax clamp (fused ReLU). */
#define DYCE__KERNELS_Q8(X, p)                                             \
  X(p, size_t, q8_conv2d_packed_bytes, (const dyce__window *g))            \
  X(p, void, pack_q8_conv2d,                                               \
    (const dyce__window *g, const int8_t *ohwi, void *dst))                \
  X(p, size_t, q8_conv2d_scratch_bytes, (const dyce__window *g))           \
  X(p, void, q8_conv2d,                                                    \
    (const dyce__window *g, const int8_t *in, int32_t in_zp,               \
     const void *packed, const int32_t *bias, const dyce__q8_out *o,       \
     int8_t *out, void *scratch))                                          \
  X(p, size_t, q8_fc_packed_bytes, (size_t k, size_t n))                   \
  X(p, void, pack_q8_fc, (size_t k, size_t n, const int8_t *nk, void *dst)) \
  X(p, void, q8_fully_connected,                                           \
    (size_t k, size_t k_packed, size_t n, const int8_t *in, int32_t in_zp, \
     const void *packed, const int32_t *bias, const dyce__q8_out *o,       \
     int8_t *out))                                                         \
  X(p, void, q8_binary,                                                    \
    (dyce__op op, size_t n, size_t c, const int8_t *a, const int8_t *b,    \
     size_t b_count, const dyce__q8_binary *q, int8_t *out))               \
  X(p, void, q8_lut,                                                       \
    (size_t n, const int8_t *in, const int8_t *table, int8_t *out))        \
  X(p, void, q8_max_pool,                                                  \
    (const dyce__window *g, const int8_t *in, int32_t qmin, int32_t qmax,  \
     int8_t *out))                                                         \
  X(p, void, q8_avg_pool,                                                  \
    (const dyce__window *g, int count_include_pad, const int8_t *in,       \
     const dyce__q8_pool *q, int8_t *out))                                 \
  X(p, void, q8_global_avg_pool,                                           \
    (size_t hw, size_t c, const int8_t *in, const dyce__q8_pool *q,        \
     int8_t *out))                                                         \
  X(p, void, q8_global_max_pool,                                           \
    (size_t hw, size_t c, const int8_t *in, int32_t qmin, int32_t qmax,    \
     int8_t *out))                                                         \
  X(p, void, quantize,                                                     \
    (size_t n, const float *in, float inv_scale, int32_t zp, int8_t *out)) \
  X(p, void, dequantize,                                                   \
    (size_t n, const int8_t *in, float scale, int32_t zp, float *out))     \
  X(p, void, q8_concat_channels,                                           \
    (size_t hw, size_t count, const size_t *c, const int8_t *const *in,    \
     int8_t *out))                                                         \
  X(p, void, q8_flatten_chw,                                               \
    (size_t h, size_t w, size_t c, const int8_t *in, int8_t *out))

/* Every list, in the order of the fields of dyce__kernels. */
#define DYCE__KERNELS_ALL(X, p)                                            \
  DYCE__KERNELS_CONV2D(X, p)                                               \
  DYCE__KERNELS_CONV2D_STATE(X, p)                                         \
  DYCE__KERNELS_FC(X, p)                                                   \
  DYCE__KERNELS_POOL(X, p)                                                 \
  DYCE__KERNELS_ELEMENTWISE(X, p)                                          \
  DYCE__KERNELS_NORM(X, p)                                                 \
  DYCE__KERNELS_GATHER(X, p)                                               \
  DYCE__KERNELS_SCALAR(X, p)                                               \
  DYCE__KERNELS_ATTENTION(X, p)                                            \
  DYCE__KERNELS_Q8(X, p)

/* Expanders for the lists: a field, a declaration of kernel set `p`
 * (dyce__<p>_<name>), an entry of a table that takes the op from set p. */
#define DYCE__KERNEL_FIELD(p, ret, name, params) ret(*name) params;
#define DYCE__KERNEL_DECLARE(p, ret, name, params) ret dyce__##p##_##name params;
#define DYCE__KERNEL_ENTRY(p, ret, name, params) .name = dyce__##p##_##name,

typedef struct dyce__kernels {
  const char *name;
  /* Nonzero when packing dense and depthwise convolutions and fully
   * connected weights is local to blocks of this many output channels:
   * those rows of the file's weights become as many floats at the same
   * offset (when the channel count is a multiple of it). A loader can
   * then pack in place, one block at a time. */
  uint32_t pack_block_rows;
  DYCE__KERNELS_ALL(DYCE__KERNEL_FIELD, unused)
} dyce__kernels;

extern const dyce__kernels dyce__kernels_ref;
/* Register-blocked kernels over the vector layer (simd/): WASM SIMD128,
 * relaxed SIMD, SSE2 natively, or scalar code where there is no SIMD. */
extern const dyce__kernels dyce__kernels_simd;
/* Native only: convolutions through Debian's XNNPACK (xnnpack/), the rest
 * through the SIMD table. Linked into the C tests as their oracle; the
 * default table of builds configured with -DDYCE_XNNPACK=ON. */
extern const dyce__kernels dyce__kernels_xnnpack;

/* The table the engine uses on this target. */
const dyce__kernels *dyce__kernels_default(void);

#endif /* DYCE_KERNELS_KERNELS_H */
