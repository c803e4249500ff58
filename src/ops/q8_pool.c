/* Int8 pools (docs/INT8.md). Shapes are checked by the float ops; max
 * pools keep their input's scale and zero point (dyce__check_types), the
 * average pools requantize. (Concat and flatten, pure moves of bytes, are
 * the float ops, which pick their kernel by the tensors' type.) */
#include <math.h>

#include "ops.h"

static dyce_status check_avg(dyce__node *node, const dyce__shape *tensors,
                             const dyce__kernels *k, dyce_error *err) {
  const dyce__op_def *def = node->op == DYCE__OP_AVG_POOL
                                ? &dyce__op_avg_pool
                                : &dyce__op_global_avg_pool;
  dyce_status s = def->check(node, tensors, k, err);
  if (s) return s;
  if (!isfinite(tensors[node->in0].scale / tensors[node->out].scale))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "the input's scale over the output's overflows");
  /* The kernels' int32 sums of |q - zp| <= 255 are exact up to 2^23 cells. */
  dyce__shape in = tensors[node->in0];
  if ((uint64_t)in.h * in.w > (1u << 23))
    return dyce__fail(err, DYCE_LIMIT,
                      "an int8 average over %llu cells; at most 2^23",
                      (unsigned long long)in.h * in.w);
  return DYCE_OK;
}

static dyce__q8_pool pool_numbers(const dyce__node *node,
                                  const dyce__shape *tensors) {
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  dyce__q8_pool q = {in.zp, in.scale / out.scale, out.zp, 0, 0};
  dyce__q8_clamp(node, out, &q.qmin, &q.qmax);
  return q;
}

static void run_window_pool(const dyce__node *node, const dyce__shape *tensors,
                            const dyce__kernels *k, float *const *ptr,
                            void *scratch) {
  (void)scratch;
  dyce__window g;
  dyce__window_from_params(node, tensors[node->in0], 0, &g, NULL);
  const int8_t *in = (const int8_t *)ptr[node->in0];
  int8_t *out = (int8_t *)ptr[node->out];
  if (node->op == DYCE__OP_MAX_POOL) {
    int32_t qmin, qmax;
    dyce__q8_clamp(node, tensors[node->out], &qmin, &qmax);
    k->q8_max_pool(&g, in, qmin, qmax, out);
  } else {
    dyce__q8_pool q = pool_numbers(node, tensors);
    k->q8_avg_pool(&g, node->p[DYCE__P_COUNT_PAD], in, &q, out);
  }
}

static void run_global(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  const int8_t *x = (const int8_t *)ptr[node->in0];
  int8_t *out = (int8_t *)ptr[node->out];
  if (node->op == DYCE__OP_GLOBAL_MAX_POOL) {
    int32_t qmin, qmax;
    dyce__q8_clamp(node, tensors[node->out], &qmin, &qmax);
    k->q8_global_max_pool((size_t)in.h * in.w, in.c, x, qmin, qmax, out);
  } else {
    dyce__q8_pool q = pool_numbers(node, tensors);
    k->q8_global_avg_pool((size_t)in.h * in.w, in.c, x, &q, out);
  }
}

/* The float checks serve the max pools as they are. */
static dyce_status check_max_pool(dyce__node *node, const dyce__shape *tensors,
                                  const dyce__kernels *k, dyce_error *err) {
  return dyce__op_max_pool.check(node, tensors, k, err);
}
static dyce_status check_global_max(dyce__node *node,
                                    const dyce__shape *tensors,
                                    const dyce__kernels *k, dyce_error *err) {
  return dyce__op_global_max_pool.check(node, tensors, k, err);
}
const dyce__op_def dyce__op_q8_max_pool = {"max_pool", check_max_pool, NULL,
                                           run_window_pool, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_q8_avg_pool = {"avg_pool", check_avg, NULL,
                                           run_window_pool, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_q8_global_avg_pool = {
    "global_avg_pool", check_avg, NULL, run_global, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_q8_global_max_pool = {
    "global_max_pool", check_global_max, NULL, run_global, NULL, NULL, NULL, NULL};
