/*
 * The exact 1-D threshold search at one position with every other position
 * fixed (DyCE's inner step). `dyce__sweep_prepare(q)` classifies every sample
 * as answered before q (fixed) or reaching q, and what it would get if q does
 * not answer; `dyce__sweep_best` then scans one candidate classifier's samples
 * in confidence order over the threshold grid {1.000, 0.999, ..., 0.000, -1}
 * and returns the threshold minimising J = l(1 - A/A0) + (1 - l) C/C0.
 */
#ifndef DYCE_SEARCH_SWEEP_H
#define DYCE_SEARCH_SWEEP_H

#include "sim.h"

typedef struct dyce__sweeper {
  const dyce__sim *s;
  double lambda;
  /* > 0: the objective is the most correct answers whose total MACs over
   * the split stay within `budget` (fewer MACs among equals), not J. */
  double budget;
  uint64_t *mask;     /* [n]: bit q set when position q answers the sample */
  uint8_t *reach;     /* [n] */
  uint8_t *cont_correct;
  double *cont_cost;  /* [n] */
  size_t q;
  double fixed_correct, fixed_cost, reach_count, cont_correct_sum,
      cont_cost_sum, pre_q;
} dyce__sweeper;

typedef struct dyce__sweep_result {
  double j;
  float threshold;
} dyce__sweep_result;

int dyce__sweeper_init(dyce__sweeper *w, const dyce__sim *s);
void dyce__sweeper_free(dyce__sweeper *w);
/* Recomputes every sample's answer mask for `c`. */
void dyce__sweeper_set_config(dyce__sweeper *w, const dyce__sim_config *c);
void dyce__sweep_prepare(dyce__sweeper *w, const dyce__sim_config *c, size_t q);
/* Best threshold for classifier `cl` at the prepared position; cl NULL
 * evaluates "no classifier at q". */
dyce__sweep_result dyce__sweep_best(const dyce__sweeper *w,
                                    const dyce__sim_classifier *cl);
/* The objective of totals (correct answers, MACs) over the split: J, or
 * under a budget -correct + a tie-break in [0, 0.5] (infinite over it). */
double dyce__sweep_objective(const dyce__sweeper *w, double correct,
                             double macs);

#endif
