/* group_norm: GroupNorm, InstanceNorm (a group per channel), LayerNorm
 * over a whole tensor (one group) and over each pixel's channels (one
 * group, pixelwise: ConvNeXt), with a per-channel scale and shift and any
 * fused activation. It runs whole: its statistics span the tensor. */
#include <math.h>
#include <string.h>

#include "ops.h"

static float norm_eps(const dyce__node *node) {
  float eps;
  memcpy(&eps, &node->p[DYCE__P_NORM_EPS], sizeof eps);
  return eps;
}

static dyce_status check_group_norm(dyce__node *node,
                                    const dyce__shape *tensors,
                                    const dyce__kernels *k, dyce_error *err) {
  (void)k;
  uint32_t c = tensors[node->in0].c;
  int32_t groups = node->p[DYCE__P_NORM_GROUPS];
  float eps = norm_eps(node);
  dyce_status s = dyce__expect_shape(node, tensors, tensors[node->in0], err);
  if (s || (s = dyce__expect_counts(node, c, c, 0, err))) return s;
  if (node->bias_count != c)
    return dyce__fail(err, DYCE_BAD_FORMAT, "needs %u shifts, has %u", c,
                      node->bias_count);
  if (groups < 1 || (uint32_t)groups > c || c % (uint32_t)groups)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "group_norm: %d groups do not divide %u channels",
                      (int)groups, c);
  if (node->p[DYCE__P_NORM_PIXELWISE] != 0 && node->p[DYCE__P_NORM_PIXELWISE] != 1)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "group_norm: pixelwise flag %d is neither 0 nor 1",
                      (int)node->p[DYCE__P_NORM_PIXELWISE]);
  if (!(eps > 0.0f) || !isfinite(eps))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "group_norm: epsilon %g is not a finite number > 0",
                      (double)eps);
  node->packed_count = c;
  return DYCE_OK;
}

static void run_group_norm(const dyce__node *node, const dyce__shape *tensors,
                           const dyce__kernels *k, float *const *ptr,
                           void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  k->group_norm((size_t)in.h * in.w, in.c,
                (size_t)node->p[DYCE__P_NORM_GROUPS],
                node->p[DYCE__P_NORM_PIXELWISE], norm_eps(node),
                ptr[node->in0], node->weights, node->bias,
                dyce__node_activation(node), ptr[node->out]);
}

const dyce__op_def dyce__op_group_norm = {"group_norm", check_group_norm, NULL,
                                         run_group_norm, NULL, NULL, NULL, NULL};
