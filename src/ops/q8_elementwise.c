/* Int8 add, mul and activation (a 256-entry table), and the two type
 * changes, quantize and dequantize (docs/INT8.md). Shapes are checked by
 * the float ops. */
#include <math.h>
#include <string.h>

#include "ops.h"

/* ---- add, mul --------------------------------------------------------- */

/* An int8 constant operand's scale and zero point: p[0] (f32 bits), p[1]. */
static dyce__shape constant_type(const dyce__node *node) {
  dyce__shape t = {1, 1, 1, DYCE__DTYPE_INT8, 0.0f, node->p[1]};
  memcpy(&t.scale, &node->p[0], sizeof t.scale);
  return t;
}

static dyce__shape second_type(const dyce__node *node,
                               const dyce__shape *tensors) {
  return node->in1 != DYCE__NONE ? tensors[node->in1] : constant_type(node);
}

static dyce__q8_binary binary_numbers(const dyce__node *node,
                                      const dyce__shape *tensors) {
  dyce__shape a = tensors[node->in0], b = second_type(node, tensors),
              out = tensors[node->out];
  dyce__q8_binary q = {a.zp, b.zp, 0.0f, 0.0f, out.zp, 0, 0};
  if (node->op == DYCE__OP_MUL) {
    float ab = a.scale * b.scale; /* binary32, then the division */
    q.ma = ab / out.scale;
  } else {
    q.ma = a.scale / out.scale;
    q.mb = b.scale / out.scale;
  }
  dyce__q8_clamp(node, out, &q.qmin, &q.qmax);
  return q;
}

static dyce_status check_binary(dyce__node *node, const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  const dyce__op_def *def =
      node->op == DYCE__OP_MUL ? &dyce__op_mul : &dyce__op_add;
  dyce_status s = def->check(node, tensors, k, err);
  if (s) return s;
  if (node->bcast) /* set by the float check above */
    return dyce__fail(err, DYCE_UNSUPPORTED,
                      "int8: a second input repeated along rows, columns or "
                      "channels has no int8 form (the converter keeps it float)");
  if (node->in1 == DYCE__NONE) {
    dyce__shape t = constant_type(node);
    if (!isfinite(t.scale) || !(t.scale >= 1e-30f) || t.zp < -128 ||
        t.zp > 127)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "int8 constant: scale %g (p[0]) and zero point %d "
                        "(p[1]); the scale must be finite and at least "
                        "1e-30, the zero point in -128..127",
                        (double)t.scale, (int)t.zp);
  } else if (node->p[0] || node->p[1]) {
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "p[0] and p[1] describe a constant; with a second "
                      "input they are 0");
  }
  dyce__q8_binary q = binary_numbers(node, tensors);
  if (!isfinite(q.ma) || !isfinite(q.mb))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "the inputs' scales over the output's overflow");
  node->packed_count = (node->weight_count + 3) / 4; /* int8 constant */
  return DYCE_OK;
}

static void run_binary(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  (void)scratch;
  dyce__shape a = tensors[node->in0];
  const int8_t *b = (const int8_t *)node->weights;
  size_t b_count = node->weight_count;
  /* A per-channel constant serves a width level as a prefix. */
  if (b_count == node->full_in_c && b_count != 1) b_count = a.c;
  if (node->in1 != DYCE__NONE) {
    b = (const int8_t *)ptr[node->in1];
    b_count = dyce__shape_elems(tensors[node->in1]);
  }
  dyce__q8_binary q = binary_numbers(node, tensors);
  k->q8_binary(node->op, dyce__shape_elems(a), a.c,
               (const int8_t *)ptr[node->in0], b, b_count, &q,
               (int8_t *)ptr[node->out]);
}

/* ---- activation: a table of the 256 int8 values ------------------------ */

/* The activation in double precision (docs/INT8.md, FORMAT.md). */
static double activation(dyce__act act, double a, double b, double x) {
  switch (act) {
    case DYCE__ACT_NONE: return x;
    case DYCE__ACT_RELU: return x > 0 ? x : 0;
    case DYCE__ACT_CLIP: return x < a ? a : x > b ? b : x;
    case DYCE__ACT_SIGMOID: return 1 / (1 + exp(-x));
    case DYCE__ACT_HARD_SIGMOID: return fmax(0, fmin(1, a * x + b));
    case DYCE__ACT_HARD_SWISH: return x * fmin(fmax(x + 3, 0), 6) / 6;
    case DYCE__ACT_SILU: return x / (1 + exp(-x));
    case DYCE__ACT_LEAKY_RELU: return x < 0 ? a * x : x;
    case DYCE__ACT_TANH: return tanh(x);
    case DYCE__ACT_GELU: return x * (1 + erf(x / sqrt(2.0))) / 2;
    case DYCE__ACT_GELU_TANH:
      return x * (1 + tanh(sqrt(2 / 3.14159265358979323846) *
                           (x + 0.044715 * x * x * x))) / 2;
    case DYCE__ACT_ELU: return x > 0 ? x : a * (exp(x) - 1);
    case DYCE__ACT_SOFTPLUS: return log1p(exp(x));
    case DYCE__ACT_ABS: return fabs(x);
    case DYCE__ACT_EXP: return exp(x);
    case DYCE__ACT_SQRT: return sqrt(x); /* refused below: kept for the */
    case DYCE__ACT_LOG: return log(x);   /* switch to name every code */
    case DYCE__ACT_RECIPROCAL: return 1 / x;
  }
  return x;
}

static dyce_status check_activation(dyce__node *node,
                                    const dyce__shape *tensors,
                                    const dyce__kernels *k, dyce_error *err) {
  dyce_status s = dyce__op_activation.check(node, tensors, k, err);
  node->packed_count = 64; /* 256 int8 */
  /* Their tables would hold NaN (below 0) or infinity (at 0) for values an
   * int8 range around its zero point takes. */
  if (!s && (node->act == DYCE__ACT_SQRT || node->act == DYCE__ACT_LOG ||
             node->act == DYCE__ACT_RECIPROCAL))
    return dyce__fail(err, DYCE_UNSUPPORTED,
                      "int8 %s has no table form (NaN or infinity near 0); "
                      "the converter keeps it float32",
                      dyce__act_name(node->act));
  return s;
}

static void pack_activation(const dyce__node *node,
                            const dyce__shape *tensors,
                            const dyce__kernels *k, float *dst) {
  (void)k;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  int8_t table[256];
  for (int q = -128; q < 128; q++) {
    double x = (double)in.scale * (q - in.zp);
    double y = activation(node->act, node->act_a, node->act_b, x);
    double v = rint(y / (double)out.scale) + out.zp;
    /* NaN (softplus of a huge x is not; kept safe) goes to the zero point. */
    table[q + 128] = (int8_t)(v != v ? out.zp : v < -128 ? -128 : v > 127 ? 127 : v);
  }
  memcpy(dst, table, sizeof table);
}

static void run_activation(const dyce__node *node, const dyce__shape *tensors,
                           const dyce__kernels *k, float *const *ptr,
                           void *scratch) {
  (void)scratch;
  k->q8_lut(dyce__shape_elems(tensors[node->in0]),
            (const int8_t *)ptr[node->in0], (const int8_t *)node->weights,
            (int8_t *)ptr[node->out]);
}

/* ---- quantize, dequantize ---------------------------------------------- */

static dyce_status check_convert(dyce__node *node, const dyce__shape *tensors,
                                 const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce_status s = dyce__expect_shape(node, tensors, tensors[node->in0], err);
  if (s) return s;
  if (node->act != DYCE__ACT_NONE)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cannot fuse an activation");
  return dyce__expect_counts(node, 0, 0, 0, err);
}

static void run_quantize(const dyce__node *node, const dyce__shape *tensors,
                         const dyce__kernels *k, float *const *ptr,
                         void *scratch) {
  (void)scratch;
  dyce__shape out = tensors[node->out];
  k->quantize(dyce__shape_elems(out), ptr[node->in0], 1.0f / out.scale,
              out.zp, (int8_t *)ptr[node->out]);
}

static void run_dequantize(const dyce__node *node, const dyce__shape *tensors,
                           const dyce__kernels *k, float *const *ptr,
                           void *scratch) {
  (void)scratch;
  dyce__shape in = tensors[node->in0];
  k->dequantize(dyce__shape_elems(in), (const int8_t *)ptr[node->in0],
                in.scale, in.zp, ptr[node->out]);
}

const dyce__op_def dyce__op_q8_add = {"add", check_binary, NULL, run_binary,
                                      NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_q8_mul = {"mul", check_binary, NULL, run_binary,
                                      NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_q8_activation = {
    "activation", check_activation, pack_activation, run_activation, NULL,
    NULL, NULL, NULL};
const dyce__op_def dyce__op_quantize = {"quantize", check_convert, NULL,
                                        run_quantize, NULL, NULL, NULL, NULL};
const dyce__op_def dyce__op_dequantize = {"dequantize", check_convert, NULL,
                                          run_dequantize, NULL, NULL, NULL, NULL};
