/* concat: the inputs side by side along channels (torch.cat(dim=1) of
 * NCHW tensors is the last axis of dyce's NHWC). Inputs are in0, in1 and
 * p[0] more whose tensor indices are p[1..p[0]]; the loader has checked
 * those indices, and dyce__node_inputs lists them all. */
#include "ops.h"

static dyce_status check_concat(dyce__node *node, const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  (void)k;
  if (node->in1 == DYCE__NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "needs at least two inputs (in1 is NONE)");
  if (node->act != DYCE__ACT_NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cannot fuse an activation");
  if (node->weight_count || node->bias_count)
    return dyce__fail(err, DYCE_BAD_FORMAT, "takes no weights or bias");
  uint32_t in[DYCE__MAX_NODE_INPUTS], count = dyce__node_inputs(node, in);
  dyce__shape first = tensors[in[0]];
  uint64_t channels = 0;
  for (uint32_t i = 0; i < count; i++) {
    dyce__shape s = tensors[in[i]];
    if (s.h != first.h || s.w != first.w)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "input %u (tensor %u) is %ux%ux%u; input 1 is "
                        "%ux%ux%u: heights and widths must match",
                        i + 1, in[i], s.h, s.w, s.c, first.h, first.w, first.c);
    channels += s.c;
  }
  if (channels > (1u << 24))
    return dyce__fail(err, DYCE_LIMIT,
                      "concatenated channels %llu exceed the limit 2^24",
                      (unsigned long long)channels);
  dyce__shape want = {.h = first.h, .w = first.w, .c = (uint32_t)channels};
  return dyce__expect_shape(node, tensors, want, err);
}

static void run_concat(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  (void)scratch;
  uint32_t in[DYCE__MAX_NODE_INPUTS], count = dyce__node_inputs(node, in);
  size_t c[DYCE__MAX_NODE_INPUTS];
  const float *src[DYCE__MAX_NODE_INPUTS];
  const int8_t *bytes[DYCE__MAX_NODE_INPUTS];
  for (uint32_t i = 0; i < count; i++) {
    c[i] = tensors[in[i]].c;
    src[i] = ptr[in[i]];
    bytes[i] = (const int8_t *)ptr[in[i]];
  }
  dyce__shape out = tensors[node->out];
  if (dyce__is_q8(out)) /* int8: the same move of bytes (docs/INT8.md) */
    k->q8_concat_channels((size_t)out.h * out.w, count, c, bytes,
                          (int8_t *)ptr[node->out]);
  else
    k->concat_channels((size_t)out.h * out.w, count, c, src, ptr[node->out]);
}

const dyce__op_def dyce__op_concat = {"concat", check_concat, NULL, run_concat,
                                      NULL, NULL, NULL, NULL};
