/* Int8 conv2d and fully_connected (docs/INT8.md). Shapes are checked by
 * the float ops; these add the int8 weight rules. The packed weights are
 * the kernel's int8 layout alone, so that an in-place load packs them
 * where the file has them (a quarter of float's memory), and the bias
 * block stays as the file has it: int32 biases, then weight scales. The
 * requantization multipliers are made per run in the node's workspace
 * (one division per output channel). Threads split a convolution into
 * bands of output rows: integer sums and per-element requantization give
 * the same bits however the rows are shared. */
#include <string.h>

#include "ops.h"

static size_t words(size_t bytes) { return (bytes + 15) / 16 * 4; }
static size_t round16(size_t bytes) { return (bytes + 15) & ~(size_t)15; }

/* A node's workspace starts with the multipliers of its packed output
 * channels (16-byte aligned), then the kernel's. */
static size_t mult_bytes(const dyce__node *node) {
  return round16(4 * (size_t)node->full_out_c);
}

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

/* The output stage of a run at the session's width level: multipliers of
 * the active output channels written to `mult`. */
static dyce__q8_out output_stage(const dyce__node *node,
                                 const dyce__shape *tensors, float *mult) {
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  const float *wscale = node->bias + node->full_out_c;
  for (uint32_t o = 0; o < out.c; o++)
    mult[o] = dyce__q8_multiplier(in, wscale[o], out);
  dyce__q8_out q = {mult, out.zp, 0, 0};
  dyce__q8_clamp(node, out, &q.qmin, &q.qmax);
  return q;
}

/* ---- conv2d ------------------------------------------------------------ */

static dyce_status check_conv(dyce__node *node, const dyce__shape *tensors,
                              const dyce__kernels *k, dyce_error *err) {
  dyce_status s = check_shapes(&dyce__op_conv2d, node, tensors, k, err);
  if (s) return s;
  dyce__window g;
  dyce__conv2d_run_window(node, tensors, &g); /* the file's shapes here */
  uint64_t taps = (uint64_t)g.kh * g.kw * (g.in_c / g.groups);
  if ((s = dyce__q8_check_weights(node, tensors, g.out_c, taps, err)))
    return s;
  node->packed_count = words(k->q8_conv2d_packed_bytes(&g));
  node->scratch_bytes = mult_bytes(node) + k->q8_conv2d_scratch_bytes(&g);
  return DYCE_OK;
}

static void pack_conv(const dyce__node *node, const dyce__shape *tensors,
                      const dyce__kernels *k, float *dst) {
  dyce__window g;
  dyce__conv2d_run_window(node, tensors, &g);
  memset(dst, 0, node->packed_count * sizeof(float)); /* the padding too */
  k->pack_q8_conv2d(&g, (const int8_t *)node->file_weights, dst);
}

/* Dense and depthwise layouts of a blockwise table: block b of B output
 * channels is packed from its own rows into the same bytes. */
static int pack_conv_in_place(const dyce__node *node,
                              const dyce__shape *tensors,
                              const dyce__kernels *k, float *w, float *temp) {
  dyce__window g;
  dyce__conv2d_run_window(node, tensors, &g);
  uint32_t b = k->pack_block_rows;
  int depthwise = g.groups == g.in_c && g.out_c == g.in_c;
  if (!b || g.out_c % b || (g.groups != 1 && !depthwise) ||
      k->q8_conv2d_packed_bytes(&g) != node->weight_count)
    return 0;
  size_t rows = (size_t)node->weight_count / g.out_c * b; /* bytes a block */
  dyce__window block = g;
  block.out_c = block.packed_out_c = b;
  if (depthwise) block.in_c = block.packed_in_c = block.groups = block.packed_groups = b;
  if (k->q8_conv2d_packed_bytes(&block) != rows) return 0;
  int8_t *bytes = (int8_t *)w;
  for (uint32_t o = 0; o < g.out_c; o += b) {
    memcpy(temp, bytes + (size_t)o / b * rows, rows);
    k->pack_q8_conv2d(&block, (const int8_t *)temp, bytes + (size_t)o / b * rows);
  }
  return 1;
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
  dyce__q8_out o = output_stage(node, tensors, scratch);
  k->q8_conv2d(&sub,
               (const int8_t *)ptr[node->in0] + in_row * g.in_w * g.in_c,
               tensors[node->in0].zp, node->weights,
               (const int32_t *)node->bias, &o,
               (int8_t *)ptr[node->out] + (size_t)y0 * g.out_w * g.out_c,
               (char *)scratch + mult_bytes(node));
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
  if (parts > 1)
    *part_scratch = mult_bytes(node) + k->q8_conv2d_scratch_bytes(&first);
  return parts;
}

/* ---- fully_connected --------------------------------------------------- */

static dyce_status check_fc(dyce__node *node, const dyce__shape *tensors,
                            const dyce__kernels *k, dyce_error *err) {
  dyce_status s =
      check_shapes(&dyce__op_fully_connected, node, tensors, k, err);
  if (s) return s;
  uint32_t in_c = tensors[node->in0].c, out_c = tensors[node->out].c;
  if ((s = dyce__q8_check_weights(node, tensors, out_c, in_c, err))) return s;
  node->packed_count = words(k->q8_fc_packed_bytes(in_c, out_c));
  node->scratch_bytes = mult_bytes(node);
  return DYCE_OK;
}

static void pack_fc(const dyce__node *node, const dyce__shape *tensors,
                    const dyce__kernels *k, float *dst) {
  memset(dst, 0, node->packed_count * sizeof(float));
  k->pack_q8_fc(tensors[node->in0].c, tensors[node->out].c,
                (const int8_t *)node->file_weights, dst);
}

/* Blocks of B outputs: [B][K] rows packed into the same bytes. */
static int pack_fc_in_place(const dyce__node *node, const dyce__shape *tensors,
                            const dyce__kernels *k, float *w, float *temp) {
  size_t in = tensors[node->in0].c, out = tensors[node->out].c;
  uint32_t b = k->pack_block_rows;
  if (!b || out % b || k->q8_fc_packed_bytes(in, out) != node->weight_count ||
      k->q8_fc_packed_bytes(in, b) != in * b)
    return 0;
  int8_t *bytes = (int8_t *)w;
  for (size_t o = 0; o < out; o += b) {
    memcpy(temp, bytes + o * in, in * b);
    k->pack_q8_fc(in, b, (const int8_t *)temp, bytes + o * in);
  }
  return 1;
}

static void run_fc(const dyce__node *node, const dyce__shape *tensors,
                   const dyce__kernels *k, float *const *ptr, void *scratch) {
  dyce__q8_out o = output_stage(node, tensors, scratch);
  k->q8_fully_connected(tensors[node->in0].c, node->full_in_c,
                        tensors[node->out].c, (const int8_t *)ptr[node->in0],
                        tensors[node->in0].zp, node->weights,
                        (const int32_t *)node->bias, &o,
                        (int8_t *)ptr[node->out]);
}

const dyce__op_def dyce__op_q8_conv2d = {"conv2d", check_conv, pack_conv,
                                         run_conv, pack_conv_in_place,
                                         split_conv, run_conv_part, NULL};
const dyce__op_def dyce__op_q8_fully_connected = {
    "fully_connected", check_fc, pack_fc, run_fc, pack_fc_in_place, NULL, NULL, NULL};
