/*
 * A session's configuration: the default (the backbone alone) and
 * switching to another, which is a struct copy of a configuration the
 * model layer checked (model/configs.c) and never re-plans memory.
 */
#include <string.h>

#include "../core/internal.h"
#include "session_state.h"

void dyce_config_backbone(const dyce_model *m, dyce_config *out) {
  (void)m; /* the same for every model; kept for the public signature */
  memset(out, 0, sizeof *out);
  out->saver = DYCE_NO_GRAPH;
  out->saver_threshold = 1.0f;
  out->confidence = DYCE_CONFIDENCE_MAX_SOFTMAX;
  for (size_t p = 0; p < DYCE_MAX_POSITIONS; p++) {
    out->exit[p] = DYCE_NO_GRAPH;
    out->threshold[p] = 1.0f;
  }
}

/* Makes `config` (already checked) current. Outputs computed at another
 * width level are stale for the current input and will be recomputed. */
static void switch_to(dyce_session *s, const dyce_config *config) {
  if (config->level != s->config.level)
    for (size_t g = 0; g < s->model->graph_count; g++) s->has_run[g] = 0;
  s->config = *config;
}

dyce_status dyce_session_set_config(dyce_session *s, const dyce_config *cfg,
                                    dyce_error *err) {
  if (!s) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "session is NULL");
  dyce_status st = dyce_config_check(s->model, cfg, err);
  if (st) return st;
  switch_to(s, cfg);
  return dyce__ok(err);
}

dyce_status dyce_session_use_config(dyce_session *s, size_t index,
                                    dyce_error *err) {
  if (!s) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "session is NULL");
  if (index >= s->model->config_count)
    return dyce__fail(err, DYCE_NOT_FOUND,
                      "configuration %zu does not exist (the package has %zu)",
                      index, s->model->config_count);
  /* Validated at load: a plain copy. */
  switch_to(s, &s->model->configs[index].config);
  return dyce__ok(err);
}
