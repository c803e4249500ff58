/* Elementwise ops: add, mul, max, min (with broadcast), activation,
 * channel_affine, softmax and flatten. None of them changes the number of
 * elements except flatten, which only reorders them. */
#include "ops.h"

static dyce_status same_shape_out(const dyce__node *node,
                                  const dyce__shape *tensors,
                                  dyce_error *err) {
  return dyce__expect_shape(node, tensors, tensors[node->in0], err);
}

static dyce_status no_activation(const dyce__node *node, dyce_error *err) {
  if (node->act != DYCE__ACT_NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cannot fuse an activation");
  return DYCE_OK;
}

/* ---- threads ---------------------------------------------------------- */

/* Threads split add, mul, activation and channel_affine into ranges of
 * whole pixels, so a per-channel operand stays aligned: every element is
 * computed alone, so any range gives the same bits. A tensor of two rows
 * or more splits into bands of whole rows as convolutions do (the same
 * bands for the same height), so that a part can follow a convolution's
 * part of the same rows without waiting for the others (runtime/chains.c);
 * a single row into ranges of pixels. */
static uint32_t split_pixels(const dyce__node *node, const dyce__shape *tensors,
                             const dyce__kernels *k, uint32_t max_parts,
                             size_t *part_scratch) {
  (void)k;
  *part_scratch = 0;
  dyce__shape s = tensors[node->out];
  if (max_parts < 2) return 1;
  if (s.h >= 2) return dyce__bands(s.h, 1, max_parts);
  return s.w >= max_parts ? max_parts : s.w >= 2 ? s.w : 1;
}

/* Part `part` of `parts` of tensor `s` (as split_pixels shares it out):
 * its first pixel (*p0) and its end (*p1). */
static void pixel_range(dyce__shape s, uint32_t part, uint32_t parts,
                        size_t *p0, size_t *p1) {
  size_t pixels = (size_t)s.h * s.w;
  if (s.h >= 2 && parts > 1) {
    uint32_t y0, y1;
    dyce__band(s.h, 1, part, parts, &y0, &y1);
    *p0 = (size_t)y0 * s.w;
    *p1 = (size_t)y1 * s.w;
    return;
  }
  *p0 = pixels * part / parts;
  *p1 = pixels * (part + 1) / parts;
}

/* The same range in elements: the first (*at) and the count. */
static size_t pixel_slice(dyce__shape s, uint32_t part, uint32_t parts,
                          size_t *at) {
  size_t p0, p1;
  pixel_range(s, part, parts, &p0, &p1);
  *at = p0 * s.c;
  return (p1 - p0) * s.c;
}

/* Every part reads the pixels it writes, of each input of the output's
 * size; a smaller operand (per channel, broadcast) is read whole. */
static int part_pixels(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, uint32_t part, uint32_t parts,
                       uint32_t input, size_t w[2], size_t r[2]) {
  (void)k;
  dyce__shape out = tensors[node->out], in = tensors[input];
  pixel_range(out, part, parts, &w[0], &w[1]);
  if (in.h == out.h && in.w == out.w && in.c == out.c) {
    r[0] = w[0];
    r[1] = w[1];
  } else {
    r[0] = 0;
    r[1] = (size_t)in.h * in.w;
  }
  return 1;
}

/* ---- add, mul, max, min ----------------------------------------------- */

/* A second input of shape H x 1 x C (one value per row and channel,
 * repeated along the width) or 1 x W x C (repeated down the height):
 * coordinate attention's gates, x * x.mean(3, keepdim=True); or H x W x 1
 * (one value per pixel, for every channel: attention pooling's weights). */
static int broadcast_of(const dyce__node *node, const dyce__shape *tensors) {
  if (node->in1 == DYCE__NONE) return DYCE__BCAST_NONE;
  dyce__shape a = tensors[node->in0], b = tensors[node->in1];
  if (b.c == 1 && a.c > 1 && b.h == a.h && b.w == a.w) return DYCE__BCAST_PIXELS;
  if (b.c != a.c || (b.h == a.h && b.w == a.w) || (b.h == 1 && b.w == 1))
    return DYCE__BCAST_NONE;
  if (b.h == a.h && b.w == 1) return DYCE__BCAST_ROWS;
  if (b.h == 1 && b.w == a.w) return DYCE__BCAST_COLUMNS;
  return DYCE__BCAST_NONE;
}

static dyce_status check_binary(dyce__node *node, const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce__shape a = tensors[node->in0];
  dyce_status s = same_shape_out(node, tensors, err);
  if (s) return s;
  if (node->bias_count)
    return dyce__fail(err, DYCE_BAD_FORMAT, "takes no bias");
  size_t n = dyce__shape_elems(a);
  if (node->in1 != DYCE__NONE) {
    dyce__shape b = tensors[node->in1];
    int same = b.h == a.h && b.w == a.w && b.c == a.c;
    int per_channel = b.h == 1 && b.w == 1 && b.c == a.c;
    /* Decided once, from the file's shapes: a width level narrows the
     * channels of both inputs alike and keeps heights and widths. */
    node->bcast = broadcast_of(node, tensors);
    if (!same && !per_channel && !node->bcast)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "second input %ux%ux%u neither matches %ux%ux%u nor "
                        "is 1x1x%u, %ux1x%u, 1x%ux%u or %ux%ux1",
                        b.h, b.w, b.c, a.h, a.w, a.c, a.c, a.h, a.c, a.w, a.c,
                        a.h, a.w);
    if (node->weight_count)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "has both a second input and a constant");
  } else if (node->weight_count != n && node->weight_count != a.c &&
             node->weight_count != 1) {
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "constant has %u elements; expected %zu, %u or 1",
                      node->weight_count, n, a.c);
  }
  node->packed_count = node->weight_count;
  return DYCE_OK;
}

static void run_binary_part(const dyce__node *node, const dyce__shape *tensors,
                            const dyce__kernels *k, float *const *ptr,
                            void *scratch, uint32_t part, uint32_t parts) {
  (void)scratch;
  dyce__shape a = tensors[node->in0];
  size_t n = dyce__shape_elems(a), at;
  const float *b = node->weights;
  size_t b_count = node->weight_count;
  /* A per-channel constant serves a width level as a prefix (a full-size
   * one never meets a narrowed tensor: model/levels.c refuses that). */
  if (b_count == node->full_in_c && b_count != 1) b_count = a.c;
  if (node->in1 != DYCE__NONE) {
    b = ptr[node->in1];
    b_count = dyce__shape_elems(tensors[node->in1]);
  }
  size_t count = pixel_slice(a, part, parts, &at);
  if (b_count == n) { /* a whole tensor: its slice; per channel or one: as is */
    b += at;
    b_count = count;
  }
  k->binary(node->op, count, a.c, ptr[node->in0] + at, b, b_count,
            dyce__node_activation(node), ptr[node->out] + at);
}

/* Rows or columns: each output row is a binary op of its own, with one
 * value per channel (rows) or a whole row (columns) as the second input. */
static void run_binary_broadcast(const dyce__node *node,
                                 const dyce__shape *tensors,
                                 const dyce__kernels *k, float *const *ptr,
                                 int mode) {
  dyce__shape a = tensors[node->in0];
  size_t row = (size_t)a.w * a.c;
  if (mode == DYCE__BCAST_PIXELS) {
    for (size_t i = 0; i < (size_t)a.h * a.w; i++)
      k->binary(node->op, a.c, a.c, ptr[node->in0] + i * a.c, ptr[node->in1] + i,
                1, dyce__node_activation(node), ptr[node->out] + i * a.c);
    return;
  }
  for (uint32_t y = 0; y < a.h; y++) {
    const float *b = ptr[node->in1] + (mode == DYCE__BCAST_ROWS ? (size_t)y * a.c : 0);
    k->binary(node->op, row, a.c, ptr[node->in0] + y * row, b,
              mode == DYCE__BCAST_ROWS ? a.c : row, dyce__node_activation(node),
              ptr[node->out] + y * row);
  }
}

static void run_binary(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  if (node->bcast) return run_binary_broadcast(node, tensors, k, ptr, node->bcast);
  run_binary_part(node, tensors, k, ptr, scratch, 0, 1);
}

/* Threads: whole pixels as the other elementwise ops, but a broadcast
 * along rows, columns or channels runs whole. */
static uint32_t split_binary(const dyce__node *node, const dyce__shape *tensors,
                             const dyce__kernels *k, uint32_t max_parts,
                             size_t *part_scratch) {
  *part_scratch = 0;
  if (node->bcast) return 1;
  return split_pixels(node, tensors, k, max_parts, part_scratch);
}

/* ---- activation, channel_affine --------------------------------------- */

static dyce_status check_activation(dyce__node *node,
                                    const dyce__shape *tensors,
                                    const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce_status s = same_shape_out(node, tensors, err);
  if (s) return s;
  return dyce__expect_counts(node, 0, 0, 0, err);
}

static void run_activation_part(const dyce__node *node,
                                const dyce__shape *tensors,
                                const dyce__kernels *k, float *const *ptr,
                                void *scratch, uint32_t part, uint32_t parts) {
  (void)scratch;
  size_t at, count = pixel_slice(tensors[node->in0], part, parts, &at);
  k->activation(count, ptr[node->in0] + at, dyce__node_activation(node),
                ptr[node->out] + at);
}

static void run_activation(const dyce__node *node, const dyce__shape *tensors,
                           const dyce__kernels *k, float *const *ptr,
                           void *scratch) {
  run_activation_part(node, tensors, k, ptr, scratch, 0, 1);
}

static dyce_status check_affine(dyce__node *node, const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  (void)k;
  uint32_t c = tensors[node->in0].c;
  dyce_status s = same_shape_out(node, tensors, err);
  if (s) return s;
  if ((s = dyce__expect_counts(node, c, c, 0, err))) return s;
  if (node->bias_count != c)
    return dyce__fail(err, DYCE_BAD_FORMAT, "needs %u shifts, has %u", c,
                      node->bias_count);
  node->packed_count = c;
  return DYCE_OK;
}

static void run_affine_part(const dyce__node *node, const dyce__shape *tensors,
                            const dyce__kernels *k, float *const *ptr,
                            void *scratch, uint32_t part, uint32_t parts) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  size_t at, count = pixel_slice(in, part, parts, &at);
  k->channel_affine(count, in.c, ptr[node->in0] + at, node->weights,
                    node->bias, dyce__node_activation(node), ptr[node->out] + at);
}

static void run_affine(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  run_affine_part(node, tensors, k, ptr, scratch, 0, 1);
}

/* ---- softmax, flatten -------------------------------------------------- */

/* p[SOFTMAX_GROUPS]: 0 or 1, one group of all C channels (what packages
 * written before it hold); G >= 2, attention heads: each pixel's channels
 * in G groups of C / G, each its own softmax. */
static dyce_status check_softmax_groups(const dyce__node *node, uint32_t c,
                                        dyce_error *err) {
  int32_t groups = node->p[DYCE__P_SOFTMAX_GROUPS];
  if (groups < 0)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "softmax: p[%d] (groups) is %d; 0 or 1 (one group) or "
                      "a count of groups dividing the channels",
                      DYCE__P_SOFTMAX_GROUPS, (int)groups);
  if (groups >= 2 && node->p[DYCE__P_SOFTMAX_ALL])
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "softmax: p[%d] (groups) is %d with the over-all flag "
                      "p[%d]; a softmax over every element has one group",
                      DYCE__P_SOFTMAX_GROUPS, (int)groups, DYCE__P_SOFTMAX_ALL);
  if (groups >= 2 && c % (uint32_t)groups)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "softmax: p[%d] (groups) is %d, which does not divide "
                      "the %u channels",
                      DYCE__P_SOFTMAX_GROUPS, (int)groups, c);
  return DYCE_OK;
}

static dyce_status check_softmax(dyce__node *node, const dyce__shape *tensors,
                                 const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce_status s = same_shape_out(node, tensors, err);
  if (s || (s = no_activation(node, err))) return s;
  if (node->p[DYCE__P_SOFTMAX_ALL] != 0 && node->p[DYCE__P_SOFTMAX_ALL] != 1)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "softmax: over-all flag %d is neither 0 nor 1",
                      node->p[DYCE__P_SOFTMAX_ALL]);
  if (node->p[DYCE__P_SOFTMAX_ALL] && tensors[node->in0].c != 1)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "softmax over every element of a %u-channel tensor: "
                      "only of a one-channel one", tensors[node->in0].c);
  if (node->p[DYCE__P_SOFTMAX_LOG] != 0 && node->p[DYCE__P_SOFTMAX_LOG] != 1)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "softmax: log flag %d is neither 0 nor 1",
                      node->p[DYCE__P_SOFTMAX_LOG]);
  if ((s = check_softmax_groups(node, tensors[node->in0].c, err))) return s;
  return dyce__expect_counts(node, 0, 0, 0, err);
}

static void run_softmax(const dyce__node *node, const dyce__shape *tensors,
                        const dyce__kernels *k, float *const *ptr,
                        void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  size_t rows = (size_t)in.h * in.w, c = in.c;
  size_t groups = (size_t)node->p[DYCE__P_SOFTMAX_GROUPS];
  if (node->p[DYCE__P_SOFTMAX_ALL]) c *= rows, rows = 1; /* one row of all */
  if (groups >= 2) rows *= groups, c /= groups; /* a row per group (head) */
  k->softmax(rows, c, ptr[node->in0], ptr[node->out],
             node->p[DYCE__P_SOFTMAX_LOG]);
}

static dyce_status check_flatten(dyce__node *node, const dyce__shape *tensors,
                                 const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce__shape in = tensors[node->in0];
  if (dyce__shape_elems(in) > (1u << 24))
    return dyce__fail(err, DYCE_LIMIT,
                      "flattened size %zu exceeds the channel limit 2^24",
                      dyce__shape_elems(in));
  dyce__shape want = {.h = 1, .w = 1, .c = (uint32_t)dyce__shape_elems(in)};
  dyce_status s = dyce__expect_shape(node, tensors, want, err);
  if (s || (s = no_activation(node, err))) return s;
  return dyce__expect_counts(node, 0, 0, 0, err);
}

static void run_flatten(const dyce__node *node, const dyce__shape *tensors,
                        const dyce__kernels *k, float *const *ptr,
                        void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  if (dyce__is_q8(in)) /* int8: the same reordering of bytes */
    k->q8_flatten_chw(in.h, in.w, in.c, (const int8_t *)ptr[node->in0],
                      (int8_t *)ptr[node->out]);
  else
    k->flatten_chw(in.h, in.w, in.c, ptr[node->in0], ptr[node->out]);
}

const dyce__op_def dyce__op_add = {"add", check_binary, NULL, run_binary, NULL,
                                   split_binary, run_binary_part, part_pixels};
const dyce__op_def dyce__op_mul = {"mul", check_binary, NULL, run_binary, NULL,
                                   split_binary, run_binary_part, part_pixels};
/* max, min: add's operands and broadcasts, the same threads (float32 only:
 * no int8 form, so the loader refuses them on int8 tensors). */
const dyce__op_def dyce__op_max = {"max", check_binary, NULL, run_binary, NULL,
                                   split_binary, run_binary_part, part_pixels};
const dyce__op_def dyce__op_min = {"min", check_binary, NULL, run_binary, NULL,
                                   split_binary, run_binary_part, part_pixels};
const dyce__op_def dyce__op_activation = {"activation", check_activation, NULL,
                                          run_activation, NULL, split_pixels,
                                          run_activation_part, part_pixels};
const dyce__op_def dyce__op_channel_affine = {"channel_affine", check_affine,
                                              NULL, run_affine, NULL,
                                              split_pixels, run_affine_part, part_pixels};
const dyce__op_def dyce__op_softmax = {"softmax", check_softmax, NULL,
                                       run_softmax, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_flatten = {"flatten", check_flatten, NULL,
                                       run_flatten, NULL, NULL, NULL, NULL};
