/*
 * The session's state, private to the runtime (session.c, arena.c,
 * config.c). Other layers go through runtime/session.h and dyce.h.
 */
#ifndef DYCE_RUNTIME_SESSION_STATE_H
#define DYCE_RUNTIME_SESSION_STATE_H

#include "../core/pool.h"
#include "../kernels/kernels.h"
#include "../model/model.h"

struct dyce_session {
  const dyce_model *model;
  const dyce__kernels *kernels;
  void *arena_alloc;    /* what was allocated (arena is aligned inside) */
  uint8_t *arena;
  size_t arena_bytes;
  float *input;
  float *staging;       /* the shared scratch, where a caller may stage an input */
  float **tensor_ptr;   /* per graph, per local tensor */
  size_t *tensor_start; /* index of graph g's first entry in tensor_ptr */
  void **node_scratch;  /* per node of every graph, same layout as nodes */
  size_t *node_start;
  uint8_t *has_run;     /* per graph, for the current input */
  size_t *path;         /* workspace for dyce_session_run */
  int has_input;
  dyce_config config;   /* current cascade configuration */
  /* Threads (threads.c): the pool (NULL on one thread) and, per node of
   * every graph (node_start layout), how many parts it runs in (1: whole)
   * and the bytes of workspace between one part's and the next's. */
  dyce__pool *pool;
  uint32_t threads;
  double split_min_macs; /* the model splits nothing below this (dyce.h) */
  uint32_t *node_parts;
  size_t *node_part_bytes;
  /* chains.c, per node: how many nodes run in its parts, itself included
   * (1: none joined it); 0 for a node that runs in an earlier node's. */
  uint32_t *node_chain;
};

/* Allocates the session's tables and its arena, plans where every tensor
 * and kernel workspace lives and points them there (arena.c). */
dyce_status dyce__session_build_arena(dyce_session *s, dyce_error *err);
/* Frees what build_arena allocated (the session itself stays). */
void dyce__session_free_arena(dyce_session *s);

/* threads.c: checks `threads` and gives the session a pool of that many
 * (none for 1); the arena is planned after, for that count. */
dyce_status dyce__session_start_pool(dyce_session *s, uint32_t threads,
                                     dyce_error *err);
/* threads.c: whether the session splits any node (it has threads and
 * the model is not small, DYCE_SPLIT_MIN_MODEL_MACS); decided once per
 * plan. */
int dyce__session_splits(const dyce_session *s);
/* threads.c: for node `j` of graph `g` (index `at` in node_start layout),
 * decides its parts (`splits`: dyce__session_splits) and returns the
 * workspace to plan for it. */
size_t dyce__session_plan_parts(dyce_session *s, int splits,
                                const dyce__graph *g, uint32_t j, size_t at);
/* chains.c: after the parts of graph `g`'s nodes (from index `at`) are
 * planned, lets each node join the chain of the nodes before it where it
 * can, and stretches the lifetimes of `items` (tensors, then node
 * workspaces) over each chain. */
struct dyce__plan_item;
void dyce__session_plan_chains(dyce_session *s, const dyce__graph *g,
                               size_t at, struct dyce__plan_item *items);
/* Runs node `j` (index `at`) of graph `g`, split when planned so, with the
 * nodes chained to it; nothing for a node that ran in an earlier chain. */
void dyce__session_run_node(dyce_session *s, const dyce__graph *g, uint32_t j,
                            size_t at, const dyce__shape *shapes,
                            float *const *ptr, void *scratch);

#endif /* DYCE_RUNTIME_SESSION_STATE_H */
