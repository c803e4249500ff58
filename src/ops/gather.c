/* channel_gather: output channel k is input channel weights[k], at every
 * pixel: the converter's form of a channel slice (x[:, a:b]), a split
 * (torch.chunk / torch.split) and a channel shuffle (ShuffleNet). The
 * indices are whole floats in the file, packed as uint32. With
 * p[GATHER_BLOCK] = B >= 2 each index picks B consecutive channels (the
 * converter's moves of whole pixels of a map viewed as one row: an index
 * per pixel instead of one per value). */
#include <string.h>

#include "ops.h"

static dyce_status check_channel_gather(dyce__node *node,
                                        const dyce__shape *tensors,
                                        const dyce__kernels *k,
                                        dyce_error *err) {
  (void)k;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  dyce__shape want = {.h = in.h, .w = in.w, .c = out.c};
  int32_t block = node->p[DYCE__P_GATHER_BLOCK];
  if (block < 0 || (uint32_t)block > in.c)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "channel_gather: p[%d] (block) is %d; 0 or 1 (a channel "
                      "per index) up to the input's %u channels",
                      DYCE__P_GATHER_BLOCK, (int)block, in.c);
  uint32_t b = block > 1 ? (uint32_t)block : 1;
  if (out.c % b)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "channel_gather: %u output channels are not whole blocks "
                      "of %u", out.c, b);
  dyce_status s = dyce__expect_unused(node, DYCE__P_GATHER_BLOCK + 1,
                                      "channel_gather", err);
  if (s || (s = dyce__expect_shape(node, tensors, want, err)) ||
      (s = dyce__expect_counts(node, out.c / b, 0, 0, err)))
    return s;
  if (node->bias_count)
    return dyce__fail(err, DYCE_BAD_FORMAT, "takes no bias");
  if (node->act != DYCE__ACT_NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cannot fuse an activation");
  if (node->f16)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "channel_gather: its channel indices must be float32");
  for (uint32_t i = 0; i < out.c / b; i++) {
    float v = node->file_weights[i];
    if (!(v >= 0.0f && v <= (float)(in.c - b) && v == (float)(uint32_t)v))
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "channel_gather: output channel %u reads channel %g%s; "
                        "the input has channels 0..%u",
                        i * b, (double)v, b > 1 ? " and the block after it" : "",
                        in.c - 1);
  }
  node->packed_count = out.c / b;
  return DYCE_OK;
}

static void pack_channel_gather(const dyce__node *node,
                                const dyce__shape *tensors,
                                const dyce__kernels *k, float *dst) {
  (void)tensors, (void)k;
  for (uint32_t i = 0; i < node->weight_count; i++) {
    uint32_t from = (uint32_t)node->file_weights[i];
    memcpy(dst + i, &from, sizeof from);
  }
}

static void run_channel_gather(const dyce__node *node,
                               const dyce__shape *tensors,
                               const dyce__kernels *k, float *const *ptr,
                               void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  const uint32_t *from = (const uint32_t *)(const void *)node->weights;
  size_t b = node->p[DYCE__P_GATHER_BLOCK] > 1 ? (size_t)node->p[DYCE__P_GATHER_BLOCK] : 1;
  if (b == 1) {
    k->channel_gather((size_t)in.h * in.w, in.c, out.c, from, ptr[node->in0],
                      ptr[node->out]);
    return;
  }
  /* blocks: a copy of B floats per index, pixel by pixel */
  const float *x = ptr[node->in0];
  float *y = ptr[node->out];
  size_t pixels = (size_t)in.h * in.w, n = out.c / b;
  for (size_t i = 0; i < pixels; i++, x += in.c)
    for (size_t j = 0; j < n; j++, y += b) memcpy(y, x + from[j], b * sizeof *y);
}

const dyce__op_def dyce__op_channel_gather = {
    "channel_gather", check_channel_gather, pack_channel_gather,
    run_channel_gather, NULL, NULL, NULL, NULL};
