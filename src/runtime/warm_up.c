/*
 * Warm-up: every kernel family of this build run on small synthetic
 * tensors, without a model (dyce_warm_up in dyce.h).
 *
 * Why: V8 runs WebAssembly first as Liftoff's baseline code (5-10x slower
 * on these kernels) and optimises a function with TurboFan, in the
 * background, once it has run enough. The first inference of a freshly
 * loaded model therefore took 8-12x a steady one (docs/PERFORMANCE.md,
 * "Cold start"). A host with time to spare before that inference — a page
 * waiting for its package to download, a pool thread that has just
 * started — runs this instead, so the optimised kernels are ready when the
 * package is.
 *
 * The shapes are chosen to go through the paths real models take: a
 * few-channel stem (row convolution), Winograd 3x3, 1x1 GEMM with pixel
 * and channel tails, a row convolution over many channels, depthwise 3x3
 * (strides 1 and 2) and 5x5, pools, fully connected, add, activations,
 * softmax, and the int8 forms of the convolutions, fully connected and
 * add. Everything lives in the caller's buffer (a bump allocator over it):
 * a worker of the threaded builds, which may not allocate, can run it.
 */
#include <string.h>

#include "../core/internal.h"
#include "../kernels/kernels.h"

typedef struct bump {
  uint8_t *base; /* NULL: only measure */
  size_t used, peak, size;
} bump;

/* Plain loops for the fills: vectorised, they made this file 14 KB of
 * every module. */
#if defined(__clang__)
#define PLAIN_LOOP _Pragma("clang loop vectorize(disable) interleave(disable) unroll(disable)")
#else
#define PLAIN_LOOP
#endif

static void *take(bump *b, size_t bytes) {
  size_t at = (size_t)dyce__align_up(b->used, 16);
  b->used = at + bytes;
  if (b->used > b->peak) b->peak = b->used;
  return b->base && b->used <= b->size ? b->base + at : NULL;
}

/* Each step's inputs are written afresh: the steps share the buffer. */
static float *floats(bump *b, size_t n, float scale) {
  float *p = take(b, n * sizeof(float));
  if (p) {
    PLAIN_LOOP
    for (size_t i = 0; i < n; i++) p[i] = scale * (float)((int)(i % 13) - 6);
  }
  return p;
}

static int8_t *bytes8(bump *b, size_t n) {
  int8_t *p = take(b, n);
  if (p) {
    PLAIN_LOOP
    for (size_t i = 0; i < n; i++) p[i] = (int8_t)((int)(i * 37 % 255) - 127);
  }
  return p;
}

/* An int8 output stage for n channels: biases `bias`, multipliers 1e-3. */
static dyce__q8_out q8_stage(bump *b, size_t n, int32_t bias, int32_t **biases) {
  *biases = take(b, n * sizeof(int32_t));
  float *mult = take(b, n * sizeof(float));
  if (*biases && mult) {
    PLAIN_LOOP
    for (size_t i = 0; i < n; i++) (*biases)[i] = bias, mult[i] = 1e-3f;
  }
  return (dyce__q8_out){mult, 0, -128, 127};
}

static dyce__window conv(uint32_t h, uint32_t c, uint32_t oc, uint32_t k,
                         uint32_t s, uint32_t groups) {
  uint32_t pad = k / 2, out = (h + 2 * pad - k) / s + 1;
  return (dyce__window){h, h, c, out, out, oc, k, k, s, s, 1, 1, pad, pad,
                        groups, c, oc, groups, 0, 0};
}

static size_t conv_weights(const dyce__window *g) {
  return (size_t)g->out_c * g->kh * g->kw * (g->in_c / g->groups);
}

static void float_conv(const dyce__kernels *k, bump *b, dyce__window g,
                       dyce__act act) {
  size_t mark = b->used;
  float *x = floats(b, (size_t)g.in_h * g.in_w * g.in_c, 0.1f);
  float *w = floats(b, conv_weights(&g), 0.01f);
  float *bias = floats(b, g.out_c, 0.02f);
  float *packed = take(b, k->conv2d_packed_floats(&g) * sizeof(float));
  float *y = take(b, (size_t)g.out_h * g.out_w * g.out_c * sizeof(float));
  void *scratch = take(b, k->conv2d_scratch_bytes(&g));
  if (x && w && bias && packed && y && scratch) {
    k->pack_conv2d(&g, w, packed);
    k->conv2d(&g, x, packed, bias, (dyce__activation){act, 0.0f, 6.0f}, y,
              scratch);
  }
  b->used = mark;
}

static void q8_conv(const dyce__kernels *k, bump *b, dyce__window g) {
  size_t mark = b->used;
  int8_t *x = bytes8(b, (size_t)g.in_h * g.in_w * g.in_c);
  int8_t *w = bytes8(b, conv_weights(&g));
  int32_t *bias;
  dyce__q8_out o = q8_stage(b, g.out_c, 100, &bias);
  o.zp = o.qmin = -3; /* a fused ReLU */
  void *packed = take(b, k->q8_conv2d_packed_bytes(&g));
  int8_t *y = take(b, (size_t)g.out_h * g.out_w * g.out_c);
  void *scratch = take(b, k->q8_conv2d_scratch_bytes(&g));
  if (x && w && bias && o.mult && packed && y && scratch) {
    k->pack_q8_conv2d(&g, w, packed);
    k->q8_conv2d(&g, x, 5, packed, bias, &o, y, scratch);
  }
  b->used = mark;
}

/* Fully connected, pools, add, activations, softmax. */
static void float_rest(const dyce__kernels *k, bump *b) {
  size_t mark = b->used, hw = 36, c = 64, n = 10;
  float *x = floats(b, hw * c, 0.1f), *x2 = floats(b, hw * c, 0.2f);
  float *y = take(b, hw * c * sizeof(float));
  float *w = floats(b, c * n, 0.01f), *bias = floats(b, n, 0.1f);
  float *packed = take(b, k->fc_packed_floats(c, n) * sizeof(float));
  float *pooled = take(b, c * sizeof(float)), *logits = take(b, n * sizeof(float));
  if (x && x2 && y && w && bias && packed && pooled && logits) {
    dyce__activation none = {DYCE__ACT_NONE, 0, 0};
    dyce__window pool = conv(6, (uint32_t)c, (uint32_t)c, 3, 2, 1);
    k->max_pool(&pool, x, none, y);
    k->binary(DYCE__OP_ADD, hw * c, c, x, x2, hw * c,
              (dyce__activation){DYCE__ACT_RELU, 0, 0}, y);
    k->activation(hw * c, y, (dyce__activation){DYCE__ACT_HARD_SWISH, 0, 0}, y);
    k->activation(hw * c, y, (dyce__activation){DYCE__ACT_SIGMOID, 0, 0}, y);
    k->global_avg_pool(hw, c, y, none, pooled);
    k->pack_fc(c, n, w, packed);
    k->fully_connected(c, c, n, pooled, packed, bias, none, logits);
    k->softmax(1, n, logits, logits, 0);
  }
  b->used = mark;
}

static void q8_rest(const dyce__kernels *k, bump *b) {
  size_t mark = b->used, n = 10, c = 64, hw = 36;
  int8_t *x = bytes8(b, hw * c), *x2 = bytes8(b, hw * c), *y = take(b, hw * c);
  int8_t *w = bytes8(b, c * n), *out = take(b, n);
  int32_t *bias;
  dyce__q8_out o = q8_stage(b, n, 10, &bias);
  void *packed = take(b, k->q8_fc_packed_bytes(c, n));
  if (x && x2 && y && w && out && bias && o.mult && packed) {
    dyce__q8_binary add = {1, -2, 0.5f, 0.25f, 3, -128, 127};
    k->q8_binary(DYCE__OP_ADD, hw * c, c, x, x2, hw * c, &add, y);
    k->pack_q8_fc(c, n, w, packed);
    k->q8_fully_connected(c, c, n, y, 1, packed, bias, &o, out);
  }
  b->used = mark;
}

/* One round over every family; with b->base NULL, only the sizes. */
static void round_of(const dyce__kernels *k, bump *b) {
  /* Kernels with state (XNNPACK, native) are set up per node: skipped. */
  if (!k->prepare_conv2d) {
    float_conv(k, b, conv(18, 3, 16, 3, 2, 1), DYCE__ACT_RELU);    /* stem */
    float_conv(k, b, conv(12, 16, 20, 3, 1, 1), DYCE__ACT_RELU);   /* Winograd */
    float_conv(k, b, conv(10, 24, 44, 1, 1, 1), DYCE__ACT_CLIP);   /* 1x1, tails */
    float_conv(k, b, conv(6, 136, 16, 3, 1, 1), DYCE__ACT_NONE);   /* rows, wide */
    float_conv(k, b, conv(12, 24, 24, 3, 1, 24), DYCE__ACT_CLIP);  /* dw 3x3 */
    float_conv(k, b, conv(12, 24, 24, 3, 2, 24), DYCE__ACT_CLIP);  /* dw 3x3/2 */
    float_conv(k, b, conv(12, 24, 24, 5, 1, 24), DYCE__ACT_RELU);  /* dw 5x5 */
  }
  float_rest(k, b);
  q8_conv(k, b, conv(12, 16, 20, 3, 1, 1));
  q8_conv(k, b, conv(10, 24, 44, 1, 1, 1));
  q8_conv(k, b, conv(12, 24, 24, 3, 1, 24));
  q8_rest(k, b);
}

size_t dyce_warm_up_bytes(void) {
  bump b = {NULL, 0, 0, 0};
  round_of(dyce__kernels_default(), &b);
  return b.peak + 16; /* + alignment of the caller's buffer */
}

dyce_status dyce_warm_up(void *buffer, size_t bytes, uint32_t rounds,
                         dyce_error *err) {
  size_t need = dyce_warm_up_bytes();
  if (!buffer || bytes < need)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "the warm-up needs a buffer of %zu bytes (%zu given)",
                      need, buffer ? bytes : 0);
  uint8_t *base = (uint8_t *)(uintptr_t)dyce__align_up((uintptr_t)buffer, 16);
  bump b = {base, 0, 0, bytes - (size_t)(base - (uint8_t *)buffer)};
  for (uint32_t r = 0; r < rounds; r++) round_of(dyce__kernels_default(), &b);
  return dyce__ok(err);
}
