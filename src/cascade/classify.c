/*
 * dyce_session_classify: the cascade. Saver (if enabled) -> stage 1 ->
 * exit 1 (if enabled) -> stage 2 -> ... -> head; the first answer whose
 * confidence is strictly greater than its threshold is final. Graphs that
 * already ran for the current input are reused (their outputs persist in
 * the arena), so MACs count only what this call ran.
 *
 * Anytime mode: before each graph, a passed deadline or a MAC budget the
 * graph would exceed stops the cascade, and the latest answer computed is
 * returned with budget_exhausted set. The first answer is always computed,
 * so a result always exists.
 */
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "../runtime/session.h"

typedef struct walk {
  dyce_session *s;
  const dyce_classify_options *opt;
  double t0;
  dyce_result *res;
  int answered;
} walk;

/* Confidence of one classifier output under `kind`; also its top class
 * and top probability. */
static float confidence_of(const float *y, size_t k, int is_prob,
                          dyce_confidence kind, size_t *top, float *p1) {
  size_t best = 0;
  for (size_t i = 1; i < k; i++)
    if (y[i] > y[best]) best = i;
  double sum = 0.0, second = 0.0, plogp = 0.0;
  for (size_t i = 0; i < k; i++) {
    double e = is_prob ? (double)y[i] : exp((double)y[i] - y[best]);
    sum += e;
    if (i != best && e > second) second = e;
  }
  for (size_t i = 0; i < k && kind == DYCE_CONFIDENCE_ENTROPY; i++) {
    double p = (is_prob ? (double)y[i] : exp((double)y[i] - y[best])) / sum;
    if (p > 0.0) plogp += p * log(p);
  }
  double top_p = (is_prob ? (double)y[best] : 1.0) / sum;
  *top = best;
  *p1 = (float)top_p;
  switch (kind) {
    case DYCE_CONFIDENCE_MARGIN: return (float)(top_p - second / sum);
    case DYCE_CONFIDENCE_ENTROPY: return (float)(1.0 + plogp / log((double)k));
    default: return (float)top_p;
  }
}

/* 1 when the budget says to stop before running `graph` (which costs
 * `macs` more); never before the first answer. */
static int out_of_budget(walk *w, uint64_t macs) {
  if (!w->answered || !w->opt) return 0;
  if (w->opt->mac_budget && w->res->macs + macs > w->opt->mac_budget) return 1;
  return w->opt->deadline_ms > 0 && dyce__now_ms() - w->t0 > w->opt->deadline_ms;
}

/* Runs `graph` unless it already ran; returns 0 when the budget stopped. */
static int run(walk *w, size_t graph) {
  dyce_session *s = w->s;
  if (dyce_session_has_run(s, graph)) return 1;
  uint64_t macs = dyce_model_graph_macs(dyce__session_model(s), graph,
                                        dyce__session_config(s)->level);
  if (out_of_budget(w, macs)) {
    w->res->budget_exhausted = 1;
    return 0;
  }
  dyce__session_run_graph(s, graph);
  w->res->macs += macs;
  return 1;
}

/* Runs a classifier; returns 1 when its answer is final (confident enough
 * or `final`), 0 to go on, -1 when the budget stopped. */
static int answer(walk *w, size_t graph, size_t position, float threshold,
                  int final) {
  dyce_session *s = w->s;
  if (!run(w, graph)) return -1;
  const dyce_model *m = dyce__session_model(s);
  const dyce__graph *g = &m->graphs[graph];
  const float *y = dyce__session_graph_output(s, graph);
  int is_prob = dyce__graph_gives_probabilities(g);
  dyce_result *r = w->res;
  r->confidence = confidence_of(y, m->roles.class_count, is_prob,
                                dyce__session_config(s)->confidence, &r->index,
                                &r->score);
  r->graph = graph;
  r->position = position;
  w->answered = 1;
  return final || r->confidence > threshold;
}

dyce_status dyce_session_classify(dyce_session *s,
                                  const dyce_classify_options *opt,
                                  dyce_result *out, dyce_error *err) {
  if (!s || !out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  const dyce__roles *c = &dyce__session_model(s)->roles;
  if (!c->present)
    return dyce__fail(err, DYCE_NOT_FOUND, "the package has no cascade (no 'head' graph)");
  if (!dyce__session_has_input(s))
    return dyce__fail(err, DYCE_BAD_STATE, "no input has been set");
  if (opt && (!(opt->deadline_ms >= 0.0) || !isfinite(opt->deadline_ms)))
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "deadline must be a finite number of ms >= 0");
  memset(out, 0, sizeof *out);
  walk w = {s, opt, dyce__now_ms(), out, 0};
  const dyce_config *cfg = dyce__session_config(s);
  int done = 0;
  if (cfg->saver != DYCE_NO_GRAPH)
    done = answer(&w, cfg->saver, 0, cfg->saver_threshold, 0);
  for (size_t k = 1; !done && k <= c->stage_count; k++) {
    if (!run(&w, c->stages[k - 1])) break;
    if (cfg->exit[k - 1] != DYCE_NO_GRAPH)
      done = answer(&w, cfg->exit[k - 1], k, cfg->threshold[k - 1], 0);
  }
  if (!done && !out->budget_exhausted)
    answer(&w, c->head, c->stage_count + 1, 0.0f, 1);
  out->ms = dyce__now_ms() - w.t0;
  return dyce__ok(err);
}
