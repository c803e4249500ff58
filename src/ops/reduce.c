/* channel_reduce: the mean or the maximum of each pixel's channels, one
 * output channel (docs/FORMAT.md, op 19): CBAM's spatial attention reads
 * x.mean(1) and x.max(1) of a feature map. */
#include "ops.h"

static dyce_status check_channel_reduce(dyce__node *node,
                                        const dyce__shape *tensors,
                                        const dyce__kernels *k,
                                        dyce_error *err) {
  (void)k;
  dyce__shape in = tensors[node->in0];
  dyce__shape want = {.h = in.h, .w = in.w, .c = 1};
  dyce_status s = dyce__expect_shape(node, tensors, want, err);
  if (s || (s = dyce__expect_counts(node, 0, 0, 0, err))) return s;
  if (node->act != DYCE__ACT_NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cannot fuse an activation");
  if (node->p[DYCE__P_REDUCE_MAX] != 0 && node->p[DYCE__P_REDUCE_MAX] != 1)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "channel_reduce: p[%d] is %d, not 0 (mean) or 1 (max)",
                      DYCE__P_REDUCE_MAX, (int)node->p[DYCE__P_REDUCE_MAX]);
  return DYCE_OK;
}

static void run_channel_reduce(const dyce__node *node,
                               const dyce__shape *tensors,
                               const dyce__kernels *k, float *const *ptr,
                               void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  k->channel_reduce((size_t)in.h * in.w, in.c, node->p[DYCE__P_REDUCE_MAX],
                    ptr[node->in0], ptr[node->out]);
}

const dyce__op_def dyce__op_channel_reduce = {
    "channel_reduce", check_channel_reduce, NULL, run_channel_reduce,
    NULL, NULL, NULL};
