/*
 * A session's arena, planned once at creation in two steps:
 *
 *   plan: where every buffer goes, as offsets (no arena yet)
 *     [package input][output of every graph][scratch shared by all graphs]
 *   bind: the arena is allocated and every tensor and kernel workspace
 *     pointer is set from the offsets.
 *
 * Intermediate tensors and kernel workspaces of one graph are planned by
 * liveness into the scratch region, which every graph reuses because only
 * one graph runs at a time. A graph's input is not a buffer of its own: it
 * is its source's output.
 */
#include "../core/internal.h"
#include "plan.h"
#include "session_state.h"

#define MAX_ARENA_BYTES (1ull << 30)

/* Where everything goes, relative to the start of the arena (persistent
 * part) or of the scratch region (offsets). */
typedef struct arena_plan {
  uint64_t *offsets;   /* per graph, from tensor_start + node_start: its
                          tensors' scratch offsets, then its nodes' */
  uint64_t *output_at; /* [graph_count]: each graph's output */
  uint64_t persistent; /* bytes of the input and the outputs */
  uint64_t scratch;    /* bytes of the largest graph's intermediates */
} arena_plan;

/* Rounded to 16 bytes: an int8 tensor's neighbour stays aligned. */
static uint64_t tensor_bytes(dyce__shape s) {
  return ((uint64_t)dyce__shape_bytes(s) + 15) & ~(uint64_t)15;
}

/* Plans the intermediates of graph `g`; writes offsets relative to the
 * scratch region into `offset` (per local tensor, then per node) and
 * returns the region size. */
static uint64_t plan_graph(dyce_session *s, int splits, size_t gi,
                           dyce__plan_item *items, dyce__plan_work *work,
                           uint64_t *offset) {
  const dyce__graph *g = &s->model->graphs[gi];
  size_t n = 0;
  for (uint32_t t = 0; t < g->tensor_count; t++) {
    items[t].bytes = tensor_bytes(g->tensors[t]);
    items[t].first = UINT32_MAX;
    items[t].last = 0;
  }
  for (uint32_t j = 0; j < g->node_count; j++) {
    const dyce__node *nd = &g->nodes[j];
    items[nd->out].first = j;
    if (items[nd->out].last < j) items[nd->out].last = j;
    uint32_t in[DYCE__MAX_NODE_INPUTS], in_count = dyce__node_inputs(nd, in);
    for (uint32_t i = 0; i < in_count; i++) items[in[i]].last = j;
  }
  /* Graph input and output live elsewhere: plan them as empty. */
  items[g->input].bytes = items[g->output].bytes = 0;
  items[g->input].first = 0;
  n = g->tensor_count;
  for (uint32_t j = 0; j < g->node_count; j++) {
    /* A node split across threads needs a workspace per part. */
    items[n + j].bytes =
        dyce__session_plan_parts(s, splits, g, j, s->node_start[gi] + j);
    items[n + j].first = items[n + j].last = j;
  }
  dyce__session_plan_chains(s, g, s->node_start[gi], items);
  n += g->node_count;
  uint64_t region = dyce__plan(items, n, work);
  for (size_t i = 0; i < n; i++) offset[i] = items[i].offset;
  return region;
}

static dyce_status allocate_tables(dyce_session *s, size_t tensors,
                                   size_t nodes, dyce_error *err) {
  size_t graphs = s->model->graph_count;
  s->tensor_ptr = dyce__calloc(tensors, sizeof(float *));
  s->tensor_start = dyce__calloc(graphs, sizeof(size_t));
  s->node_scratch = dyce__calloc(nodes, sizeof(void *));
  s->node_start = dyce__calloc(graphs, sizeof(size_t));
  s->has_run = dyce__calloc(graphs, 1);
  s->path = dyce__calloc(graphs, sizeof(size_t));
  s->node_parts = dyce__calloc(nodes, sizeof(uint32_t));
  s->node_part_bytes = dyce__calloc(nodes, sizeof(size_t));
  s->node_chain = dyce__calloc(nodes, sizeof(uint32_t));
  if (!s->tensor_ptr || !s->tensor_start || !s->node_scratch ||
      !s->node_start || !s->has_run || !s->path || !s->node_parts ||
      !s->node_part_bytes || !s->node_chain)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate session tables");
  return DYCE_OK;
}

/* Fills the session's tensor_start / node_start and `p` (whose arrays the
 * caller frees, also on failure). */
static dyce_status plan(dyce_session *s, size_t tensors, size_t nodes,
                        size_t max_items, arena_plan *p, dyce_error *err) {
  const dyce_model *m = s->model;
  dyce_status st = DYCE_OK;
  p->offsets = dyce__calloc(tensors + nodes, sizeof(uint64_t));
  p->output_at = dyce__calloc(m->graph_count, sizeof(uint64_t));
  dyce__plan_item *items = dyce__calloc(max_items, sizeof(dyce__plan_item));
  dyce__plan_work *work = dyce__calloc(2 * max_items, sizeof(dyce__plan_work));
  if (!p->offsets || !items || !work || !p->output_at) {
    st = dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the planner");
    goto done;
  }
  /* Persistent part: input, then each graph's output. */
  p->persistent = dyce__align_up(tensor_bytes(m->input), DYCE__BUFFER_ALIGN);
  p->scratch = 0;
  size_t t_at = 0, n_at = 0;
  const int splits = dyce__session_splits(s);
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    const dyce__graph *g = &m->graphs[gi];
    p->output_at[gi] = p->persistent;
    p->persistent += dyce__align_up(tensor_bytes(g->tensors[g->output]),
                                    DYCE__BUFFER_ALIGN);
    s->tensor_start[gi] = t_at;
    s->node_start[gi] = n_at;
    uint64_t region = plan_graph(s, splits, gi, items, work, p->offsets + t_at + n_at);
    if (region > p->scratch) p->scratch = region;
    t_at += g->tensor_count;
    n_at += g->node_count;
    if (p->persistent > MAX_ARENA_BYTES) break;
  }
  /* The scratch is dead between runs, so a caller stages its next input
   * there (dyce_session_input_staging) instead of in a buffer of its own:
   * at least the input's bytes. */
  uint64_t in_bytes = (uint64_t)dyce__shape_elems(m->input) * sizeof(float);
  if (p->scratch < in_bytes) p->scratch = in_bytes;
  if (p->persistent + p->scratch > MAX_ARENA_BYTES)
    st = dyce__fail(err, DYCE_LIMIT,
                    "the model needs an arena of %llu bytes; the limit is 1 "
                    "GiB",
                    (unsigned long long)(p->persistent + p->scratch));
done:
  dyce__free(items);
  dyce__free(work);
  return st;
}

/* Points every tensor and kernel workspace of every graph into the arena
 * at `base`, as planned. */
static void bind(dyce_session *s, uint8_t *base, const arena_plan *p) {
  const dyce_model *m = s->model;
  uint8_t *scratch_base = base + p->persistent;
  s->input = (float *)(void *)base;
  s->staging = (float *)(void *)scratch_base;
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    const dyce__graph *g = &m->graphs[gi];
    float **ptr = s->tensor_ptr + s->tensor_start[gi];
    const uint64_t *off = p->offsets + s->tensor_start[gi] + s->node_start[gi];
    for (uint32_t t = 0; t < g->tensor_count; t++)
      ptr[t] = (float *)(void *)(scratch_base + off[t]);
    ptr[g->output] = (float *)(void *)(base + p->output_at[gi]);
    ptr[g->input] = g->source == DYCE_NO_GRAPH
                        ? s->input
                        : (float *)(void *)(base + p->output_at[g->source]);
    for (uint32_t j = 0; j < g->node_count; j++)
      s->node_scratch[s->node_start[gi] + j] =
          g->nodes[j].scratch_bytes || s->node_parts[s->node_start[gi] + j] > 1
              ? scratch_base + off[g->tensor_count + j]
              : NULL;
  }
}

dyce_status dyce__session_build_arena(dyce_session *s, dyce_error *err) {
  const dyce_model *m = s->model;
  size_t tensors = 0, nodes = 0, max_items = 0;
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    const dyce__graph *g = &m->graphs[gi];
    tensors += g->tensor_count;
    nodes += g->node_count;
    if (g->tensor_count + (size_t)g->node_count > max_items)
      max_items = g->tensor_count + (size_t)g->node_count;
  }
  dyce_status st = allocate_tables(s, tensors, nodes, err);
  if (st) return st;
  arena_plan p = {0};
  st = plan(s, tensors, nodes, max_items, &p, err);
  uint64_t total = p.persistent + p.scratch;
  if (!st) {
    s->arena_alloc = dyce__malloc((size_t)total + DYCE__BUFFER_ALIGN);
    if (!s->arena_alloc)
      st = dyce__fail(err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate an arena of %llu bytes",
                      (unsigned long long)total);
  }
  if (!st) {
    s->arena = (uint8_t *)dyce__align_up((uintptr_t)s->arena_alloc,
                                         DYCE__BUFFER_ALIGN);
    s->arena_bytes = (size_t)total;
    bind(s, s->arena, &p);
  }
  dyce__free(p.offsets);
  dyce__free(p.output_at);
  return st;
}

void dyce__session_free_arena(dyce_session *s) {
  dyce__free(s->arena_alloc);
  dyce__free(s->tensor_ptr);
  dyce__free(s->tensor_start);
  dyce__free(s->node_scratch);
  dyce__free(s->node_start);
  dyce__free(s->has_run);
  dyce__free(s->path);
  dyce__free(s->node_parts);
  dyce__free(s->node_part_bytes);
  dyce__free(s->node_chain);
  s->arena_alloc = NULL;
  s->arena = NULL;
  s->staging = NULL;
  s->arena_bytes = 0;
  s->tensor_ptr = NULL;
  s->node_scratch = NULL;
  s->tensor_start = s->node_start = s->path = NULL;
  s->node_part_bytes = NULL;
  s->has_run = NULL;
  s->node_parts = NULL;
  s->node_chain = NULL;
}
