/*
 * Flat accessors for JavaScript. The public API returns structs; reading
 * struct layouts from JS is fragile, so the browser module exports these
 * small getters beside the dyce_* functions themselves.
 */
#include <emscripten.h>
#include <stdio.h>

#include "dyce.h"
#include "binding_codes.h"

EMSCRIPTEN_KEEPALIVE size_t dyce_wasm_error_bytes(void) {
  return sizeof(dyce_error);
}

/* The message of an error record (so JS needs no struct offsets). */
EMSCRIPTEN_KEEPALIVE const char *dyce_wasm_error_message(const dyce_error *e) {
  return e->message;
}

static int info(const dyce_model *m, size_t g, dyce_graph_info *out) {
  return dyce_model_graph_info(m, g, out, NULL) == DYCE_OK;
}

EMSCRIPTEN_KEEPALIVE const char *dyce_wasm_graph_name(const dyce_model *m,
                                                      size_t g) {
  dyce_graph_info gi;
  return info(m, g, &gi) ? gi.name : NULL;
}

/* -1 when the graph reads the package input. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_graph_source(const dyce_model *m,
                                                size_t g) {
  dyce_graph_info gi;
  if (!info(m, g, &gi) || gi.source == DYCE_NO_GRAPH) return -1;
  return (int)gi.source;
}

/* A double holds any realistic MAC count exactly (< 2^53). */
EMSCRIPTEN_KEEPALIVE double dyce_wasm_graph_macs(const dyce_model *m,
                                                 size_t g) {
  dyce_graph_info gi;
  return info(m, g, &gi) ? (double)gi.macs : -1.0;
}

/* MACs of graph g at width level `level`. */
EMSCRIPTEN_KEEPALIVE double dyce_wasm_level_macs(const dyce_model *m, size_t g,
                                                 size_t level) {
  return (double)dyce_model_graph_macs(m, g, level);
}

/* Dimension i (0..3, NHWC) of graph g's output. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_graph_dim(const dyce_model *m, size_t g,
                                             int i) {
  dyce_graph_info gi;
  if (!info(m, g, &gi) || i < 0 || i > 3) return -1;
  return (int)gi.output_dims[i];
}

/* Graph g's int8 nodes times 2, plus 1 when its output is int8
 * (docs/INT8.md); -1 when g does not exist. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_graph_int8(const dyce_model *m, size_t g) {
  dyce_graph_info gi;
  if (!info(m, g, &gi)) return -1;
  return (int)(gi.int8_nodes * 2) + (gi.output_int8 ? 1 : 0);
}

/* Dimension i (0..3, NHWC) of the package input. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_input_dim(const dyce_model *m, int i) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  unsigned dims[4] = {1, in.height, in.width, in.channels};
  return (i < 0 || i > 3) ? -1 : (int)dims[i];
}

/* ---- cascade ---------------------------------------------------------- */

/* out[0..3]: stage count, saver count, head graph, configuration count;
 * returns 0 when the package has no cascade. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_cascade(const dyce_model *m, int *out) {
  dyce_cascade_info ci;
  if (dyce_model_cascade(m, &ci, NULL) != DYCE_OK) return 0;
  out[0] = (int)ci.stage_count;
  out[1] = (int)ci.saver_count;
  out[2] = (int)ci.head;
  out[3] = (int)ci.config_count;
  return 1;
}

/* Graph of role `role` (dyce_wasm_role: saver i, stage i (1-based), exit
 * i of position p), or -1. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_role_graph(const dyce_model *m, int role,
                                             int p, int i) {
  size_t g = role == DYCE_WASM_ROLE_SAVER   ? dyce_model_saver(m, (size_t)i)
             : role == DYCE_WASM_ROLE_STAGE ? dyce_model_stage(m, (size_t)i)
                                            : dyce_model_exit(m, (size_t)p, (size_t)i);
  return g == DYCE_NO_GRAPH ? -1 : (int)g;
}

EMSCRIPTEN_KEEPALIVE int dyce_wasm_exit_count(const dyce_model *m, int p) {
  return (int)dyce_model_exit_count(m, (size_t)p);
}

/* A shipped configuration, flattened: out_graphs[0] = saver, then one exit
 * per position (-1 = none); out_thresholds likewise; meta = accuracy,
 * mean MACs, confidence, width level. Returns its name, or NULL. */
EMSCRIPTEN_KEEPALIVE const char *dyce_wasm_config(const dyce_model *m, size_t index,
                                                  int *out_graphs, float *out_thresholds,
                                                  double *meta) {
  dyce_config c;
  dyce_config_meta mt;
  dyce_cascade_info ci;
  if (dyce_model_config(m, index, &c, &mt, NULL) != DYCE_OK ||
      dyce_model_cascade(m, &ci, NULL) != DYCE_OK)
    return NULL;
  out_graphs[0] = c.saver == DYCE_NO_GRAPH ? -1 : (int)c.saver;
  out_thresholds[0] = c.saver_threshold;
  for (size_t p = 0; p < ci.stage_count; p++) {
    out_graphs[p + 1] = c.exit[p] == DYCE_NO_GRAPH ? -1 : (int)c.exit[p];
    out_thresholds[p + 1] = c.threshold[p];
  }
  meta[0] = mt.accuracy;
  meta[1] = mt.mean_macs;
  meta[2] = (double)c.confidence;
  meta[3] = (double)c.level;
  return mt.name;
}

/* Sets a configuration given flattened as above (n = 1 + positions). */
EMSCRIPTEN_KEEPALIVE dyce_status dyce_wasm_set_config(dyce_session *s, const dyce_model *m,
                                                      const int *graphs,
                                                      const float *thresholds, int n,
                                                      int confidence, int level,
                                                      dyce_error *err) {
  dyce_config c;
  dyce_config_backbone(m, &c);
  if (n < 1 || n > DYCE_MAX_POSITIONS + 1) {
    err->status = DYCE_INVALID_ARGUMENT;
    snprintf(err->message, sizeof err->message, "a configuration has 1..%d entries, not %d",
             DYCE_MAX_POSITIONS + 1, n);
    return DYCE_INVALID_ARGUMENT;
  }
  c.saver = graphs[0] < 0 ? DYCE_NO_GRAPH : (size_t)graphs[0];
  c.saver_threshold = thresholds[0];
  c.confidence = (dyce_confidence)confidence;
  c.level = level < 0 ? DYCE_NO_LEVEL : (size_t)level;
  for (int p = 1; p < n; p++) {
    c.exit[p - 1] = graphs[p] < 0 ? DYCE_NO_GRAPH : (size_t)graphs[p];
    c.threshold[p - 1] = thresholds[p];
  }
  return dyce_session_set_config(s, &c, err);
}

/* Classifies the current input; out = index, score, confidence, graph,
 * position, MACs, ms, budget_exhausted. A budget of 0 means none. */
EMSCRIPTEN_KEEPALIVE dyce_status dyce_wasm_classify(dyce_session *s, double deadline_ms,
                                                    double mac_budget, double *out,
                                                    dyce_error *err) {
  dyce_classify_options o = {deadline_ms, mac_budget > 0 ? (uint64_t)mac_budget : 0};
  dyce_result r;
  dyce_status st = dyce_session_classify(s, &o, &r, err);
  if (st) return st;
  out[0] = (double)r.index;
  out[1] = r.score;
  out[2] = r.confidence;
  out[3] = (double)r.graph;
  out[4] = (double)r.position;
  out[5] = (double)r.macs;
  out[6] = r.ms;
  out[7] = r.budget_exhausted;
  return DYCE_OK;
}

/* out[0] = pixel scale, out[1..c] = mean, out[1+c..2c] = std; returns c. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_input_spec(const dyce_model *m, float *out) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  out[0] = in.pixel_scale;
  for (unsigned i = 0; i < in.channels; i++) {
    out[1 + i] = in.mean[i];
    out[1 + in.channels + i] = in.std[i];
  }
  return (int)in.channels;
}

/* Which build this is: 2 relaxed SIMD, 1 SIMD128, 0 none; + 4 threaded.
 * Lets the host name a build it was handed as one file (wasmUrl). */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_build_features(void) {
  int f = 0;
#if defined(__wasm_relaxed_simd__)
  f = 2;
#elif defined(__wasm_simd128__)
  f = 1;
#endif
#if defined(__wasm_atomics__)
  f += 4;
#endif
  return f;
}
