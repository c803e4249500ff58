/* The session's internals, shared by runtime/ and cascade/. */
#ifndef DYCE_RUNTIME_SESSION_H
#define DYCE_RUNTIME_SESSION_H

#include "../cascade/cascade.h"
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

/* Makes `config` (already checked) current. Outputs computed at another
 * width level are stale for the current input and will be recomputed. */
static inline void dyce__session_switch(dyce_session *s,
                                        const dyce_config *config) {
  if (config->level != s->config.level)
    for (size_t g = 0; g < s->model->graph_count; g++) s->has_run[g] = 0;
  s->config = *config;
}

/* Runs one graph whose source has already run. */
void dyce__session_run_graph(dyce_session *s, size_t graph);

#endif /* DYCE_RUNTIME_SESSION_H */
