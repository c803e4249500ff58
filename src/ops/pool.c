/* max_pool, avg_pool (floor mode), global_avg_pool and global_max_pool. */
#include "ops.h"

static dyce_status pool_window(const dyce__node *node,
                               const dyce__shape *tensors, dyce__window *g,
                               dyce_error *err) {
  dyce_status s =
      dyce__window_from_params(node, tensors[node->in0], 0, g, err);
  if (s) return s;
  /* Padding at least as large as the kernel would give windows with no
   * input cell at all; ONNX forbids it too. */
  if (node->p[DYCE__P_PAD_T] >= node->p[DYCE__P_KH] ||
      node->p[DYCE__P_PAD_B] >= node->p[DYCE__P_KH] ||
      node->p[DYCE__P_PAD_L] >= node->p[DYCE__P_KW] ||
      node->p[DYCE__P_PAD_R] >= node->p[DYCE__P_KW])
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "pooling padding must be smaller than the kernel");
  return DYCE_OK;
}

static dyce_status check_pool(dyce__node *node, const dyce__shape *tensors,
                              const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce__window g;
  dyce_status s = pool_window(node, tensors, &g, err);
  if (s) return s;
  if (node->op == DYCE__OP_AVG_POOL && node->p[DYCE__P_COUNT_PAD] != 0 &&
      node->p[DYCE__P_COUNT_PAD] != 1)
    return dyce__fail(err, DYCE_BAD_FORMAT, "count_include_pad must be 0 or 1");
  dyce__shape want = {.h = g.out_h, .w = g.out_w, .c = g.in_c};
  if ((s = dyce__expect_shape(node, tensors, want, err))) return s;
  return dyce__expect_counts(node, 0, 0, 0, err);
}

static void run_max(const dyce__node *node, const dyce__shape *tensors,
                    const dyce__kernels *k, float *const *ptr, void *scratch) {
  (void)scratch;
  dyce__window g;
  pool_window(node, tensors, &g, NULL);
  k->max_pool(&g, ptr[node->in0], dyce__node_activation(node),
              ptr[node->out]);
}

static void run_avg(const dyce__node *node, const dyce__shape *tensors,
                    const dyce__kernels *k, float *const *ptr, void *scratch) {
  (void)scratch;
  dyce__window g;
  pool_window(node, tensors, &g, NULL);
  k->avg_pool(&g, node->p[DYCE__P_COUNT_PAD], ptr[node->in0],
              dyce__node_activation(node), ptr[node->out]);
}

static dyce_status check_global(dyce__node *node, const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce__shape want = {.h = 1, .w = 1, .c = tensors[node->in0].c};
  dyce_status s = dyce__expect_shape(node, tensors, want, err);
  if (s) return s;
  return dyce__expect_counts(node, 0, 0, 0, err);
}

static void run_global(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  (node->op == DYCE__OP_GLOBAL_MAX_POOL ? k->global_max_pool
                                        : k->global_avg_pool)(
      (size_t)in.h * in.w, in.c, ptr[node->in0], dyce__node_activation(node),
      ptr[node->out]);
}

const dyce__op_def dyce__op_max_pool = {"max_pool", check_pool, NULL, run_max, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_avg_pool = {"avg_pool", check_pool, NULL, run_avg, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_global_avg_pool = {"global_avg_pool", check_global,
                                               NULL, run_global, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_global_max_pool = {"global_max_pool", check_global,
                                               NULL, run_global, NULL, NULL, NULL, NULL};
