/* channel_gather: output channel k is input channel weights[k], at every
 * pixel: the converter's form of a channel slice (x[:, a:b]), a split
 * (torch.chunk / torch.split) and a channel shuffle (ShuffleNet). The
 * indices are whole floats in the file, packed as uint32. */
#include <string.h>

#include "ops.h"

static dyce_status check_channel_gather(dyce__node *node,
                                        const dyce__shape *tensors,
                                        const dyce__kernels *k,
                                        dyce_error *err) {
  (void)k;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  dyce__shape want = {.h = in.h, .w = in.w, .c = out.c};
  dyce_status s = dyce__expect_shape(node, tensors, want, err);
  if (s || (s = dyce__expect_counts(node, out.c, 0, 0, err))) return s;
  if (node->bias_count)
    return dyce__fail(err, DYCE_BAD_FORMAT, "takes no bias");
  if (node->act != DYCE__ACT_NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cannot fuse an activation");
  if (node->f16)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "channel_gather: its channel indices must be float32");
  for (uint32_t i = 0; i < out.c; i++) {
    float v = node->file_weights[i];
    if (!(v >= 0.0f && v < (float)in.c && v == (float)(uint32_t)v))
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "channel_gather: output channel %u reads channel %g; "
                        "the input has channels 0..%u",
                        i, (double)v, in.c - 1);
  }
  node->packed_count = out.c;
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
  k->channel_gather((size_t)in.h * in.w, in.c, out.c,
                    (const uint32_t *)(const void *)node->weights,
                    ptr[node->in0], ptr[node->out]);
}

const dyce__op_def dyce__op_channel_gather = {
    "channel_gather", check_channel_gather, pack_channel_gather,
    run_channel_gather, NULL, NULL, NULL};
