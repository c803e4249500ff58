/* view: the same elements in another shape (docs/FORMAT.md, op 22), the
 * NHWC bytes copied unchanged: token rows regrouped, e.g. an (h, w, D)
 * map as (1, h w, D) tokens, or back. */
#include <string.h>

#include "ops.h"

static dyce_status check_view(dyce__node *node, const dyce__shape *tensors,
                              const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  if (dyce__shape_elems(in) != dyce__shape_elems(out))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "view: output tensor %u is %ux%ux%u (%zu elements), in0 "
                      "%ux%ux%u (%zu): a view keeps the element count",
                      node->out, out.h, out.w, out.c, dyce__shape_elems(out),
                      in.h, in.w, in.c, dyce__shape_elems(in));
  dyce_status s = dyce__expect_plain(node, tensors, out, err);
  if (s) return s;
  return dyce__expect_unused(node, 0, "view", err);
}

static void run_view(const dyce__node *node, const dyce__shape *tensors,
                     const dyce__kernels *k, float *const *ptr,
                     void *scratch) {
  (void)k, (void)scratch;
  memcpy(ptr[node->out], ptr[node->in0], dyce__shape_bytes(tensors[node->in0]));
}

const dyce__op_def dyce__op_view = {"view", check_view, NULL, run_view, NULL,
                                    NULL, NULL, NULL};
