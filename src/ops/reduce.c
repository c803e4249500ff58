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
  dyce_status s = dyce__expect_plain(node, tensors, want, err);
  if (s) return s;
  return dyce__expect_flag(node, DYCE__P_REDUCE_MAX, "channel_reduce", "mean",
                           "max", err);
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
    NULL, NULL, NULL, NULL};
