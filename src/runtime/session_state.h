/*
 * The session's state, private to the runtime (session.c, arena.c,
 * config.c). Other layers go through runtime/session.h and dyce.h.
 */
#ifndef DYCE_RUNTIME_SESSION_STATE_H
#define DYCE_RUNTIME_SESSION_STATE_H

#include "../kernels/kernels.h"
#include "../model/model.h"

struct dyce_session {
  const dyce_model *model;
  const dyce__kernels *kernels;
  void *arena_alloc;    /* what was allocated (arena is aligned inside) */
  uint8_t *arena;
  size_t arena_bytes;
  float *input;
  float **tensor_ptr;   /* per graph, per local tensor */
  size_t *tensor_start; /* index of graph g's first entry in tensor_ptr */
  void **node_scratch;  /* per node of every graph, same layout as nodes */
  size_t *node_start;
  uint8_t *has_run;     /* per graph, for the current input */
  size_t *path;         /* workspace for dyce_session_run */
  int has_input;
  dyce_config config;   /* current cascade configuration */
};

/* Allocates the session's tables and its arena, plans where every tensor
 * and kernel workspace lives and points them there (arena.c). */
dyce_status dyce__session_build_arena(dyce_session *s, dyce_error *err);

#endif /* DYCE_RUNTIME_SESSION_STATE_H */
