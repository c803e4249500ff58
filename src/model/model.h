/*
 * The loaded model: graphs of nodes over NHWC tensors, with weights packed
 * for the kernels. Built once by dyce_model_load, immutable afterwards.
 */
#ifndef DYCE_MODEL_MODEL_H
#define DYCE_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../cascade/cascade.h"
#include "../dyce.h"
#include "../format.h"

/* NHWC shape with batch 1. */
typedef struct dyce__shape {
  uint32_t h, w, c;
} dyce__shape;

static inline size_t dyce__shape_elems(dyce__shape s) {
  return (size_t)s.h * s.w * s.c;
}

typedef struct dyce__op_def dyce__op_def;

typedef struct dyce__node {
  dyce__op op;
  const dyce__op_def *def; /* behaviour of `op`, see ops/ops.h */
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

/* Width levels (REDS): level 0 is the file's network; level l >= 1 runs
 * every tensor with the channel counts in shapes[(l-1) * tensor_total ...]
 * (a prefix of the file's channels), with the same packed weights. */
typedef struct dyce__levels {
  size_t count;             /* >= 1 */
  char (*names)[32];        /* [count] */
  dyce__shape *shapes;      /* [(count - 1) * tensor_total] */
  uint64_t *graph_macs;     /* [count * graph_count] */
  uint8_t *narrowed;        /* [count * graph_count]: graph or its sources
                               run with fewer channels than in the file */
  size_t *owner;            /* [graph_count]: the level an exit named
                               exit<p>_<type>_<level name> belongs to,
                               or DYCE_NO_LEVEL */
} dyce__levels;

typedef struct dyce__graph {
  const char *name;
  size_t source;            /* graph index, or DYCE_NO_GRAPH */
  dyce__shape *tensors;     /* [tensor_count] */
  uint32_t tensor_count;
  dyce__node *nodes;        /* [node_count] */
  uint32_t node_count;
  uint32_t input, output;   /* local tensor indices */
  uint64_t macs;
} dyce__graph;

struct dyce_model {
  dyce__graph *graphs;
  size_t graph_count;
  char *strings;            /* copy of STRS; names and labels point here */
  const char **labels;
  size_t label_count;
  dyce__shape input;
  float pixel_scale;
  float *mean, *std;        /* [input.c] */
  float *weights;           /* packed weights not packed in place, one block */
  void *owned_file;         /* dyce_model_load_inplace: the file, whose weight
                               section holds the other packed weights */
  size_t weight_floats;
  dyce__cascade cascade;    /* roles of the graphs, shipped configurations */
  dyce__levels levels;
  size_t tensor_total;      /* records in all_tensors */
  size_t node_total;        /* records in all_nodes */
  /* Allocated together with `graphs`: */
  dyce__shape *all_tensors;
  dyce__node *all_nodes;
};

/* Shape of a graph's input: its source's output or the package input. */
dyce__shape dyce__graph_input_shape(const dyce_model *m, size_t graph);

/* Reads the optional LEVL section (after the cascade is built); without
 * one the model has the single level 0. */
dyce_status dyce__levels_read(dyce_model *m, const uint8_t *p, uint64_t bytes,
                              int present, dyce_error *err);
void dyce__levels_free(dyce__levels *l);
/* Graph `graph`'s tensor shapes at `level` (< levels.count). */
static inline const dyce__shape *dyce__level_tensors(const dyce_model *m,
                                                     size_t level,
                                                     size_t graph) {
  const dyce__graph *g = &m->graphs[graph];
  if (level == 0) return g->tensors;
  return m->levels.shapes + (level - 1) * m->tensor_total +
         (size_t)(g->tensors - m->all_tensors);
}

#endif /* DYCE_MODEL_MODEL_H */
