/*
 * DyCE's configuration searches (onepass, circular, samethres) with the
 * lambda sweep and the Pareto list, and TinySaver's saver ranking, over
 * recorded predictions (docs/SEARCH.md). Configurations are searched on
 * one split and measured on another, as the papers do.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../core/internal.h"
#include "sweep.h"

void dyce_search_defaults(dyce_search_options *o) {
  memset(o, 0, sizeof *o);
  o->method = DYCE_SEARCH_ONEPASS;
  o->search_split = "train";
  o->eval_split = "val";
  o->lambda_min = 0.5;
  o->lambda_max = 1.05;
  o->lambda_step = 0.001;
  o->use_savers = 1;
  o->level = DYCE_NO_LEVEL;
}

/* Positions the search may change: the saver (0) only when allowed. */
static size_t first_position(const dyce_search_options *o) {
  return o->use_savers ? 0 : 1;
}

static void commit(dyce__sweeper *w, dyce__sim_config *c, size_t q, int use,
                   float t) {
  c->use[q] = use;
  c->threshold[q] = t;
  dyce__sim_config_drop_silent(c);
  dyce__sweeper_set_config(w, c);
}

/* Best option at the prepared position q: -1 (none) or a classifier. */
static dyce__sweep_result best_at(dyce__sweeper *w, size_t q, int *use) {
  dyce__sweep_result best = dyce__sweep_best(w, NULL);
  *use = -1;
  for (size_t i = 0; i < dyce__sim_choices(w->s, q); i++) {
    dyce__sweep_result r =
        dyce__sweep_best(w, dyce__sim_classifier_at(w->s, q, (int)i));
    if (r.j < best.j) {
      best = r;
      *use = (int)i;
    }
  }
  return best;
}

static void onepass(dyce__sweeper *w, const dyce_search_options *o,
                    dyce__sim_config *c) {
  dyce__sim_config_empty(c);
  dyce__sweeper_set_config(w, c);
  for (size_t q = first_position(o); q <= w->s->stage_count; q++) {
    int use;
    dyce__sweep_prepare(w, c, q);
    dyce__sweep_result r = best_at(w, q, &use);
    commit(w, c, q, use, r.threshold);
  }
}

/* Best single change per round (over every position), until none lowers
 * the objective below `current`, the objective of `c` as it stands. */
static void climb(dyce__sweeper *w, const dyce_search_options *o,
                  dyce__sim_config *c, double current) {
  size_t rounds = 4 * (w->s->stage_count + 1);
  for (size_t round = 0; round < rounds; round++) {
    size_t best_q = 0;
    int best_use = -1;
    dyce__sweep_result best = {current - 1e-12, 1.0f};
    int found = 0;
    for (size_t q = first_position(o); q <= w->s->stage_count; q++) {
      int use;
      dyce__sweep_prepare(w, c, q);
      dyce__sweep_result r = best_at(w, q, &use);
      if (r.j < best.j &&
          (use != c->use[q] || r.threshold != c->threshold[q])) {
        best = r;
        best_q = q;
        best_use = use;
        found = 1;
      }
    }
    if (!found) break;
    commit(w, c, best_q, best_use, best.threshold);
    current = best.j;
  }
}

static void circular(dyce__sweeper *w, const dyce_search_options *o,
                     dyce__sim_config *c) {
  dyce__sim_config_empty(c);
  dyce__sweeper_set_config(w, c);
  size_t q0 = first_position(o);
  dyce__sweep_prepare(w, c, q0);
  climb(w, o, c,
        dyce__sweep_best(w, dyce__sim_classifier_at(w->s, q0, c->use[q0])).j);
}

/* Room for one more of the `n` items of `size` bytes at *items (*cap
 * allocated; doubling from 64). 0 when out of memory. */
static int make_room(void **items, size_t n, size_t *cap, size_t size) {
  if (n < *cap) return 1;
  size_t more = *cap ? *cap * 2 : 64;
  void *bigger = dyce__malloc(more * size);
  if (!bigger) return 0;
  if (n) memcpy(bigger, *items, n * size);
  dyce__free(*items);
  *items = bigger;
  *cap = more;
  return 1;
}

/* A growing list of candidate points. */
typedef struct point_list {
  dyce_search_point *p;
  size_t n, cap;
} point_list;

static int add_point(point_list *ps, const dyce__sim *eval,
                     const dyce__sim_config *c, const dyce__sim *search,
                     double lambda) {
  void *items = ps->p;
  if (!make_room(&items, ps->n, &ps->cap, sizeof *ps->p)) return 0;
  ps->p = items;
  dyce_search_point *pt = &ps->p[ps->n++];
  double correct, macs;
  dyce__sim_config kept = *c;
  dyce__sim_config_drop_silent(&kept);
  dyce__sim_evaluate(eval, &kept, &correct, &macs);
  dyce__sim_config_to_public(search, &kept, &pt->config);
  pt->accuracy = correct / (double)eval->n;
  pt->mean_macs = macs / (double)eval->n;
  pt->lambda = lambda;
  return 1;
}

/* MACs up, accuracy down, then a total order on the rest (references
 * first, lambda up, configuration bytes), so that every libc's qsort
 * gives the same list. */
static int by_macs(const void *a, const void *b) {
  const dyce_search_point *x = a, *y = b;
  if (x->mean_macs != y->mean_macs) return x->mean_macs < y->mean_macs ? -1 : 1;
  if (x->accuracy != y->accuracy) return x->accuracy > y->accuracy ? -1 : 1;
  int xr = isnan(x->lambda), yr = isnan(y->lambda);
  if (xr != yr) return xr ? -1 : 1;
  if (!xr && x->lambda != y->lambda) return x->lambda < y->lambda ? -1 : 1;
  return memcmp(&x->config, &y->config, sizeof x->config);
}

/* Keeps points whose accuracy strictly increases with MACs. */
static void pareto(point_list *ps) {
  qsort(ps->p, ps->n, sizeof *ps->p, by_macs);
  size_t kept = 0;
  for (size_t i = 0; i < ps->n; i++)
    if (kept == 0 || ps->p[i].accuracy > ps->p[kept - 1].accuracy)
      ps->p[kept++] = ps->p[i];
  ps->n = kept;
}

/* The configurations a level's lambda sweep found (consecutive repeats
 * dropped), where the budget fill starts from. */
typedef struct config_list {
  dyce__sim_config *c;
  size_t n, cap;
} config_list;

static int add_config(config_list *cs, const dyce__sim_config *c) {
  if (cs->n && memcmp(&cs->c[cs->n - 1], c, sizeof *c) == 0) return 1;
  void *items = cs->c;
  if (!make_room(&items, cs->n, &cs->cap, sizeof *cs->c)) return 0;
  cs->c = items;
  cs->c[cs->n++] = *c;
  return 1;
}

/* Progress through one level's search: `units` steps (the lambdas, then
 * the budgets) of level `level` of `levels`. */
typedef struct level_progress {
  size_t level, levels, units;
} level_progress;

static void report(const dyce_search_options *o, const level_progress *p,
                   size_t units_done) {
  if (o->progress)
    o->progress(o->progress_context,
                ((double)p->level + (double)units_done / (double)p->units) /
                    (double)p->levels);
}

/* The budget fill (dyce_search_options.budgets). The lambda sweep
 * minimises a weighted sum of error and cost, so it finds only points on
 * the convex hull of the (MACs, accuracy) cloud; where the hull has a
 * long edge, the Pareto list has a gap a page's frame budget can fall
 * in. For each budget, geometric between the cheapest and the dearest
 * configuration the sweep found, the circular search maximises correct
 * answers within that many mean MACs (search split), starting from the
 * most accurate found configuration that fits. Returns 0 when out of
 * memory. */
static int budget_fill(dyce__sweeper *w, const dyce_search_options *o,
                       const config_list *found, const dyce__sim *eval,
                       point_list *ps, const level_progress *progress,
                       size_t units_done) {
  const dyce__sim *s = w->s;
  double *correct = dyce__malloc((found->n + 1) * sizeof *correct);
  double *macs = dyce__malloc((found->n + 1) * sizeof *macs);
  double lo = INFINITY, hi = 0;
  int ok = correct && macs;
  for (size_t i = 0; ok && i < found->n; i++) {
    dyce__sim_evaluate(s, &found->c[i], &correct[i], &macs[i]);
    lo = fmin(lo, macs[i]);
    hi = fmax(hi, macs[i]);
  }
  for (size_t k = 1; ok && lo > 0 && hi > lo && k <= o->budgets; k++) {
    double budget = lo * pow(hi / lo, (double)k / (double)(o->budgets + 1));
    size_t start = found->n;
    for (size_t i = 0; i < found->n; i++)
      if (macs[i] <= budget &&
          (start == found->n || correct[i] > correct[start] ||
           (correct[i] == correct[start] && macs[i] < macs[start])))
        start = i;
    if (start < found->n) {
      dyce__sim_config c = found->c[start];
      w->budget = budget;
      dyce__sweeper_set_config(w, &c);
      climb(w, o, &c, dyce__sweep_objective(w, correct[start], macs[start]));
      w->budget = 0;
      ok = add_point(ps, eval, &c, s, NAN);
    }
    report(o, progress, units_done + k);
  }
  dyce__free(correct);
  dyce__free(macs);
  return ok;
}

/* Exit type of an exit graph: the text after "exit<p>_". */
static const char *exit_type(const dyce_model *m, size_t graph) {
  dyce_graph_info gi;
  dyce_model_graph_info(m, graph, &gi, NULL);
  const char *u = strchr(gi.name, '_');
  return u ? u + 1 : gi.name;
}

/* samethres: for each exit type, that type at every position that has it,
 * one shared threshold over the grid. */
static int samethres(const dyce_model *m, const dyce__sim *search,
                     const dyce__sim *eval, point_list *ps) {
  for (size_t e = 0; e < search->exit_start[search->stage_count]; e++) {
    const char *type = exit_type(m, search->exits[e].graph);
    int seen = 0; /* handle each type once, at its first exit */
    for (size_t f = 0; f < e; f++)
      seen |= strcmp(exit_type(m, search->exits[f].graph), type) == 0;
    if (seen) continue;
    for (int j = 1000; j >= -1; j--) {
      dyce__sim_config c;
      dyce__sim_config_empty(&c);
      for (size_t q = 1; q <= search->stage_count; q++)
        for (size_t i = 0; i < dyce__sim_choices(search, q); i++)
          if (strcmp(exit_type(
                         m, dyce__sim_classifier_at(search, q, (int)i)->graph),
                     type) == 0) {
            c.use[q] = (int)i;
            c.threshold[q] = j >= 0 ? (float)j / 1000.0f : -1.0f;
          }
      if (!add_point(ps, eval, &c, search, NAN)) return 0;
    }
  }
  return 1;
}

/* References: the backbone, and each saver answering alone. */
static int references(const dyce__sim *search, const dyce__sim *eval,
                      const dyce_search_options *o, point_list *ps) {
  dyce__sim_config c;
  dyce__sim_config_empty(&c);
  if (!add_point(ps, eval, &c, search, NAN)) return 0;
  for (size_t i = 0; o->use_savers && i < search->saver_count; i++) {
    c.use[0] = (int)i;
    c.threshold[0] = -1.0f;
    if (!add_point(ps, eval, &c, search, NAN)) return 0;
  }
  return 1;
}

static dyce_status check_options(const dyce_model *m,
                                 const dyce_search_options *o,
                                 dyce_error *err) {
  if ((unsigned)o->method > DYCE_SEARCH_BOTH)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "unknown search method %d",
                      (int)o->method);
  if (!o->search_split || !o->eval_split)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "splits must be named");
  if (o->level != DYCE_NO_LEVEL && o->level >= dyce_model_level_count(m))
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "width level %zu does not exist (the model has %zu)",
                      o->level, dyce_model_level_count(m));
  if (o->budgets > 4096)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "%zu budgets asked for; at most 4096", o->budgets);
  if (!(o->lambda_step > 0) || !(o->lambda_max >= o->lambda_min) ||
      (o->lambda_max - o->lambda_min) / o->lambda_step > 1e6)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "lambda sweep %g..%g step %g is invalid or too long",
                      o->lambda_min, o->lambda_max, o->lambda_step);
  return DYCE_OK;
}

/* Runs the search at one width level, adding its candidates to `ps`;
 * `done` and `total` scale the progress reports over all levels. */
static dyce_status search_level(const dyce_model *m, const dyce_records *r,
                                const dyce_search_options *o, size_t level,
                                point_list *ps, size_t done, size_t total,
                                dyce_error *err) {
  dyce__sim search, eval;
  dyce__sweeper w;
  dyce_status st;
  memset(&w, 0, sizeof w);
  memset(&eval, 0, sizeof eval);
  if ((st = dyce__sim_build(&search, m, r, o->search_split, level, err)) ||
      (st = dyce__sim_build(&eval, m, r, o->eval_split, level, err)))
    goto done;
  if (!dyce__sweeper_init(&w, &search) || !references(&search, &eval, o, ps)) {
    st = dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the search");
    goto done;
  }
  if (o->method == DYCE_SEARCH_SAMETHRES) {
    if (!samethres(m, &search, &eval, ps))
      st = dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the search");
    goto done;
  }
  size_t steps = (size_t)((o->lambda_max - o->lambda_min) / o->lambda_step) + 1;
  const level_progress progress = {done, total, steps + o->budgets};
  config_list found = {0};
  for (size_t k = 0; k < steps; k++) {
    dyce__sim_config c;
    w.lambda = o->lambda_min + (double)k * o->lambda_step;
    if (w.lambda >= o->lambda_max && k > 0) break;
    int ok = 1;
    if (o->method != DYCE_SEARCH_CIRCULAR) {
      onepass(&w, o, &c);
      ok = add_point(ps, &eval, &c, &search, w.lambda) && add_config(&found, &c);
    }
    if (ok && o->method != DYCE_SEARCH_ONEPASS) {
      circular(&w, o, &c);
      ok = add_point(ps, &eval, &c, &search, w.lambda) && add_config(&found, &c);
    }
    if (!ok) {
      st = dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the search");
      break;
    }
    report(o, &progress, k + 1);
  }
  if (!st && o->budgets &&
      !budget_fill(&w, o, &found, &eval, ps, &progress, steps))
    st = dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the search");
  dyce__free(found.c);
done:
  dyce__sweeper_free(&w);
  dyce__sim_free(&search);
  dyce__sim_free(&eval);
  return st;
}

dyce_status dyce_search(const dyce_model *m, const dyce_records *r,
                        const dyce_search_options *o, dyce_search_point **out,
                        size_t *count, dyce_error *err) {
  if (!m || !r || !o || !out || !count)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  *out = NULL;
  *count = 0;
  dyce_status st = check_options(m, o, err);
  if (st) return st;
  point_list ps = {0};
  size_t first = o->level == DYCE_NO_LEVEL ? 0 : o->level;
  size_t last =
      o->level == DYCE_NO_LEVEL ? dyce_model_level_count(m) - 1 : o->level;
  for (size_t level = first; !st && level <= last; level++)
    st =
        search_level(m, r, o, level, &ps, level - first, last - first + 1, err);
  if (!st) {
    pareto(&ps);
    *out = ps.p;
    *count = ps.n;
    ps.p = NULL;
    st = dyce__ok(err);
  }
  dyce__free(ps.p);
  return st;
}

void dyce_search_free_points(dyce_search_point *points) { dyce__free(points); }

dyce_status dyce_search_evaluate(const dyce_model *m, const dyce_records *r,
                                 const char *split, const dyce_config *cfg,
                                 double *accuracy, double *mean_macs,
                                 dyce_error *err) {
  if (!m || !r || !split || !cfg || !accuracy || !mean_macs)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  dyce_status st = dyce_config_check(m, cfg, err);
  if (st) return st;
  dyce__sim s;
  if ((st = dyce__sim_build(&s, m, r, split, cfg->level, err))) {
    dyce__sim_free(&s);
    return st;
  }
  dyce__sim_config c;
  if (dyce__sim_config_from_public(&s, cfg, &c)) {
    dyce__sim_free(&s);
    return dyce__fail(err, DYCE_NOT_FOUND,
                      "the records lack a graph of the configuration");
  }
  double correct, macs;
  dyce__sim_evaluate(&s, &c, &correct, &macs);
  *accuracy = correct / (double)s.n;
  *mean_macs = macs / (double)s.n;
  dyce__sim_free(&s);
  return dyce__ok(err);
}

dyce_status dyce_search_rank_savers(const dyce_model *m, const dyce_records *r,
                                    const char *split,
                                    dyce_saver_score scores[DYCE_MAX_SAVERS],
                                    size_t *count, size_t *best,
                                    dyce_error *err) {
  if (!m || !r || !split || !scores || !count || !best)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  dyce__sim s;
  dyce_status st = dyce__sim_build(&s, m, r, split, 0, err);
  if (st) {
    dyce__sim_free(&s);
    return st;
  }
  *count = s.saver_count;
  *best = DYCE_NO_GRAPH;
  double best_dc = INFINITY;
  for (size_t i = 0; i < s.saver_count; i++) {
    const dyce__sim_classifier *sv = &s.savers[i];
    double saver_ok = 0, head_ok = 0, accepted = 0, e = 0;
    float t_ok = 1.0f;
    size_t k = 0;
    /* Sweep t down from 1: stop at the first t where the saver is worse
     * than the head on the samples it accepts. */
    for (int j = 1000; j >= 0; j--) {
      float t = (float)j / 1000.0f;
      for (; k < s.n && sv->conf[sv->order[k]] > t; k++) {
        uint32_t n = sv->order[k];
        saver_ok += sv->correct[n];
        head_ok += s.head.correct[n];
        accepted++;
      }
      if (saver_ok < head_ok) break;
      e = accepted / (double)s.n;
      t_ok = t;
    }
    scores[i].graph = sv->graph;
    scores[i].threshold = t_ok;
    scores[i].r = (double)sv->macs / s.backbone_macs;
    scores[i].e = e;
    scores[i].delta_c = scores[i].r - e;
    if (scores[i].delta_c < best_dc) {
      best_dc = scores[i].delta_c;
      *best = sv->graph;
    }
  }
  dyce__sim_free(&s);
  return dyce__ok(err);
}
