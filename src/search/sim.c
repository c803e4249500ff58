/* Building the search's view of a records split, and simulating one
 * configuration on it (see sim.h). */
#include "sim.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "../core/internal.h"

typedef struct conf_key {
  float conf;
  uint32_t index;
} conf_key;

static int by_conf_desc(const void *a, const void *b) {
  const conf_key *x = a, *y = b;
  if (x->conf != y->conf) return x->conf > y->conf ? -1 : 1;
  return x->index < y->index ? -1 : (x->index > y->index);
}

/* The records entry of `graph` at `level`: "<name>@<level name>" when the
 * level narrows the graph; the plain name when it does not, or when the
 * graph is an exit trained for that level. DYCE_NOT_FOUND otherwise. */
static dyce_status find_record(const dyce_model *m, const dyce_records *r,
                               size_t graph, size_t level, size_t *rg,
                               dyce_error *err) {
  dyce_graph_info gi;
  dyce_model_graph_info(m, graph, &gi, NULL);
  size_t owner = dyce_model_graph_level(m, graph);
  if (owner != DYCE_NO_LEVEL && owner != level)
    return dyce__fail(err, DYCE_NOT_FOUND, "'%s' belongs to another level",
                      gi.name);
  if (dyce_model_graph_narrowed(m, graph, level) && owner != level) {
    char name[300];
    snprintf(name, sizeof name, "%s@%s", gi.name,
             dyce_model_level_name(m, level));
    return dyce_records_find_graph(r, name, rg, err);
  }
  return dyce_records_find_graph(r, gi.name, rg, err);
}

/* Loads records entry `rg` of `graph` (see find_record) at `level`. */
static dyce_status load_classifier(dyce__sim_classifier *c, const dyce_model *m,
                                   const dyce_records *r, size_t split,
                                   size_t rg, size_t graph, size_t level,
                                   const uint16_t *label, size_t n,
                                   dyce_error *err) {
  const uint16_t *top1;
  dyce_records_predictions(r, split, rg, &top1, &c->conf, NULL);
  c->graph = graph;
  c->macs = dyce_model_graph_macs(m, graph, level);
  c->correct = dyce__malloc(n);
  c->order = dyce__malloc(sizeof(uint32_t) * n);
  conf_key *keys = dyce__malloc(sizeof(conf_key) * n);
  if (!c->correct || !c->order || !keys) {
    dyce__free(keys);
    return dyce__fail(err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate the search data");
  }
  for (size_t i = 0; i < n; i++) {
    c->correct[i] = top1[i] == label[i];
    keys[i].conf = c->conf[i];
    keys[i].index = (uint32_t)i;
  }
  qsort(keys, n, sizeof *keys, by_conf_desc);
  for (size_t i = 0; i < n; i++) c->order[i] = keys[i].index;
  dyce__free(keys);
  return DYCE_OK;
}

dyce_status dyce__sim_build(dyce__sim *s, const dyce_model *m,
                            const dyce_records *r, const char *split,
                            size_t level, dyce_error *err) {
  memset(s, 0, sizeof *s);
  dyce_cascade_info ci;
  size_t sp;
  dyce_split spl;
  dyce_status st;
  if ((st = dyce_model_cascade(m, &ci, err)) ||
      (st = dyce_records_find_split(r, split, &sp, err)))
    return st;
  if (level >= dyce_model_level_count(m))
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "width level %zu does not exist", level);
  dyce_records_split(r, sp, &spl, NULL);
  s->n = spl.count;
  s->stage_count = ci.stage_count;
  s->level = level;
  size_t exits = 0;
  for (size_t p = 1; p <= ci.stage_count; p++) {
    s->stage_macs[p - 1] =
        dyce_model_graph_macs(m, dyce_model_stage(m, p), level);
    exits += dyce_model_exit_count(m, p);
  }
  s->exits = dyce__calloc(exits ? exits : 1, sizeof(dyce__sim_classifier));
  s->exit_capacity = exits;
  if (!s->exits)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate the search data");
  size_t rg;
  if ((st = find_record(m, r, ci.head, level, &rg, err)) ||
      (st = load_classifier(&s->head, m, r, sp, rg, ci.head, level, spl.label,
                            s->n, err)))
    return st;
  for (size_t i = 0; i < ci.saver_count; i++, s->saver_count++) {
    size_t g = dyce_model_saver(m, i);
    if ((st = find_record(m, r, g, level, &rg, err)) ||
        (st = load_classifier(&s->savers[i], m, r, sp, rg, g, level,
                              spl.label, s->n, err)))
      return st;
  }
  /* Exits of position p fill exits[exit_start[p-1] .. exit_start[p]). */
  size_t used = 0;
  for (size_t p = 1; p <= ci.stage_count; p++) {
    for (size_t i = 0; i < dyce_model_exit_count(m, p); i++) {
      size_t g = dyce_model_exit(m, p, i);
      if (find_record(m, r, g, level, &rg, NULL) != DYCE_OK) {
        /* At level 0 every exit of the level must be recorded, as before
         * width levels existed; elsewhere an exit may not be trained. */
        size_t owner = dyce_model_graph_level(m, g);
        if (level == 0 && owner == DYCE_NO_LEVEL)
          return find_record(m, r, g, level, &rg, err);
        continue;
      }
      if ((st = load_classifier(&s->exits[used], m, r, sp, rg, g, level,
                                spl.label, s->n, err)))
        return st;
      used++;
    }
    s->exit_start[p] = used;
  }
  dyce__sim_config none;
  dyce__sim_config_empty(&none);
  double correct, macs;
  dyce__sim_evaluate(s, &none, &correct, &macs);
  s->backbone_accuracy = correct / (double)s->n;
  s->backbone_macs = macs / (double)s->n;
  return DYCE_OK;
}

static void free_classifier(dyce__sim_classifier *c) {
  dyce__free(c->correct);
  dyce__free(c->order);
}

void dyce__sim_free(dyce__sim *s) {
  free_classifier(&s->head);
  for (size_t i = 0; i < s->saver_count; i++) free_classifier(&s->savers[i]);
  for (size_t i = 0; s->exits && i < s->exit_capacity; i++)
    free_classifier(&s->exits[i]); /* unused entries are zero */
  dyce__free(s->exits);
  memset(s, 0, sizeof *s);
}

size_t dyce__sim_choices(const dyce__sim *s, size_t q) {
  if (q == 0) return s->saver_count;
  return s->exit_start[q] - s->exit_start[q - 1];
}

const dyce__sim_classifier *dyce__sim_classifier_at(const dyce__sim *s,
                                                    size_t q, int i) {
  if (i < 0) return NULL;
  return q == 0 ? &s->savers[i] : &s->exits[s->exit_start[q - 1] + (size_t)i];
}

void dyce__sim_config_empty(dyce__sim_config *c) {
  for (size_t q = 0; q <= DYCE_MAX_POSITIONS; q++) {
    c->use[q] = -1;
    c->threshold[q] = 1.0f;
  }
}

void dyce__sim_config_drop_silent(dyce__sim_config *c) {
  for (size_t q = 0; q <= DYCE_MAX_POSITIONS; q++)
    if (c->threshold[q] >= 1.0f) {
      c->use[q] = -1;
      c->threshold[q] = 1.0f;
    }
}

void dyce__sim_config_to_public(const dyce__sim *s, const dyce__sim_config *c,
                                dyce_config *out) {
  dyce_config_backbone(NULL, out);
  out->level = s->level;
  const dyce__sim_classifier *sv = dyce__sim_classifier_at(s, 0, c->use[0]);
  if (sv) {
    out->saver = sv->graph;
    out->saver_threshold = c->threshold[0];
  }
  for (size_t q = 1; q <= s->stage_count; q++) {
    const dyce__sim_classifier *e = dyce__sim_classifier_at(s, q, c->use[q]);
    if (!e) continue;
    out->exit[q - 1] = e->graph;
    out->threshold[q - 1] = c->threshold[q];
  }
}

int dyce__sim_config_from_public(const dyce__sim *s, const dyce_config *cfg,
                                 dyce__sim_config *c) {
  dyce__sim_config_empty(c);
  for (size_t q = 0; q <= s->stage_count; q++) {
    size_t want = q == 0 ? cfg->saver : cfg->exit[q - 1];
    if (want == DYCE_NO_GRAPH) continue;
    for (size_t i = 0; i < dyce__sim_choices(s, q); i++)
      if (dyce__sim_classifier_at(s, q, (int)i)->graph == want)
        c->use[q] = (int)i;
    if (c->use[q] < 0) return 1;
    c->threshold[q] = q == 0 ? cfg->saver_threshold : cfg->threshold[q - 1];
  }
  return 0;
}

void dyce__sim_evaluate(const dyce__sim *s, const dyce__sim_config *c,
                        double *correct, double *macs) {
  double total_correct = 0, total_macs = 0;
  for (size_t i = 0; i < s->n; i++) {
    uint64_t cost = 0;
    const dyce__sim_classifier *answer = NULL;
    const dyce__sim_classifier *sv = dyce__sim_classifier_at(s, 0, c->use[0]);
    if (sv) {
      cost += sv->macs;
      if (sv->conf[i] > c->threshold[0]) answer = sv;
    }
    for (size_t q = 1; !answer && q <= s->stage_count; q++) {
      cost += s->stage_macs[q - 1];
      const dyce__sim_classifier *e = dyce__sim_classifier_at(s, q, c->use[q]);
      if (!e) continue;
      cost += e->macs;
      if (e->conf[i] > c->threshold[q]) answer = e;
    }
    if (!answer) {
      answer = &s->head;
      cost += s->head.macs;
    }
    total_correct += answer->correct[i];
    total_macs += (double)cost;
  }
  *correct = total_correct;
  *macs = total_macs;
}
