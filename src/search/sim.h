/*
 * The search's view of one records split: per classifier (savers, exits,
 * head) the confidence and correctness of every sample, its MACs, and the
 * samples ordered by confidence; plus stage MACs from the model. A
 * configuration is simulated on it exactly as dyce_session_classify runs
 * it (strictly-greater threshold rule, the same float comparisons).
 */
#ifndef DYCE_SEARCH_SIM_H
#define DYCE_SEARCH_SIM_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"

typedef struct dyce__sim_classifier {
  size_t graph;          /* model graph index */
  uint64_t macs;
  const float *conf;     /* [n], owned by the records */
  uint8_t *correct;      /* [n] */
  uint32_t *order;       /* [n] sample indices, confidence descending */
} dyce__sim_classifier;

/* Positions: 0 = saver, 1..S = exits after stage p, S+1 = head. */
typedef struct dyce__sim {
  size_t n, stage_count;
  size_t level;                          /* width level simulated */
  uint64_t stage_macs[DYCE_MAX_POSITIONS];
  dyce__sim_classifier head;
  dyce__sim_classifier savers[DYCE_MAX_SAVERS];
  size_t saver_count;
  dyce__sim_classifier *exits;                 /* grouped by position */
  size_t exit_capacity;                  /* entries allocated in exits */
  size_t exit_start[DYCE_MAX_POSITIONS + 1];
  double backbone_accuracy, backbone_macs;
} dyce__sim;

/* A configuration in search terms: the classifier used at each position
 * (index into savers / that position's exits, -1 = none). */
typedef struct dyce__sim_config {
  int use[DYCE_MAX_POSITIONS + 1];
  float threshold[DYCE_MAX_POSITIONS + 1];
} dyce__sim_config;

/* At width `level`: graphs the level narrows are read from records named
 * "<graph>@<level name>"; exits without records there are left out. */
dyce_status dyce__sim_build(dyce__sim *s, const dyce_model *m,
                            const dyce_records *r, const char *split,
                            size_t level, dyce_error *err);
void dyce__sim_free(dyce__sim *s);

/* Classifier at position q with index i (q = 0: savers). */
const dyce__sim_classifier *dyce__sim_classifier_at(const dyce__sim *s,
                                                    size_t q, int i);
size_t dyce__sim_choices(const dyce__sim *s, size_t q);

void dyce__sim_config_empty(dyce__sim_config *c);
/* Leaves out every classifier that can never answer: one answers when its
 * confidence is above its threshold, and confidences are at most 1, so at
 * 1 or more it would only cost its MACs. */
void dyce__sim_config_drop_silent(dyce__sim_config *c);
void dyce__sim_config_to_public(const dyce__sim *s, const dyce__sim_config *c,
                                dyce_config *out);
/* Returns 0 and fills `c` when every graph of `cfg` is in the sim. */
int dyce__sim_config_from_public(const dyce__sim *s, const dyce_config *cfg,
                                 dyce__sim_config *c);

/* Total correct answers and total MACs of `c` over the split. */
void dyce__sim_evaluate(const dyce__sim *s, const dyce__sim_config *c,
                        double *correct, double *macs);

#endif /* DYCE_SEARCH_SIM_H */
