/*
 * What the op layer works on: NHWC shapes and one node of a graph, as the
 * loader (model/) decodes it from the file and the ops check, pack and
 * run it. The model layer builds graphs out of these.
 */
#ifndef DYCE_OPS_NODE_H
#define DYCE_OPS_NODE_H

#include <stddef.h>
#include <stdint.h>

#include "../format.h"

/* Element types of a tensor (QTEN, docs/INT8.md). */
enum { DYCE__DTYPE_F32 = 0, DYCE__DTYPE_INT8 = 1 };

/* NHWC shape with batch 1, and the tensor's element type: float32, or
 * int8 with real = scale * (q - zp). Width levels change c only. */
typedef struct dyce__shape {
  uint32_t h, w, c;
  uint32_t dtype;
  float scale;   /* int8 only */
  int32_t zp;    /* int8 only */
} dyce__shape;

static inline size_t dyce__shape_elems(dyce__shape s) {
  return (size_t)s.h * s.w * s.c;
}

static inline int dyce__is_q8(dyce__shape s) {
  return s.dtype == DYCE__DTYPE_INT8;
}

/* Same element type, and for int8 the same scale and zero point. */
static inline int dyce__same_type(dyce__shape a, dyce__shape b) {
  return a.dtype == b.dtype && a.scale == b.scale && a.zp == b.zp;
}

static inline const char *dyce__dtype_name(dyce__shape s) {
  return dyce__is_q8(s) ? "int8" : "float32";
}

/* Bytes of the tensor's elements. */
static inline size_t dyce__shape_bytes(dyce__shape s) {
  return dyce__shape_elems(s) * (dyce__is_q8(s) ? 1u : sizeof(float));
}

typedef struct dyce__op_def dyce__op_def;

/* add / mul: how a second input tensor repeats (ops/elementwise.c). */
enum { DYCE__BCAST_NONE = 0, DYCE__BCAST_ROWS = 1, DYCE__BCAST_COLUMNS = 2,
       DYCE__BCAST_PIXELS = 3 };

typedef struct dyce__node {
  dyce__op op;
  const dyce__op_def *def; /* behaviour of `op`, see ops.h */
  dyce__act act;
  float act_a, act_b;
  uint32_t in0, in1, out;  /* local tensor indices; in1 may be DYCE__NONE */
  int32_t p[DYCE__N_PARAM_COUNT];
  /* Weights as stored in the file (only valid during load) ... */
  const float *file_weights, *file_bias;
  uint32_t weight_count, bias_count;
  /* ... and as packed for the kernel (owned by the model's weight block). */
  const float *weights, *bias;
  size_t packed_count;     /* floats in `weights` after packing */
  uint32_t full_in_c, full_out_c; /* channels of in0 / out in the file: what
                                     the weights are packed for */
  size_t scratch_bytes;    /* kernel workspace needed while running */
  uint64_t macs;
  /* An int8 node (its in0 is int8; quantize / dequantize excepted): its
   * weights are int8 bytes (weight_count of them, in the first
   * (weight_count + 3) / 4 floats) and its bias block is int32 biases then
   * f32 weight scales (docs/INT8.md). */
  int q8;
  /* Weights and bias stored as binary16 (weight_count / bias_count halves
   * at their offsets), decoded to float32 when packed. */
  int f16;
  /* add / mul: DYCE__BCAST_* when in1 repeats along rows, columns or
   * channels (set by the op's check at load). */
  int bcast;
} dyce__node;

/* The tensors node `n` reads, in order, into idx[DYCE__MAX_NODE_INPUTS]:
 * in0, then in1 unless NONE, then a concat's further inputs (p[1..]).
 * Returns their number. The loader has checked every index. */
static inline uint32_t dyce__node_inputs(const dyce__node *n, uint32_t *idx) {
  uint32_t count = 0;
  idx[count++] = n->in0;
  if (n->in1 != DYCE__NONE) idx[count++] = n->in1;
  if (n->op == DYCE__OP_CONCAT) {
    int32_t more = n->p[DYCE__P_CONCAT_MORE];
    for (int32_t i = 0; i < more && i < DYCE__N_PARAM_COUNT - 1; i++)
      idx[count++] = (uint32_t)n->p[1 + i];
  }
  return count;
}

/* A softmax node with its log flag: it gives log-probabilities. */
static inline int dyce__node_is_log_softmax(const dyce__node *n) {
  return n->op == DYCE__OP_SOFTMAX && n->p[DYCE__P_SOFTMAX_LOG];
}

#endif /* DYCE_OPS_NODE_H */
