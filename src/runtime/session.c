/*
 * Sessions: one arena per session, planned once at creation (arena.c).
 *
 *   [package input][output of every graph][scratch shared by all graphs]
 *
 * Graph outputs persist until the next input, so a cascade resumes a later
 * stage from an earlier stage's output instead of recomputing it (ncnn's
 * "lazy extraction"). A graph's input is not a buffer of its own: it is its
 * source's output.
 */
#include <float.h>
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "../ops/ops.h"
#include "session.h"
#include "session_state.h"

dyce_status dyce_session_create(const dyce_model *model, dyce_session **out,
                                dyce_error *err) {
  return dyce_session_create_threads(model, 1, out, err);
}

dyce_status dyce_session_create_threads(const dyce_model *model,
                                        uint32_t threads, dyce_session **out,
                                        dyce_error *err) {
  if (!out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "out is NULL");
  *out = NULL;
  if (!model) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "model is NULL");
  dyce_session *s = dyce__calloc(1, sizeof *s);
  if (!s)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate a session");
  s->model = model;
  s->kernels = dyce__kernels_default();
  s->split_min_macs = DYCE_SPLIT_MIN_MODEL_MACS;
  dyce_config_backbone(model, &s->config);
  /* The pool first: the arena is planned once, for its thread count. */
  dyce_status st = dyce__session_start_pool(s, threads, err);
  if (!st) st = dyce__session_build_arena(s, err);
  if (st) {
    dyce_session_free(s);
    return st;
  }
  *out = s;
  return dyce__ok(err);
}

void dyce_session_free(dyce_session *s) {
  if (!s) return;
  dyce__session_free_arena(s);
  dyce__pool_free(s->pool);
  dyce__free(s);
}

size_t dyce_session_arena_bytes(const dyce_session *s) {
  return s ? s->arena_bytes : 0;
}

dyce_status dyce_session_set_input(dyce_session *s, const float *data,
                                   size_t count, dyce_layout layout,
                                   dyce_error *err) {
  if (!s) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "session is NULL");
  /* Before the data: without an arena there is no staging area either,
   * so a host that stages its input gets this reason, not "NULL data". */
  if (!s->arena)
    return dyce__fail(err, DYCE_BAD_STATE,
                      "the session has no arena (dyce_session_set_threads "
                      "failed to replan it)");
  if (!data) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "data is NULL");
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

float *dyce_session_input_staging(dyce_session *s) {
  return s ? s->staging : NULL; /* NULL with the arena (free_arena) */
}

void dyce__session_run_graph(dyce_session *s, size_t gi) {
  const dyce__graph *g = &s->model->graphs[gi];
  float *const *ptr = s->tensor_ptr + s->tensor_start[gi];
  void *const *scratch = s->node_scratch + s->node_start[gi];
  /* The width level's shapes: level 0's, or fewer channels of each. */
  const dyce__shape *shapes = dyce__level_tensors(s->model, s->config.level, gi);
  for (uint32_t j = 0; j < g->node_count; j++)
    dyce__session_run_node(s, g, j, s->node_start[gi] + j, shapes, ptr,
                           scratch[j]);
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

/* The checks of both output getters; `q8`: the caller reads int8. */
static dyce_status output_ready(const dyce_session *s, size_t graph, int q8,
                                dyce_error *err) {
  if (graph >= s->model->graph_count)
    return dyce__fail(err, DYCE_NOT_FOUND, "graph %zu of %zu does not exist",
                      graph, s->model->graph_count);
  if (!s->has_run[graph])
    return dyce__fail(err, DYCE_BAD_STATE,
                      "graph '%s' has not run for the current input",
                      s->model->graphs[graph].name);
  const dyce__graph *g = &s->model->graphs[graph];
  if (dyce__is_q8(g->tensors[g->output]) != q8)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "graph '%s' outputs %s: read it with %s", g->name,
                      dyce__dtype_name(g->tensors[g->output]),
                      q8 ? "dyce_session_output" : "dyce_session_output_int8");
  return DYCE_OK;
}

static size_t output_count(const dyce_session *s, size_t graph) {
  const dyce__graph *g = &s->model->graphs[graph];
  return dyce__shape_elems(
      dyce__level_tensors(s->model, s->config.level, graph)[g->output]);
}

dyce_status dyce_session_output(const dyce_session *s, size_t graph,
                                const float **data, size_t *count,
                                dyce_error *err) {
  if (!s || !data || !count)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  dyce_status st = output_ready(s, graph, 0, err);
  if (st) return st;
  *data = dyce__session_graph_output(s, graph);
  *count = output_count(s, graph);
  return dyce__ok(err);
}

dyce_status dyce_session_output_int8(const dyce_session *s, size_t graph,
                                     const int8_t **data, size_t *count,
                                     float *scale, int32_t *zero_point,
                                     dyce_error *err) {
  if (!s || !data || !count || !scale || !zero_point)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  dyce_status st = output_ready(s, graph, 1, err);
  if (st) return st;
  const dyce__graph *g = &s->model->graphs[graph];
  *data = (const int8_t *)dyce__session_graph_output(s, graph);
  *count = output_count(s, graph);
  *scale = g->tensors[g->output].scale;
  *zero_point = g->tensors[g->output].zp;
  return dyce__ok(err);
}

const dyce_model *dyce__session_model(const dyce_session *s) { return s->model; }

const dyce_config *dyce__session_config(const dyce_session *s) {
  return &s->config;
}

int dyce__session_has_input(const dyce_session *s) { return s->has_input; }

const float *dyce__session_graph_output(const dyce_session *s, size_t graph) {
  const dyce__graph *g = &s->model->graphs[graph];
  return s->tensor_ptr[s->tensor_start[graph] + g->output];
}
