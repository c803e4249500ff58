/*
 * The cascade view of a model: which graph is a saver, a backbone stage, an
 * exit at which position, and the head (derived from graph names at load,
 * checked against the graphs' sources), plus the configurations the
 * package ships in its optional CONF section (docs/FORMAT.md).
 */
#ifndef DYCE_CASCADE_CASCADE_H
#define DYCE_CASCADE_CASCADE_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"

typedef struct dyce__config_entry {
  dyce_config config;
  char name[32];
  float accuracy;
  double mean_macs;
} dyce__config_entry;

typedef struct dyce__cascade {
  int present;                       /* 0: no head, classify is refused */
  size_t head;
  size_t stage_count;
  size_t stages[DYCE_MAX_POSITIONS]; /* [k-1] = graph of stage k */
  size_t saver_count;
  size_t savers[DYCE_MAX_SAVERS];
  /* Exits of position p are exit_graphs[exit_start[p-1] .. exit_start[p]). */
  size_t exit_start[DYCE_MAX_POSITIONS + 1];
  size_t *exit_graphs;
  size_t class_count;                /* outputs of every classifier graph */
  dyce__config_entry *configs;
  size_t config_count;
} dyce__cascade;

struct dyce_model;

/* Derives the roles from graph names and checks them; fills m->cascade. */
dyce_status dyce__cascade_build(struct dyce_model *m, dyce_error *err);
/* Parses a CONF section body (after dyce__cascade_build). */
dyce_status dyce__cascade_read_configs(struct dyce_model *m, const uint8_t *p,
                                       uint64_t bytes, dyce_error *err);
void dyce__cascade_free(dyce__cascade *c);

#endif /* DYCE_CASCADE_CASCADE_H */
