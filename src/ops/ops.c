/* Helpers shared by the ops' check functions, and the op registry. */
#include "ops.h"

const dyce__op_def *dyce__op_find(uint32_t code) {
  switch (code) {
    case DYCE__OP_CONV2D: return &dyce__op_conv2d;
    case DYCE__OP_FULLY_CONNECTED: return &dyce__op_fully_connected;
    case DYCE__OP_ADD: return &dyce__op_add;
    case DYCE__OP_MUL: return &dyce__op_mul;
    case DYCE__OP_ACTIVATION: return &dyce__op_activation;
    case DYCE__OP_MAX_POOL: return &dyce__op_max_pool;
    case DYCE__OP_AVG_POOL: return &dyce__op_avg_pool;
    case DYCE__OP_GLOBAL_AVG_POOL: return &dyce__op_global_avg_pool;
    case DYCE__OP_FLATTEN: return &dyce__op_flatten;
    case DYCE__OP_SOFTMAX: return &dyce__op_softmax;
    case DYCE__OP_CHANNEL_AFFINE: return &dyce__op_channel_affine;
    case DYCE__OP_CONCAT: return &dyce__op_concat;
    case DYCE__OP_GLOBAL_MAX_POOL: return &dyce__op_global_max_pool;
    case DYCE__OP_QUANTIZE: return &dyce__op_quantize;
    case DYCE__OP_DEQUANTIZE: return &dyce__op_dequantize;
    case DYCE__OP_GROUP_NORM: return &dyce__op_group_norm;
    case DYCE__OP_CHANNEL_GATHER: return &dyce__op_channel_gather;
    case DYCE__OP_RESIZE: return &dyce__op_resize;
    case DYCE__OP_CHANNEL_REDUCE: return &dyce__op_channel_reduce;
    case DYCE__OP_ADAPTIVE_POOL: return &dyce__op_adaptive_pool;
    case DYCE__OP_MATMUL: return &dyce__op_matmul;
    case DYCE__OP_VIEW: return &dyce__op_view;
    case DYCE__OP_MAX: return &dyce__op_max;
    case DYCE__OP_MIN: return &dyce__op_min;
  }
  return NULL;
}

const char *dyce__act_name(uint32_t act) {
  switch (act) {
#define DYCE__ACT_CASE(name, code, str) \
  case code: return str;
    DYCE__ACT_MAP(DYCE__ACT_CASE)
#undef DYCE__ACT_CASE
  }
  return NULL;
}

dyce_status dyce__expect_shape(const dyce__node *node,
                               const dyce__shape *tensors, dyce__shape want,
                               dyce_error *err) {
  dyce__shape got = tensors[node->out];
  if (got.h != want.h || got.w != want.w || got.c != want.c)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "output tensor %u is %ux%ux%u but the op gives %ux%ux%u",
                      node->out, got.h, got.w, got.c, want.h, want.w, want.c);
  return DYCE_OK;
}

dyce_status dyce__expect_counts(const dyce__node *node, uint32_t weights,
                                uint32_t bias_max, int wants_in1,
                                dyce_error *err) {
  if (node->weight_count != weights)
    return dyce__fail(err, DYCE_BAD_FORMAT, "has %u weights, expected %u",
                      node->weight_count, weights);
  if (node->bias_count != 0 && node->bias_count != bias_max)
    return dyce__fail(err, DYCE_BAD_FORMAT, "has %u biases, expected 0 or %u",
                      node->bias_count, bias_max);
  if (!wants_in1 && node->in1 != DYCE__NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "takes one input but names two");
  return DYCE_OK;
}

dyce_status dyce__expect_plain(const dyce__node *node,
                               const dyce__shape *tensors, dyce__shape want,
                               dyce_error *err) {
  dyce_status s = dyce__expect_shape(node, tensors, want, err);
  if (s || (s = dyce__expect_counts(node, 0, 0, 0, err))) return s;
  if (node->act != DYCE__ACT_NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cannot fuse an activation");
  return DYCE_OK;
}

dyce_status dyce__expect_flag(const dyce__node *node, int slot,
                              const char *op, const char *zero,
                              const char *one, dyce_error *err) {
  if (node->p[slot] == 0 || node->p[slot] == 1) return DYCE_OK;
  return dyce__fail(err, DYCE_BAD_FORMAT, "%s: p[%d] is %d, not 0 (%s) or 1 (%s)",
                    op, slot, (int)node->p[slot], zero, one);
}

dyce_status dyce__expect_unused(const dyce__node *node, int first,
                                const char *op, dyce_error *err) {
  for (int i = first; i < DYCE__N_PARAM_COUNT; i++)
    if (node->p[i] != 0)
      return dyce__fail(err, DYCE_BAD_FORMAT, "%s: p[%d] is %d; unused, it must be 0",
                        op, i, (int)node->p[i]);
  return DYCE_OK;
}

static dyce_status param_in(const dyce__node *node, int slot, int32_t lo,
                            int32_t hi, const char *what, dyce_error *err) {
  int32_t v = node->p[slot];
  if (v < lo || v > hi)
    return dyce__fail(err, DYCE_BAD_FORMAT, "%s %d is outside %d..%d", what,
                      (int)v, (int)lo, (int)hi);
  return DYCE_OK;
}

dyce_status dyce__window_from_params(const dyce__node *node, dyce__shape in,
                                     int dilated, dyce__window *g,
                                     dyce_error *err) {
  static const struct { int slot, lo; const char *what; } ranges[] = {
      {DYCE__P_KH, 1, "kernel height"}, {DYCE__P_KW, 1, "kernel width"},
      {DYCE__P_SH, 1, "stride height"}, {DYCE__P_SW, 1, "stride width"},
      {DYCE__P_PAD_T, 0, "top padding"}, {DYCE__P_PAD_L, 0, "left padding"},
      {DYCE__P_PAD_B, 0, "bottom padding"}, {DYCE__P_PAD_R, 0, "right padding"},
  };
  dyce_status s;
  *g = (dyce__window){0}; /* fields not set here (out_c0, ...) are zero */
  for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
    if ((s = param_in(node, ranges[i].slot, ranges[i].lo, 1024,
                      ranges[i].what, err)))
      return s;
  g->dh = g->dw = 1;
  if (dilated) {
    if ((s = param_in(node, DYCE__P_DH, 1, 1024, "dilation height", err)) ||
        (s = param_in(node, DYCE__P_DW, 1, 1024, "dilation width", err)))
      return s;
    g->dh = (uint32_t)node->p[DYCE__P_DH];
    g->dw = (uint32_t)node->p[DYCE__P_DW];
  }
  g->kh = (uint32_t)node->p[DYCE__P_KH];
  g->kw = (uint32_t)node->p[DYCE__P_KW];
  g->sh = (uint32_t)node->p[DYCE__P_SH];
  g->sw = (uint32_t)node->p[DYCE__P_SW];
  g->pad_t = (uint32_t)node->p[DYCE__P_PAD_T];
  g->pad_l = (uint32_t)node->p[DYCE__P_PAD_L];
  g->in_h = in.h;
  g->in_w = in.w;
  g->in_c = in.c;
  g->groups = 1;
  /* Extent of the (dilated) kernel; everything here is < 2^21, no overflow. */
  uint64_t span_h = (uint64_t)g->dh * (g->kh - 1) + 1;
  uint64_t span_w = (uint64_t)g->dw * (g->kw - 1) + 1;
  uint64_t padded_h = (uint64_t)in.h + g->pad_t + (uint32_t)node->p[DYCE__P_PAD_B];
  uint64_t padded_w = (uint64_t)in.w + g->pad_l + (uint32_t)node->p[DYCE__P_PAD_R];
  if (span_h > padded_h || span_w > padded_w)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "kernel %llux%llu is larger than the padded input %llux%llu",
                      (unsigned long long)span_h, (unsigned long long)span_w,
                      (unsigned long long)padded_h, (unsigned long long)padded_w);
  g->out_h = (uint32_t)((padded_h - span_h) / g->sh + 1);
  g->out_w = (uint32_t)((padded_w - span_w) / g->sw + 1);
  g->out_c = in.c;
  g->packed_in_c = g->packed_out_c = in.c;
  g->packed_groups = 1;
  return DYCE_OK;
}

dyce__activation dyce__node_activation(const dyce__node *node) {
  dyce__activation a = {node->act, node->act_a, node->act_b};
  return a;
}
