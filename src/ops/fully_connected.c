/* fully_connected: [N][K] weights over a flat (1, 1, 1, K) input. */
#include <string.h>

#include "ops.h"

static dyce_status check(dyce__node *node, const dyce__shape *tensors,
                         const dyce__kernels *k, dyce_error *err) {
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  if (in.h != 1 || in.w != 1)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "input is %ux%ux%u; a flat 1x1xK input is required",
                      in.h, in.w, in.c);
  dyce__shape want = {.h = 1, .w = 1, .c = out.c};
  dyce_status s = dyce__expect_shape(node, tensors, want, err);
  if (s) return s;
  uint64_t weights = (uint64_t)in.c * out.c;
  if (weights > UINT32_MAX)
    return dyce__fail(err, DYCE_LIMIT, "weight count overflows");
  if ((s = dyce__expect_counts(node, (uint32_t)weights, out.c, 0, err)))
    return s;
  node->macs = weights;
  node->packed_count = k->fc_packed_floats(in.c, out.c);
  node->scratch_bytes = 0;
  return DYCE_OK;
}

static void pack(const dyce__node *node, const dyce__shape *tensors,
                 const dyce__kernels *k, float *dst) {
  k->pack_fc(tensors[node->in0].c, tensors[node->out].c, node->file_weights,
             dst);
}

static void run(const dyce__node *node, const dyce__shape *tensors,
                const dyce__kernels *k, float *const *ptr, void *scratch) {
  (void)scratch;
  k->fully_connected(tensors[node->in0].c, node->full_in_c,
                     tensors[node->out].c, ptr[node->in0], node->weights, node->bias,
                     dyce__node_activation(node), ptr[node->out]);
}

/* Threads split the outputs into ranges of whole blocks of a blockwise
 * table (pack_block_rows outputs, a panel of the packed weights at
 * block * full_in_c floats): each output is the same sum as in one call. */
static uint32_t split(const dyce__node *node, const dyce__shape *tensors,
                      const dyce__kernels *k, uint32_t max_parts,
                      size_t *part_scratch) {
  uint32_t b = k->pack_block_rows;
  *part_scratch = 0;
  if (!b) return 1;
  uint32_t blocks = (tensors[node->out].c + b - 1) / b;
  return blocks < max_parts ? blocks : max_parts;
}

static void run_part(const dyce__node *node, const dyce__shape *tensors,
                     const dyce__kernels *k, float *const *ptr, void *scratch,
                     uint32_t part, uint32_t parts) {
  (void)scratch;
  size_t n = tensors[node->out].c, b = k->pack_block_rows;
  size_t blocks = (n + b - 1) / b, n0 = blocks * part / parts * b;
  size_t n1 = blocks * (part + 1) / parts * b;
  if (n1 > n) n1 = n;
  if (n0 >= n1) return;
  k->fully_connected(tensors[node->in0].c, node->full_in_c, n1 - n0,
                     ptr[node->in0], node->weights + n0 * node->full_in_c,
                     node->bias ? node->bias + n0 : NULL,
                     dyce__node_activation(node), ptr[node->out] + n0);
}

/* Blocks of B outputs: [B][K] rows become one [K][B] panel in place. */
static int pack_in_place(const dyce__node *node, const dyce__shape *tensors,
                         const dyce__kernels *k, float *w, float *temp) {
  size_t in = tensors[node->in0].c, out = tensors[node->out].c;
  uint32_t b = k->pack_block_rows;
  if (!b || out % b || node->packed_count != node->weight_count ||
      k->fc_packed_floats(in, b) != in * b)
    return 0;
  for (size_t o = 0; o < out; o += b) {
    memcpy(temp, w + o * in, sizeof(float) * in * b);
    k->pack_fc(in, b, temp, w + o * in);
  }
  return 1;
}

const dyce__op_def dyce__op_fully_connected = {"fully_connected", check, pack,
                                               run, pack_in_place, split,
                                               run_part, NULL};
