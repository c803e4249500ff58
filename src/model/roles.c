/*
 * Cascade roles from graph names (dyce.h, "Cascade"): saver<i>, stage<k>,
 * exit<p>_<type>, head. Names that match a pattern must also have the
 * matching source, so a package cannot claim a role it cannot play. Also
 * the public accessors of the roles.
 */
#include <string.h>

#include "../core/internal.h"
#include "model.h"

/* Parses the decimal number at the start of `s` (no sign, no leading
 * zeros except "0"); returns characters read, 0 if none or too large. */
static size_t parse_index(const char *s, size_t *value) {
  size_t n = 0, v = 0;
  while (s[n] >= '0' && s[n] <= '9' && n < 4) v = v * 10 + (size_t)(s[n++] - '0');
  if (n == 0 || (n > 1 && s[0] == '0') || (s[n] >= '0' && s[n] <= '9')) return 0;
  *value = v;
  return n;
}

typedef enum { ROLE_NONE, ROLE_HEAD, ROLE_STAGE, ROLE_SAVER, ROLE_EXIT } role;

static role role_of(const char *name, size_t *number) {
  size_t n;
  if (strcmp(name, "head") == 0) return ROLE_HEAD;
  if (strncmp(name, "stage", 5) == 0 && (n = parse_index(name + 5, number)) &&
      name[5 + n] == '\0')
    return ROLE_STAGE;
  if (strncmp(name, "saver", 5) == 0 && (n = parse_index(name + 5, number)) &&
      name[5 + n] == '\0')
    return ROLE_SAVER;
  if (strncmp(name, "exit", 4) == 0 && (n = parse_index(name + 4, number)) &&
      name[4 + n] == '_' && name[5 + n] != '\0')
    return ROLE_EXIT;
  return ROLE_NONE;
}

/* Classifier graphs end in a flat float32 vector of the same class count
 * (an int8 graph dequantizes its logits: the cascade reads floats). */
static dyce_status check_classifier(dyce_model *m, size_t g, dyce_error *err) {
  const dyce__graph *gr = &m->graphs[g];
  dyce__shape out = gr->tensors[gr->output];
  if (out.h != 1 || out.w != 1 || out.c < 2)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "cascade: '%s' must output a flat vector of class scores, "
                      "not %ux%ux%u",
                      gr->name, out.h, out.w, out.c);
  if (dyce__is_q8(out))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "cascade: '%s' outputs int8 class scores; a classifier "
                      "ends in float32 (a dequantize node)",
                      gr->name);
  if (m->roles.class_count == 0) m->roles.class_count = out.c;
  if (out.c != m->roles.class_count)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "cascade: '%s' outputs %u classes, others %zu", gr->name,
                      out.c, m->roles.class_count);
  return DYCE_OK;
}

static dyce_status find_stages_and_head(dyce_model *m, dyce_error *err) {
  dyce__roles *c = &m->roles;
  int have_head = 0;
  for (size_t g = 0; g < m->graph_count; g++) {
    size_t k;
    role r = role_of(m->graphs[g].name, &k);
    if (r == ROLE_HEAD) {
      c->head = g;
      have_head = 1;
    } else if (r == ROLE_STAGE) {
      if (k < 1 || k > DYCE_MAX_POSITIONS)
        return dyce__fail(err, DYCE_LIMIT, "cascade: stage%zu is outside 1..%d",
                          k, DYCE_MAX_POSITIONS);
      c->stages[k - 1] = g + 1; /* 0 marks "absent" while collecting */
      if (k > c->stage_count) c->stage_count = k;
    }
  }
  for (size_t k = 1; k <= c->stage_count; k++) {
    if (!c->stages[k - 1])
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "cascade: stage%zu exists but stage%zu does not",
                        c->stage_count, k);
    size_t g = --c->stages[k - 1];
    size_t want = k == 1 ? DYCE_NO_GRAPH : c->stages[k - 2];
    if (m->graphs[g].source != want)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "cascade: stage%zu must read %s", k,
                        k == 1 ? "the input" : m->graphs[want].name);
  }
  if (!have_head) {
    if (m->graph_count != 1 || c->stage_count) return DYCE_OK; /* no cascade */
    /* A lone graph is its own head only when it is a classifier; any
     * other single-graph model simply has no cascade. */
    const dyce__graph *g = &m->graphs[0];
    dyce__shape out = g->tensors[g->output];
    if (out.h != 1 || out.w != 1 || out.c < 2) return DYCE_OK;
    c->head = 0;
  }
  size_t want = c->stage_count ? c->stages[c->stage_count - 1] : DYCE_NO_GRAPH;
  if (have_head && m->graphs[c->head].source != want)
    return dyce__fail(err, DYCE_BAD_FORMAT, "cascade: head must read %s",
                      want == DYCE_NO_GRAPH ? "the input" : m->graphs[want].name);
  c->present = 1;
  return check_classifier(m, c->head, err);
}

static dyce_status find_savers_and_exits(dyce_model *m, dyce_error *err) {
  dyce__roles *c = &m->roles;
  size_t counts[DYCE_MAX_POSITIONS] = {0}, total = 0;
  dyce_status s;
  for (size_t g = 0; g < m->graph_count; g++) {
    size_t k;
    const dyce__graph *gr = &m->graphs[g];
    role r = role_of(gr->name, &k);
    if (r == ROLE_SAVER) {
      if (c->saver_count == DYCE_MAX_SAVERS)
        return dyce__fail(err, DYCE_LIMIT, "cascade: more than %d savers",
                          DYCE_MAX_SAVERS);
      if (gr->source != DYCE_NO_GRAPH)
        return dyce__fail(err, DYCE_BAD_FORMAT,
                          "cascade: saver '%s' must read the input", gr->name);
      if ((s = check_classifier(m, g, err))) return s;
      c->savers[c->saver_count++] = g;
    } else if (r == ROLE_EXIT) {
      if (k < 1 || k > c->stage_count || gr->source != c->stages[k - 1])
        return dyce__fail(err, DYCE_BAD_FORMAT,
                          "cascade: exit '%s' must read stage%zu", gr->name, k);
      if ((s = check_classifier(m, g, err))) return s;
      counts[k - 1]++;
      total++;
    }
  }
  c->exit_graphs = dyce__calloc(total, sizeof(size_t));
  if (!c->exit_graphs)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the cascade");
  for (size_t p = 0; p < c->stage_count; p++)
    c->exit_start[p + 1] = c->exit_start[p] + counts[p];
  size_t fill[DYCE_MAX_POSITIONS] = {0};
  for (size_t g = 0; g < m->graph_count; g++) {
    size_t k;
    if (role_of(m->graphs[g].name, &k) == ROLE_EXIT)
      c->exit_graphs[c->exit_start[k - 1] + fill[k - 1]++] = g;
  }
  return DYCE_OK;
}

dyce_status dyce__roles_build(dyce_model *m, dyce_error *err) {
  dyce_status s = find_stages_and_head(m, err);
  if (s || !m->roles.present) return s;
  return find_savers_and_exits(m, err);
}

void dyce__roles_free(dyce__roles *r) { dyce__free(r->exit_graphs); }

/* The public accessors of the roles (dyce.h, "Cascade"). */

dyce_status dyce_model_cascade(const dyce_model *m, dyce_cascade_info *out,
                               dyce_error *err) {
  if (!m || !out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  const dyce__roles *c = &m->roles;
  if (!c->present)
    return dyce__fail(err, DYCE_NOT_FOUND, "the package has no cascade (no 'head' graph)");
  out->stage_count = c->stage_count;
  out->saver_count = c->saver_count;
  out->head = c->head;
  out->config_count = m->config_count;
  return dyce__ok(err);
}

size_t dyce_model_stage(const dyce_model *m, size_t k) {
  return (m && k >= 1 && k <= m->roles.stage_count) ? m->roles.stages[k - 1]
                                                    : DYCE_NO_GRAPH;
}

size_t dyce_model_saver(const dyce_model *m, size_t i) {
  return (m && i < m->roles.saver_count) ? m->roles.savers[i] : DYCE_NO_GRAPH;
}

size_t dyce_model_exit_count(const dyce_model *m, size_t p) {
  if (!m || p < 1 || p > m->roles.stage_count) return 0;
  return m->roles.exit_start[p] - m->roles.exit_start[p - 1];
}

size_t dyce_model_exit(const dyce_model *m, size_t p, size_t i) {
  if (i >= dyce_model_exit_count(m, p)) return DYCE_NO_GRAPH;
  return m->roles.exit_graphs[m->roles.exit_start[p - 1] + i];
}
