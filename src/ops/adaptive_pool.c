/* adaptive_pool: average or max pooling to the output tensor's height and
 * width over PyTorch's adaptive bins (docs/FORMAT.md, op 20): the form of
 * nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d whose output does not divide
 * the input (those that do are ordinary pools). Bins may overlap. */
#include "ops.h"

static dyce_status check_adaptive_pool(dyce__node *node,
                                       const dyce__shape *tensors,
                                       const dyce__kernels *k,
                                       dyce_error *err) {
  (void)k;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  dyce__shape want = {.h = out.h, .w = out.w, .c = in.c};
  dyce_status s = dyce__expect_plain(node, tensors, want, err);
  if (s) return s;
  return dyce__expect_flag(node, DYCE__P_ADAPTIVE_MAX, "adaptive_pool", "mean",
                           "max", err);
}

static void run_adaptive_pool(const dyce__node *node,
                              const dyce__shape *tensors,
                              const dyce__kernels *k, float *const *ptr,
                              void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  k->adaptive_pool(in.h, in.w, in.c, out.h, out.w, node->p[DYCE__P_ADAPTIVE_MAX],
                   ptr[node->in0], ptr[node->out]);
}

const dyce__op_def dyce__op_adaptive_pool = {
    "adaptive_pool", check_adaptive_pool, NULL, run_adaptive_pool,
    NULL, NULL, NULL, NULL};
