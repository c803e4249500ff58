/*
 * Sessions: one arena per session, planned once at creation.
 *
 *   [package input][output of every graph][scratch shared by all graphs]
 *
 * Graph outputs persist until the next input, so a cascade resumes a later
 * stage from an earlier stage's output instead of recomputing it (ncnn's
 * "lazy extraction"). A graph's input is not a buffer of its own: it is its
 * source's output. Intermediate tensors and kernel workspaces of one graph
 * are planned by liveness into the scratch region, which every graph
 * reuses because only one graph runs at a time.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../kernels/kernels.h"
#include "../ops/ops.h"
#include "plan.h"
#include "session.h"

#define MAX_ARENA_BYTES (1ull << 30)


static uint64_t tensor_bytes(dyce__shape s) {
  return (uint64_t)dyce__shape_elems(s) * sizeof(float);
}

/* Plans the intermediates of graph `gi`; writes offsets relative to the
 * scratch region into `offset` (per local tensor, then per node) and
 * returns the region size. */
static uint64_t plan_graph(const dyce__graph *g, dyce__plan_item *items,
                           dyce__plan_work *work, uint64_t *offset) {
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
    items[n + j].bytes = g->nodes[j].scratch_bytes;
    items[n + j].first = items[n + j].last = j;
  }
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
  if (!s->tensor_ptr || !s->tensor_start || !s->node_scratch ||
      !s->node_start || !s->has_run || !s->path)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate session tables");
  return DYCE_OK;
}

/* Computes the layout, allocates the arena and points every tensor and
 * scratch buffer into it. */
static dyce_status build_arena(dyce_session *s, dyce_error *err) {
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
  /* offsets[] holds each graph's planned scratch offsets, all graphs. */
  uint64_t *offsets = dyce__calloc(tensors + nodes, sizeof(uint64_t));
  dyce__plan_item *items = dyce__calloc(max_items, sizeof(dyce__plan_item));
  dyce__plan_work *work = dyce__calloc(2 * max_items, sizeof(dyce__plan_work));
  uint64_t *output_at = dyce__calloc(m->graph_count, sizeof(uint64_t));
  if (!offsets || !items || !work || !output_at) {
    st = dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the planner");
    goto done;
  }
  /* Persistent part: input, then each graph's output. */
  uint64_t persistent = dyce__align_up(tensor_bytes(m->input), DYCE__BUFFER_ALIGN);
  uint64_t scratch = 0;
  size_t t_at = 0, n_at = 0;
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    const dyce__graph *g = &m->graphs[gi];
    output_at[gi] = persistent;
    persistent += dyce__align_up(tensor_bytes(g->tensors[g->output]),
                                 DYCE__BUFFER_ALIGN);
    s->tensor_start[gi] = t_at;
    s->node_start[gi] = n_at;
    /* Graph gi's offsets: its tensors', then its nodes'. */
    uint64_t region = plan_graph(g, items, work, offsets + t_at + n_at);
    if (region > scratch) scratch = region;
    t_at += g->tensor_count;
    n_at += g->node_count;
    if (persistent > MAX_ARENA_BYTES) break;
  }
  uint64_t total = persistent + scratch;
  if (total > MAX_ARENA_BYTES) {
    st = dyce__fail(err, DYCE_LIMIT,
                    "the model needs an arena of %llu bytes; the limit is 1 "
                    "GiB",
                    (unsigned long long)total);
    goto done;
  }
  s->arena_alloc = dyce__malloc((size_t)total + DYCE__BUFFER_ALIGN);
  if (!s->arena_alloc) {
    st = dyce__fail(err, DYCE_OUT_OF_MEMORY,
                    "cannot allocate an arena of %llu bytes",
                    (unsigned long long)total);
    goto done;
  }
  s->arena = (uint8_t *)dyce__align_up((uintptr_t)s->arena_alloc,
                                       DYCE__BUFFER_ALIGN);
  s->arena_bytes = (size_t)total;
  s->input = (float *)(void *)s->arena;
  uint8_t *scratch_base = s->arena + persistent;
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    const dyce__graph *g = &m->graphs[gi];
    float **ptr = s->tensor_ptr + s->tensor_start[gi];
    const uint64_t *off = offsets + s->tensor_start[gi] + s->node_start[gi];
    for (uint32_t t = 0; t < g->tensor_count; t++)
      ptr[t] = (float *)(void *)(scratch_base + off[t]);
    ptr[g->output] = (float *)(void *)(s->arena + output_at[gi]);
    ptr[g->input] =
        g->source == DYCE_NO_GRAPH
            ? s->input
            : (float *)(void *)(s->arena + output_at[g->source]);
    for (uint32_t j = 0; j < g->node_count; j++)
      s->node_scratch[s->node_start[gi] + j] =
          g->nodes[j].scratch_bytes
              ? scratch_base + off[g->tensor_count + j]
              : NULL;
  }
  st = DYCE_OK;
done:
  dyce__free(offsets);
  dyce__free(items);
  dyce__free(work);
  dyce__free(output_at);
  return st;
}

dyce_status dyce_session_create(const dyce_model *model, dyce_session **out,
                                dyce_error *err) {
  if (!out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "out is NULL");
  *out = NULL;
  if (!model) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "model is NULL");
  dyce_session *s = dyce__calloc(1, sizeof *s);
  if (!s)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate a session");
  s->model = model;
  s->kernels = dyce__kernels_default();
  dyce_config_backbone(model, &s->config);
  dyce_status st = build_arena(s, err);
  if (st) {
    dyce_session_free(s);
    return st;
  }
  *out = s;
  return dyce__ok(err);
}

void dyce_session_free(dyce_session *s) {
  if (!s) return;
  dyce__free(s->arena_alloc);
  dyce__free(s->tensor_ptr);
  dyce__free(s->tensor_start);
  dyce__free(s->node_scratch);
  dyce__free(s->node_start);
  dyce__free(s->has_run);
  dyce__free(s->path);
  dyce__free(s);
}

size_t dyce_session_arena_bytes(const dyce_session *s) {
  return s ? s->arena_bytes : 0;
}

dyce_status dyce_session_set_input(dyce_session *s, const float *data,
                                   size_t count, dyce_layout layout,
                                   dyce_error *err) {
  if (!s || !data)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "session or data is NULL");
  dyce__shape in = s->model->input;
  size_t want = dyce__shape_elems(in);
  if (layout != DYCE_LAYOUT_NHWC && layout != DYCE_LAYOUT_NCHW)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "unknown layout %d",
                      (int)layout);
  if (count != want)
    return dyce__fail(err, DYCE_BAD_INPUT,
                      "input has %zu elements; the model takes 1x%ux%ux%u "
                      "= %zu",
                      count, in.h, in.w, in.c, want);
  s->has_input = 0;
  memset(s->has_run, 0, s->model->graph_count);
  /* One pass without a branch per element (a tiny saver's whole run is
   * ~20 us; a division per element for the layout cost 4 of them). */
  int finite = 1;
  for (size_t i = 0; i < count; i++) finite &= fabsf(data[i]) <= FLT_MAX;
  if (!finite) {
    size_t i = 0;
    while (isfinite(data[i])) i++;
    return dyce__fail(err, DYCE_BAD_INPUT, "input element %zu is %s", i,
                      isnan(data[i]) ? "NaN" : "infinite");
  }
  if (layout == DYCE_LAYOUT_NHWC || in.c == 1) {
    memcpy(s->input, data, count * sizeof(float));
  } else { /* NCHW: data[c][pixel] -> input[pixel][c] */
    size_t hw = (size_t)in.h * in.w;
    for (size_t c = 0; c < in.c; c++)
      for (size_t p = 0; p < hw; p++) s->input[p * in.c + c] = data[c * hw + p];
  }
  s->has_input = 1;
  return dyce__ok(err);
}

void dyce__session_run_graph(dyce_session *s, size_t gi) {
  const dyce__graph *g = &s->model->graphs[gi];
  float *const *ptr = s->tensor_ptr + s->tensor_start[gi];
  void *const *scratch = s->node_scratch + s->node_start[gi];
  /* The width level's shapes: level 0's, or fewer channels of each. */
  const dyce__shape *shapes = dyce__level_tensors(s->model, s->config.level, gi);
  for (uint32_t j = 0; j < g->node_count; j++) {
    const dyce__node *n = &g->nodes[j];
    n->def->run(n, shapes, s->kernels, ptr, scratch[j]);
  }
  s->has_run[gi] = 1;
}

dyce_status dyce_session_run(dyce_session *s, size_t graph, dyce_error *err) {
  if (!s) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "session is NULL");
  if (graph >= s->model->graph_count)
    return dyce__fail(err, DYCE_NOT_FOUND, "graph %zu of %zu does not exist",
                      graph, s->model->graph_count);
  if (!s->has_input)
    return dyce__fail(err, DYCE_BAD_STATE, "no input has been set");
  /* Collect the graphs still to run, from `graph` back to a computed one. */
  size_t n = 0;
  for (size_t g = graph; g != DYCE_NO_GRAPH && !s->has_run[g];
       g = s->model->graphs[g].source)
    s->path[n++] = g;
  while (n > 0) dyce__session_run_graph(s, s->path[--n]);
  return dyce__ok(err);
}

int dyce_session_has_run(const dyce_session *s, size_t graph) {
  return s && graph < s->model->graph_count && s->has_run[graph];
}

dyce_status dyce_session_output(const dyce_session *s, size_t graph,
                                const float **data, size_t *count,
                                dyce_error *err) {
  if (!s || !data || !count)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  if (graph >= s->model->graph_count)
    return dyce__fail(err, DYCE_NOT_FOUND, "graph %zu of %zu does not exist",
                      graph, s->model->graph_count);
  if (!s->has_run[graph])
    return dyce__fail(err, DYCE_BAD_STATE,
                      "graph '%s' has not run for the current input",
                      s->model->graphs[graph].name);
  const dyce__graph *g = &s->model->graphs[graph];
  *data = s->tensor_ptr[s->tensor_start[graph] + g->output];
  *count = dyce__shape_elems(
      dyce__level_tensors(s->model, s->config.level, graph)[g->output]);
  return dyce__ok(err);
}
