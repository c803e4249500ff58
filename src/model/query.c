/* Read-only accessors of a loaded model (the public dyce_model_* calls). */
#include <stdio.h>
#include <string.h>

#include "../core/internal.h"
#include "../ops/ops.h"
#include "model.h"

static void shape_dims(dyce__shape s, uint32_t dims[4]) {
  dims[0] = 1;
  dims[1] = s.h;
  dims[2] = s.w;
  dims[3] = s.c;
}

size_t dyce_model_graph_count(const dyce_model *m) {
  return m ? m->graph_count : 0;
}

dyce_status dyce_model_graph_info(const dyce_model *m, size_t graph,
                                  dyce_graph_info *out, dyce_error *err) {
  if (!m || !out)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "model or out is NULL");
  if (graph >= m->graph_count)
    return dyce__fail(err, DYCE_NOT_FOUND, "graph %zu of %zu does not exist",
                      graph, m->graph_count);
  const dyce__graph *g = &m->graphs[graph];
  out->name = g->name;
  out->source = g->source;
  out->macs = g->macs;
  out->node_count = g->node_count;
  out->tensor_count = g->tensor_count;
  shape_dims(g->tensors[g->input], out->input_dims);
  shape_dims(g->tensors[g->output], out->output_dims);
  out->int8_nodes = 0;
  for (uint32_t j = 0; j < g->node_count; j++) out->int8_nodes += g->nodes[j].q8;
  out->output_int8 = dyce__is_q8(g->tensors[g->output]);
  return dyce__ok(err);
}

dyce_status dyce_model_find_graph(const dyce_model *m, const char *name,
                                  size_t *graph, dyce_error *err) {
  if (!m || !name || !graph)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  for (size_t i = 0; i < m->graph_count; i++)
    if (strcmp(m->graphs[i].name, name) == 0) {
      *graph = i;
      return dyce__ok(err);
    }
  return dyce__fail(err, DYCE_NOT_FOUND, "no graph named '%.200s'", name);
}

uint64_t dyce_model_path_macs(const dyce_model *m, size_t graph) {
  return dyce_model_level_path_macs(m, graph, 0);
}

void dyce_model_input_spec(const dyce_model *m, dyce_input_spec *out) {
  if (!m || !out) return;
  out->height = m->input.h;
  out->width = m->input.w;
  out->channels = m->input.c;
  out->pixel_scale = m->pixel_scale;
  out->mean = m->mean;
  out->std = m->std;
}

size_t dyce_model_label_count(const dyce_model *m) {
  return m ? m->label_count : 0;
}

const char *dyce_model_label(const dyce_model *m, size_t index) {
  return (m && index < m->label_count) ? m->labels[index] : NULL;
}

size_t dyce_model_weight_bytes(const dyce_model *m) {
  return m ? m->weight_floats * sizeof(float) : 0;
}

dyce_status dyce_model_node_info(const dyce_model *m, size_t graph,
                                 size_t node, dyce_node_info *out,
                                 dyce_error *err) {
  if (!m || !out)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "model or out is NULL");
  if (graph >= m->graph_count || node >= m->graphs[graph].node_count)
    return dyce__fail(err, DYCE_NOT_FOUND, "graph %zu node %zu does not exist",
                      graph, node);
  const dyce__graph *g = &m->graphs[graph];
  const dyce__node *n = &g->nodes[node];
  /* One op, two names: a log-softmax is no softmax to a reader of its output. */
  out->op = dyce__node_is_log_softmax(n) ? "log_softmax" : n->def->name;
  out->activation = dyce__act_name(n->act);
  shape_dims(g->tensors[n->out], out->output_dims);
  out->macs = n->macs;
  out->dtype = dyce__dtype_name(g->tensors[n->out]);
  return dyce__ok(err);
}

size_t dyce_model_level_count(const dyce_model *m) {
  return m ? m->levels.count : 0;
}

const char *dyce_model_level_name(const dyce_model *m, size_t level) {
  return (m && level < m->levels.count) ? m->levels.names[level] : NULL;
}

uint64_t dyce_model_graph_macs(const dyce_model *m, size_t graph,
                               size_t level) {
  if (!m || graph >= m->graph_count || level >= m->levels.count) return 0;
  return m->levels.graph_macs[level * m->graph_count + graph];
}

uint64_t dyce_model_level_path_macs(const dyce_model *m, size_t graph,
                                    size_t level) {
  uint64_t macs = 0;
  if (!m || level >= m->levels.count) return 0;
  /* Sources always precede their graph, so this walk terminates. */
  for (; graph < m->graph_count; graph = m->graphs[graph].source)
    macs += m->levels.graph_macs[level * m->graph_count + graph];
  return macs;
}

int dyce_model_graph_narrowed(const dyce_model *m, size_t graph,
                              size_t level) {
  if (!m || graph >= m->graph_count || level >= m->levels.count) return 0;
  return m->levels.narrowed[level * m->graph_count + graph];
}

size_t dyce_model_graph_level(const dyce_model *m, size_t graph) {
  if (!m || graph >= m->graph_count) return DYCE_NO_LEVEL;
  return m->levels.owner[graph];
}

size_t dyce_model_level_exit(const dyce_model *m, size_t graph, size_t level) {
  if (!m || graph >= m->graph_count || level == 0 || level >= m->levels.count ||
      m->levels.owner[graph] != DYCE_NO_LEVEL)
    return DYCE_NO_GRAPH;
  char name[256];
  size_t own = DYCE_NO_GRAPH;
  snprintf(name, sizeof name, "%s_%s", m->graphs[graph].name, m->levels.names[level]);
  return dyce_model_find_graph(m, name, &own, NULL) == DYCE_OK &&
                 m->levels.owner[own] == level
             ? own
             : DYCE_NO_GRAPH;
}
