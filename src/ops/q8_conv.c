/* Int8 conv2d and fully_connected (docs/INT8.md). Shapes are checked by
 * the float ops; these add the int8 weight rules. Packed as
 *
 *   [kernel's packed int8 weights, padded to 16 bytes][f32 mult[out_c]]
 *
 * and the bias block (int32 biases, then weight scales) is kept as the
 * file has it. Threads split a convolution into bands of output rows
 * (any band: integer sums and per-element requantization give the same
 * bits however the rows are shared). */
#include <string.h>

#include "ops.h"

static size_t words(size_t bytes) { return (bytes + 15) / 16 * 4; }

/* The float check on a copy whose bias block looks like a float bias. */
static dyce_status check_shapes(const dyce__op_def *def, dyce__node *node,
                                const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  dyce__node copy = *node;
  copy.bias_count = 0;
  dyce_status s = def->check(&copy, tensors, k, err);
  node->macs = copy.macs;
  return s;
}

static void conv_window(const dyce__node *node, const dyce__shape *tensors,
                        dyce__window *g) {
  dyce__conv2d_run_window(node, tensors, g); /* the file's shapes here */
}

static dyce_status check_conv(dyce__node *node, const dyce__shape *tensors,
                              const dyce__kernels *k, dyce_error *err) {
  dyce_status s = check_shapes(&dyce__op_conv2d, node, tensors, k, err);
  if (s) return s;
  dyce__window g;
  conv_window(node, tensors, &g);
  uint64_t taps = (uint64_t)g.kh * g.kw * (g.in_c / g.groups);
  if ((s = dyce__q8_check_weights(node, tensors, g.out_c, taps, err)))
    return s;
  node->packed_count = words(k->q8_conv2d_packed_bytes(&g)) + g.out_c;
  node->scratch_bytes = k->q8_conv2d_scratch_bytes(&g);
  return DYCE_OK;
}

static void write_multipliers(const dyce__node *node,
                              const dyce__shape *tensors, float *mult) {
  uint32_t out_c = tensors[node->out].c;
  for (uint32_t o = 0; o < out_c; o++)
    mult[o] = dyce__q8_multiplier(node, tensors[node->in0], tensors[node->out],
                                  out_c, o);
}

static void pack_conv(const dyce__node *node, const dyce__shape *tensors,
                      const dyce__kernels *k, float *dst) {
  dyce__window g;
  conv_window(node, tensors, &g);
  size_t w = words(k->q8_conv2d_packed_bytes(&g));
  memset(dst, 0, w * sizeof(float)); /* the padding too */
  k->pack_q8_conv2d(&g, (const int8_t *)node->file_weights, dst);
  write_multipliers(node, tensors, dst + w);
}

/* The output stage of a node at the session's width level. */
static dyce__q8_out output_stage(const dyce__node *node,
                                 const dyce__shape *tensors, size_t w) {
  dyce__q8_out o = {node->weights + w, tensors[node->out].zp, 0, 0};
  dyce__q8_clamp(node, tensors[node->out], &o.qmin, &o.qmax);
  return o;
}

/* Words of the packed weights: the layout follows the packed sizes. */
static size_t conv_words(const dyce__kernels *k, const dyce__window *g) {
  dyce__window full = *g;
  full.in_c = g->packed_in_c;
  full.out_c = g->packed_out_c;
  full.groups = g->packed_groups;
  return words(k->q8_conv2d_packed_bytes(&full));
}

static void run_conv_part(const dyce__node *node, const dyce__shape *tensors,
                          const dyce__kernels *k, float *const *ptr,
                          void *scratch, uint32_t part, uint32_t parts) {
  dyce__window g, sub;
  dyce__conv2d_run_window(node, tensors, &g);
  size_t in_row = 0;
  uint32_t y0 = 0;
  sub = g;
  if (parts > 1 && !dyce__conv2d_band(&g, 1, part, parts, &sub, &in_row, &y0))
    return;
  dyce__q8_out o = output_stage(node, tensors, conv_words(k, &g));
  k->q8_conv2d(&sub,
               (const int8_t *)ptr[node->in0] + in_row * g.in_w * g.in_c,
               tensors[node->in0].zp, node->weights,
               (const int32_t *)node->bias, &o,
               (int8_t *)ptr[node->out] + (size_t)y0 * g.out_w * g.out_c,
               scratch);
}

static void run_conv(const dyce__node *node, const dyce__shape *tensors,
                     const dyce__kernels *k, float *const *ptr,
                     void *scratch) {
  run_conv_part(node, tensors, k, ptr, scratch, 0, 1);
}

static uint32_t split_conv(const dyce__node *node, const dyce__shape *tensors,
                           const dyce__kernels *k, uint32_t max_parts,
                           size_t *part_scratch) {
  dyce__window g, first;
  dyce__conv2d_run_window(node, tensors, &g);
  uint32_t parts = dyce__conv2d_band_parts(&g, 1, max_parts, &first);
  if (parts > 1) *part_scratch = k->q8_conv2d_scratch_bytes(&first);
  return parts;
}

static dyce_status check_fc(dyce__node *node, const dyce__shape *tensors,
                            const dyce__kernels *k, dyce_error *err) {
  dyce_status s =
      check_shapes(&dyce__op_fully_connected, node, tensors, k, err);
  if (s) return s;
  uint32_t in_c = tensors[node->in0].c, out_c = tensors[node->out].c;
  if ((s = dyce__q8_check_weights(node, tensors, out_c, in_c, err))) return s;
  node->packed_count = words(k->q8_fc_packed_bytes(in_c, out_c)) + out_c;
  node->scratch_bytes = 0;
  return DYCE_OK;
}

static void pack_fc(const dyce__node *node, const dyce__shape *tensors,
                    const dyce__kernels *k, float *dst) {
  size_t in_c = tensors[node->in0].c, out_c = tensors[node->out].c;
  size_t w = words(k->q8_fc_packed_bytes(in_c, out_c));
  memset(dst, 0, w * sizeof(float));
  k->pack_q8_fc(in_c, out_c, (const int8_t *)node->file_weights, dst);
  write_multipliers(node, tensors, dst + w);
}

static void run_fc(const dyce__node *node, const dyce__shape *tensors,
                   const dyce__kernels *k, float *const *ptr, void *scratch) {
  (void)scratch;
  size_t w = words(k->q8_fc_packed_bytes(node->full_in_c, node->full_out_c));
  dyce__q8_out o = output_stage(node, tensors, w);
  k->q8_fully_connected(tensors[node->in0].c, node->full_in_c,
                        tensors[node->out].c, (const int8_t *)ptr[node->in0],
                        tensors[node->in0].zp, node->weights,
                        (const int32_t *)node->bias, &o,
                        (int8_t *)ptr[node->out]);
}

const dyce__op_def dyce__op_q8_conv2d = {"conv2d", check_conv, pack_conv,
                                         run_conv, NULL, split_conv,
                                         run_conv_part};
const dyce__op_def dyce__op_q8_fully_connected = {
    "fully_connected", check_fc, pack_fc, run_fc, NULL, NULL, NULL};
