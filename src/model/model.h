/*
 * The loaded model: graphs of nodes over NHWC tensors, with weights packed
 * for the kernels, the cascade roles of the graphs, the configurations the
 * package ships and its width levels. Built once by dyce_model_load,
 * immutable afterwards.
 */
#ifndef DYCE_MODEL_MODEL_H
#define DYCE_MODEL_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"
#include "../format.h"
#include "../ops/node.h"

/* The cascade roles of the graphs (roles.c): which graph is a saver, a
 * backbone stage, an exit at which position, and the head, derived from
 * graph names at load and checked against the graphs' sources. */
typedef struct dyce__roles {
  int present;                       /* 0: no head, classify is refused */
  size_t head;
  size_t stage_count;
  size_t stages[DYCE_MAX_POSITIONS]; /* [k-1] = graph of stage k */
  size_t saver_count;
  size_t savers[DYCE_MAX_SAVERS];
  /* Exits of position p are exit_graphs[exit_start[p-1] .. exit_start[p]). */
  size_t exit_start[DYCE_MAX_POSITIONS + 1];
  size_t *exit_graphs;
  size_t class_count;                /* outputs of every classifier graph */
} dyce__roles;

/* One configuration the package ships in its CONF section (configs.c). */
typedef struct dyce__config_entry {
  dyce_config config;
  char name[32];
  float accuracy;
  double mean_macs;
} dyce__config_entry;

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
  dyce__roles roles;        /* cascade roles of the graphs */
  dyce__config_entry *configs; /* shipped configurations (CONF) */
  size_t config_count;
  dyce__levels levels;
  size_t tensor_total;      /* records in all_tensors */
  size_t node_total;        /* records in all_nodes */
  /* Allocated together with `graphs`: */
  dyce__shape *all_tensors;
  dyce__node *all_nodes;
};

/* 1 when graph g answers with probabilities (it ends in a softmax), 0
 * when with class scores: logits, or a log-softmax's log-probabilities
 * (whose softmax is the probabilities). */
static inline int dyce__graph_gives_probabilities(const dyce__graph *g) {
  const dyce__node *last = &g->nodes[g->node_count - 1];
  return last->op == DYCE__OP_SOFTMAX && !dyce__node_is_log_softmax(last);
}

/* Shape of a graph's input: its source's output or the package input. */
dyce__shape dyce__graph_input_shape(const dyce_model *m, size_t graph);

/* Derives the roles from graph names and checks them; fills m->roles. */
dyce_status dyce__roles_build(dyce_model *m, dyce_error *err);
void dyce__roles_free(dyce__roles *r);
/* Parses a CONF section body (after the roles and levels). */
dyce_status dyce__configs_read(dyce_model *m, const uint8_t *p, uint64_t bytes,
                               dyce_error *err);

/* Reads the optional LEVL section (after the roles are built); without
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
