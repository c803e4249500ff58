/*
 * Flat accessors for JavaScript. The public API returns structs; reading
 * struct layouts from JS is fragile, so the browser module exports these
 * small getters beside the dyce_* functions themselves.
 */
#include <emscripten.h>

#include "dyce.h"

EMSCRIPTEN_KEEPALIVE size_t dyce_wasm_error_bytes(void) {
  return sizeof(dyce_error); /* status (i32) at 0, message at 4 */
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

/* Dimension i (0..3, NHWC) of graph g's output. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_graph_dim(const dyce_model *m, size_t g,
                                             int i) {
  dyce_graph_info gi;
  if (!info(m, g, &gi) || i < 0 || i > 3) return -1;
  return (int)gi.output_dims[i];
}

/* Dimension i (0..3, NHWC) of the package input. */
EMSCRIPTEN_KEEPALIVE int dyce_wasm_input_dim(const dyce_model *m, int i) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  unsigned dims[4] = {1, in.height, in.width, in.channels};
  return (i < 0 || i > 3) ? -1 : (int)dims[i];
}
