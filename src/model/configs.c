/*
 * Configurations: the CONF section (docs/FORMAT.md), validation of a
 * configuration against the cascade roles and width levels, and the public
 * accessors of the shipped ones. Setting a configuration on a session
 * (runtime/config.c) is a struct copy of a configuration checked here.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../core/internal.h"
#include "../core/reader.h"
#include "model.h"

#define MAX_CONFIGS 4096u
#define CONF_FIXED 16u
#define CONF_RECORD_FIXED 64u

static int is_saver(const dyce__roles *c, size_t g) {
  for (size_t i = 0; i < c->saver_count; i++)
    if (c->savers[i] == g) return 1;
  return 0;
}

static int is_exit_of(const dyce__roles *c, size_t position, size_t g) {
  for (size_t i = c->exit_start[position - 1]; i < c->exit_start[position]; i++)
    if (c->exit_graphs[i] == g) return 1;
  return 0;
}

/* A graph's name for messages, also for indices out of range. */
static const char *graph_label(const dyce_model *m, size_t g, char buf[32]) {
  if (g < m->graph_count) return m->graphs[g].name;
  snprintf(buf, 32, "graph %zu", g);
  return buf;
}

dyce_status dyce_config_check(const dyce_model *m, const dyce_config *cfg,
                              dyce_error *err) {
  char buf[32];
  if (!m || !cfg) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  const dyce__roles *c = &m->roles;
  if (!c->present)
    return dyce__fail(err, DYCE_NOT_FOUND, "the package has no cascade (no 'head' graph)");
  if ((unsigned)cfg->confidence > DYCE_CONFIDENCE_ENTROPY)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "unknown confidence measure %d",
                      (int)cfg->confidence);
  if (cfg->saver != DYCE_NO_GRAPH && !is_saver(c, cfg->saver))
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "'%s' is not a saver",
                      graph_label(m, cfg->saver, buf));
  if (!isfinite(cfg->saver_threshold))
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "saver threshold is not finite");
  if (cfg->level >= m->levels.count)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "width level %zu does not exist (the package has %zu)",
                      cfg->level, m->levels.count);
  for (size_t p = 1; p <= DYCE_MAX_POSITIONS; p++) {
    size_t g = cfg->exit[p - 1];
    if (!isfinite(cfg->threshold[p - 1]))
      return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                        "threshold at position %zu is not finite", p);
    if (g == DYCE_NO_GRAPH) continue;
    if (p > c->stage_count || !is_exit_of(c, p, g))
      return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                        "'%s' is not an exit at position %zu", graph_label(m, g, buf), p);
    /* An exit trained on one level's features answers nonsense on
     * another's. */
    size_t owner = m->levels.owner[g];
    if (owner != DYCE_NO_LEVEL && owner != cfg->level)
      return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                        "exit '%s' belongs to width level '%s', not '%s'",
                        m->graphs[g].name, m->levels.names[owner],
                        m->levels.names[cfg->level]);
    /* A full-width exit at a level that trained its own there: the same
     * nonsense, narrowed. One without such a sibling is the level's to
     * run, narrowed with it. */
    size_t own = dyce_model_level_exit(m, g, cfg->level);
    if (own != DYCE_NO_GRAPH)
      return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                        "exit '%s' is the full width's; width level '%s' has its own, '%s'",
                        m->graphs[g].name, m->levels.names[cfg->level], m->graphs[own].name);
  }
  return dyce__ok(err);
}

/* Reads one CONF record into `e`; `what` names it in messages. */
static dyce_status read_record(const dyce_model *m, const uint8_t *r,
                               size_t positions, dyce__config_entry *e,
                               size_t index, dyce_error *err) {
  memcpy(e->name, r, 32);
  size_t len = strnlen(e->name, 32);
  if (len == 0 || len == 32)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "configuration %zu: name must be 1..31 bytes and NUL-terminated",
                      index);
  dyce_config *cfg = &e->config;
  uint32_t saver = dyce__rd_u32(r + 32), conf = dyce__rd_u32(r + 40);
  cfg->saver = saver == DYCE__NONE ? DYCE_NO_GRAPH : saver;
  cfg->saver_threshold = dyce__rd_f32(r + 36);
  cfg->confidence = conf <= 2 ? (dyce_confidence)conf : (dyce_confidence)99;
  e->accuracy = dyce__rd_f32(r + 44);
  uint64_t bits = dyce__rd_u64(r + 48);
  memcpy(&e->mean_macs, &bits, sizeof bits);
  cfg->level = dyce__rd_u32(r + 56);
  if (!dyce__all_zero(r + 60, 4) ||
      !((e->accuracy >= 0.0f && e->accuracy <= 1.0f) || e->accuracy == -1.0f) ||
      !(isfinite(e->mean_macs) && (e->mean_macs >= 0.0 || e->mean_macs == -1.0)))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "configuration '%s': accuracy, MACs or reserved bytes are invalid",
                      e->name);
  /* Positions past the package's have no exit (threshold 1, as in
   * dyce_config_backbone). */
  for (size_t p = 0; p < DYCE_MAX_POSITIONS; p++) {
    uint32_t g = DYCE__NONE;
    cfg->threshold[p] = 1.0f;
    if (p < positions) {
      g = dyce__rd_u32(r + CONF_RECORD_FIXED + 8 * p);
      cfg->threshold[p] = dyce__rd_f32(r + CONF_RECORD_FIXED + 8 * p + 4);
    }
    cfg->exit[p] = g == DYCE__NONE ? DYCE_NO_GRAPH : g;
  }
  dyce_error why;
  if (dyce_config_check(m, cfg, &why) != DYCE_OK)
    return dyce__fail(err, DYCE_BAD_FORMAT, "configuration '%s': %s", e->name,
                      why.message);
  return DYCE_OK;
}

dyce_status dyce__configs_read(dyce_model *m, const uint8_t *p, uint64_t bytes,
                               dyce_error *err) {
  const dyce__roles *c = &m->roles;
  if (bytes < CONF_FIXED)
    return dyce__fail(err, DYCE_BAD_FORMAT, "configuration section too short");
  uint32_t count = dyce__rd_u32(p), positions = dyce__rd_u32(p + 4);
  if (!c->present)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "configurations given but the package has no cascade");
  if (count > MAX_CONFIGS || positions != c->stage_count ||
      !dyce__all_zero(p + 8, CONF_FIXED - 8))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "configuration section: %u configurations (limit %u) for "
                      "%u positions (the cascade has %zu)",
                      count, MAX_CONFIGS, positions, c->stage_count);
  uint64_t record = CONF_RECORD_FIXED + 8ull * positions;
  if (bytes != CONF_FIXED + record * count)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "configuration section is %llu bytes; %u records need %llu",
                      (unsigned long long)bytes, count,
                      (unsigned long long)(CONF_FIXED + record * count));
  m->configs = dyce__calloc(count, sizeof(dyce__config_entry));
  if (!m->configs)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate configurations");
  for (size_t i = 0; i < count; i++) {
    dyce_status s = read_record(m, p + CONF_FIXED + record * i, positions,
                                &m->configs[i], i, err);
    if (s) return s;
    for (size_t j = 0; j < i; j++)
      if (strcmp(m->configs[j].name, m->configs[i].name) == 0)
        return dyce__fail(err, DYCE_BAD_FORMAT,
                          "two configurations are named '%s'", m->configs[i].name);
    m->config_count = i + 1;
  }
  return DYCE_OK;
}

dyce_status dyce_model_config(const dyce_model *m, size_t index,
                              dyce_config *out, dyce_config_meta *meta,
                              dyce_error *err) {
  if (!m || !out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  if (index >= m->config_count)
    return dyce__fail(err, DYCE_NOT_FOUND,
                      "configuration %zu does not exist (the package has %zu)",
                      index, m->config_count);
  const dyce__config_entry *e = &m->configs[index];
  *out = e->config;
  if (meta) {
    meta->name = e->name;
    meta->accuracy = e->accuracy;
    meta->mean_macs = e->mean_macs;
  }
  return dyce__ok(err);
}

dyce_status dyce_model_find_config(const dyce_model *m, const char *name,
                                   size_t *index, dyce_error *err) {
  if (!m || !name || !index)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  for (size_t i = 0; i < m->config_count; i++)
    if (strcmp(m->configs[i].name, name) == 0) {
      *index = i;
      return dyce__ok(err);
    }
  return dyce__fail(err, DYCE_NOT_FOUND, "no configuration named '%.100s'", name);
}
