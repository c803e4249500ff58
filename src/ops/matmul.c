/* matmul: attention's two products (docs/FORMAT.md, op 21). A token
 * sequence is a tensor whose H x W pixels are the tokens and whose
 * channels are the features; head g of G is channels [g K, (g + 1) K).
 * in0's pixels are the M rows of A, in1's the N rows of B.
 * p[MATMUL_TRANS_B] = 1: the scores alpha q k^T of each head, (1, H, W,
 * G N); 0: attention times values, alpha attn v, (1, H, W, G K).
 * p[MATMUL_ROWWISE] = 1: in0 and in1 have the same H and each row of
 * in0's pixels meets only the same row of in1's (N = in1's W): attention
 * within windows (Swin), a window per row. No
 * split: it runs whole on the calling thread (a few tokens; one kernel,
 * the reference's, in every build). */
#include <math.h>
#include <string.h>

#include "ops.h"

static float alpha_of(const dyce__node *node) {
  float v;
  memcpy(&v, &node->p[DYCE__P_MATMUL_ALPHA], sizeof v);
  return v;
}

/* Two tensors in, nothing else: no weights, bias or fused activation. */
static dyce_status check_fields(const dyce__node *node, dyce_error *err) {
  if (node->in1 == DYCE__NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul: in1 is NONE; it multiplies two tensors");
  if (node->weight_count || node->bias_count)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul: has %u weights and %u biases; it takes none "
                      "(both operands are tensors)",
                      node->weight_count, node->bias_count);
  if (node->act != DYCE__ACT_NONE || node->act_a != 0.0f || node->act_b != 0.0f)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul: cannot fuse an activation (act %u, act_a %g, "
                      "act_b %g: all must be 0)",
                      (unsigned)node->act, (double)node->act_a,
                      (double)node->act_b);
  return DYCE_OK;
}

static dyce_status check_params(const dyce__node *node, dyce_error *err) {
  int32_t groups = node->p[DYCE__P_MATMUL_GROUPS];
  if (groups < 1)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul: p[%d] (groups) is %d; at least 1",
                      DYCE__P_MATMUL_GROUPS, (int)groups);
  dyce_status s = dyce__expect_flag(node, DYCE__P_MATMUL_TRANS_B, "matmul",
                                    "in0 . in1", "in0 . in1^T", err);
  if (s) return s;
  if (!isfinite(alpha_of(node)))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul: p[%d] (alpha) holds %g; it must be finite",
                      DYCE__P_MATMUL_ALPHA, (double)alpha_of(node));
  s = dyce__expect_flag(node, DYCE__P_MATMUL_ROWWISE, "matmul", "all rows together",
                        "row by row", err);
  if (s) return s;
  return dyce__expect_unused(node, DYCE__P_MATMUL_ROWWISE + 1, "matmul", err);
}

/* The output channels and the length of each sum (K, or N for in0 . in1)
 * from the two inputs' shapes and the groups. */
static dyce_status check_shapes(const dyce__node *node,
                                const dyce__shape *tensors, uint64_t *out_c,
                                uint64_t *inner, dyce_error *err) {
  dyce__shape a = tensors[node->in0], b = tensors[node->in1];
  uint32_t groups = (uint32_t)node->p[DYCE__P_MATMUL_GROUPS];
  int rowwise = node->p[DYCE__P_MATMUL_ROWWISE];
  uint64_t n = rowwise ? b.w : (uint64_t)b.h * b.w;
  int trans_b = node->p[DYCE__P_MATMUL_TRANS_B];
  if (rowwise && a.h != b.h)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul (row by row): in0 has %u rows, in1 %u; they must "
                      "be equal (one window per row)", a.h, b.h);
  if (trans_b && a.c != b.c)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul (in0 . in1^T): in0 has %u channels, in1 %u; "
                      "they must be equal (G x K)", a.c, b.c);
  if (b.c % groups)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul: %u groups (p[%d]) do not divide the %u channels "
                      "of %s", groups, DYCE__P_MATMUL_GROUPS, b.c,
                      trans_b ? "in0 and in1" : "in1");
  if (!trans_b && a.c != groups * n)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "matmul (in0 . in1): in0 has %u channels; %u groups of "
                      "in1's %llu rows (its %s) need %llu",
                      a.c, groups, (unsigned long long)n, rowwise ? "W" : "H x W",
                      (unsigned long long)(groups * n));
  *out_c = trans_b ? groups * n : b.c;
  *inner = trans_b ? b.c / groups : n;
  if (*out_c > (1u << 24))
    return dyce__fail(err, DYCE_LIMIT,
                      "matmul: %llu output channels exceed the limit 2^24",
                      (unsigned long long)*out_c);
  return DYCE_OK;
}

static dyce_status check_matmul(dyce__node *node, const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  (void)k;
  uint64_t out_c = 0, inner = 0;
  dyce_status s = check_fields(node, err);
  if (s || (s = check_params(node, err)) ||
      (s = check_shapes(node, tensors, &out_c, &inner, err)))
    return s;
  dyce__shape a = tensors[node->in0];
  dyce__shape want = {.h = a.h, .w = a.w, .c = (uint32_t)out_c};
  if ((s = dyce__expect_shape(node, tensors, want, err))) return s;
  /* M x output channels x the length of each sum; below 2^57: the
   * output's elements are at most 2^28, a sum at most 2^28 long. */
  node->macs = (uint64_t)a.h * a.w * out_c * inner;
  /* q k^T transposes one head of k at a time (kernels.h) */
  dyce__shape b = tensors[node->in1];
  size_t rows_b = node->p[DYCE__P_MATMUL_ROWWISE] ? b.w : (size_t)b.h * b.w;
  node->scratch_bytes =
      node->p[DYCE__P_MATMUL_TRANS_B] ? rows_b * inner * sizeof(float) : 0;
  return DYCE_OK;
}

static void run_matmul(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  dyce__shape a = tensors[node->in0], b = tensors[node->in1];
  size_t groups = (size_t)node->p[DYCE__P_MATMUL_GROUPS];
  int trans_b = node->p[DYCE__P_MATMUL_TRANS_B];
  /* Row by row: H products of a.w x b.w rows, each on its own slices. */
  size_t blocks = node->p[DYCE__P_MATMUL_ROWWISE] ? a.h : 1;
  size_t m = (size_t)a.h * a.w / blocks, n = (size_t)b.h * b.w / blocks;
  size_t out_c = trans_b ? groups * n : b.c;
  for (size_t r = 0; r < blocks; r++)
    k->matmul(m, n, b.c / groups, groups, trans_b, alpha_of(node),
              ptr[node->in0] + r * m * a.c, ptr[node->in1] + r * n * b.c,
              ptr[node->out] + r * m * out_c, (float *)scratch);
}

const dyce__op_def dyce__op_matmul = {"matmul", check_matmul, NULL,
                                      run_matmul, NULL, NULL, NULL, NULL};
