/* Int8 nodes (docs/INT8.md): the element-type rules every node follows,
 * the output clamp of a fused relu / clip, the checks and multipliers of
 * int8 weights, and the registry of the ops' int8 forms. */
#include <math.h>
#include <string.h>

#include "ops.h"

extern const dyce__op_def dyce__op_q8_conv2d, dyce__op_q8_fully_connected,
    dyce__op_q8_add, dyce__op_q8_mul, dyce__op_q8_activation,
    dyce__op_q8_max_pool, dyce__op_q8_avg_pool, dyce__op_q8_global_avg_pool,
    dyce__op_q8_global_max_pool;

const dyce__op_def *dyce__op_find_q8(uint32_t code) {
  switch (code) {
    case DYCE__OP_CONV2D: return &dyce__op_q8_conv2d;
    case DYCE__OP_FULLY_CONNECTED: return &dyce__op_q8_fully_connected;
    case DYCE__OP_ADD: return &dyce__op_q8_add;
    case DYCE__OP_MUL: return &dyce__op_q8_mul;
    case DYCE__OP_ACTIVATION: return &dyce__op_q8_activation;
    case DYCE__OP_MAX_POOL: return &dyce__op_q8_max_pool;
    case DYCE__OP_AVG_POOL: return &dyce__op_q8_avg_pool;
    case DYCE__OP_GLOBAL_AVG_POOL: return &dyce__op_q8_global_avg_pool;
    case DYCE__OP_GLOBAL_MAX_POOL: return &dyce__op_q8_global_max_pool;
    case DYCE__OP_CONCAT: return &dyce__op_concat; /* moves either type */
    case DYCE__OP_FLATTEN: return &dyce__op_flatten;
  }
  return NULL;
}

/* Ops whose int8 form only moves bytes: output and inputs share numbers. */
static int moves_data(dyce__op op) {
  return op == DYCE__OP_MAX_POOL || op == DYCE__OP_GLOBAL_MAX_POOL ||
         op == DYCE__OP_CONCAT || op == DYCE__OP_FLATTEN;
}

static dyce_status check_inputs(const dyce__node *node,
                                const dyce__shape *tensors, int q8,
                                dyce_error *err) {
  uint32_t in[DYCE__MAX_NODE_INPUTS], count = dyce__node_inputs(node, in);
  dyce__shape out = tensors[node->out];
  for (uint32_t i = 0; i < count; i++) {
    dyce__shape t = tensors[in[i]];
    if (dyce__is_q8(t) != q8)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "input %u (tensor %u) is %s, the node's other "
                        "tensors %s: only quantize and dequantize change type",
                        i + 1, in[i], dyce__dtype_name(t),
                        q8 ? "int8" : "float32");
    if (q8 && moves_data(node->op) && !dyce__same_type(t, out))
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "input %u has scale %g and zero point %d, the output "
                        "%g and %d: an int8 %s keeps them",
                        i + 1, (double)t.scale, (int)t.zp, (double)out.scale,
                        (int)out.zp, node->def->name);
  }
  return DYCE_OK;
}

dyce_status dyce__check_types(const dyce__node *node,
                              const dyce__shape *tensors,
                              const dyce__kernels *k, dyce_error *err) {
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  if (node->op == DYCE__OP_QUANTIZE || node->op == DYCE__OP_DEQUANTIZE) {
    int to_q8 = node->op == DYCE__OP_QUANTIZE;
    if (dyce__is_q8(in) == to_q8 || dyce__is_q8(out) != to_q8)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "turns %s into %s; %s", dyce__dtype_name(in),
                        dyce__dtype_name(out),
                        to_q8 ? "quantize turns float32 into int8"
                              : "dequantize turns int8 into float32");
  } else {
    int q8 = dyce__is_q8(out);
    dyce_status s = check_inputs(node, tensors, q8, err);
    if (s || !q8) return s;
    if (node->act != DYCE__ACT_NONE && node->act != DYCE__ACT_RELU &&
        node->act != DYCE__ACT_CLIP && node->op != DYCE__OP_ACTIVATION)
      return dyce__fail(err, DYCE_UNSUPPORTED,
                        "an int8 node fuses no %s (only relu and clip; "
                        "the converter makes it an activation node)",
                        dyce__act_name(node->act));
  }
  if ((dyce__is_q8(in) || dyce__is_q8(out)) && !k->q8_conv2d)
    return dyce__fail(err, DYCE_UNSUPPORTED,
                      "this engine's kernels (%s) have no int8 forms",
                      k->name);
  return DYCE_OK;
}

static int32_t clamp_q8(float v) {
  return v < -128.0f ? -128 : v > 127.0f ? 127 : (int32_t)v;
}

void dyce__q8_clamp(const dyce__node *node, dyce__shape out, int32_t *qmin,
                    int32_t *qmax) {
  *qmin = -128;
  *qmax = 127;
  if (node->act == DYCE__ACT_RELU) {
    *qmin = out.zp;
  } else if (node->act == DYCE__ACT_CLIP) {
    /* Bounds far outside the int8 range clamp before they reach an int. */
    *qmin = clamp_q8(rintf(node->act_a / out.scale) + (float)out.zp);
    *qmax = clamp_q8(rintf(node->act_b / out.scale) + (float)out.zp);
  }
}

dyce_status dyce__q8_check_weights(const dyce__node *node,
                                   const dyce__shape *tensors, uint32_t out_c,
                                   uint64_t taps, dyce_error *err) {
  if (node->bias_count != 2ull * out_c)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "has a bias block of %u words; an int8 node needs %llu "
                      "(int32 biases, then f32 weight scales)",
                      node->bias_count, 2ull * out_c);
  const int8_t *w = (const int8_t *)node->file_weights;
  for (uint32_t i = 0; i < node->weight_count; i++)
    if (w[i] == -128)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "int8 weight %u is -128; weights are -127..127", i);
  /* |q - zp| <= 255 and |w| <= 127: a sum of taps products stays below
   * 2^31 together with the bias. */
  uint64_t reach = taps * 255u * 127u;
  for (uint32_t o = 0; o < out_c; o++) {
    int32_t b;
    float ws;
    memcpy(&b, node->file_bias + o, sizeof b);
    memcpy(&ws, node->file_bias + out_c + o, sizeof ws);
    if (!isfinite(ws) || !(ws > 0.0f))
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "weight scale of output channel %u is %g; it must be "
                        "finite and positive", o, (double)ws);
    if (!isfinite(dyce__q8_multiplier(tensors[node->in0], ws,
                                      tensors[node->out])))
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "output channel %u: the requantization multiplier "
                        "(input scale x weight scale / output scale) "
                        "overflows", o);
    uint64_t mag = b < 0 ? (uint64_t)(-(int64_t)b) : (uint64_t)b;
    if (mag + reach > 0x7fffffffull)
      return dyce__fail(err, DYCE_LIMIT,
                        "output channel %u: bias %d plus %llu products can "
                        "overflow the int32 accumulator",
                        o, (int)b, (unsigned long long)taps);
  }
  return DYCE_OK;
}

float dyce__q8_multiplier(dyce__shape in, float wscale, dyce__shape out) {
  float num = in.scale * wscale; /* binary32, then the division */
  return num / out.scale;
}
