/*
 * The exact 1-D threshold search at one position with every other position
 * fixed (DyCE's inner step). `sweep_prepare(q)` classifies every sample as
 * answered before q (fixed) or reaching q, and what it would get if q does
 * not answer; `sweep_best` then scans one candidate classifier's samples in
 * confidence order over the threshold grid {1.000, 0.999, ..., 0.000, -1}
 * and returns the threshold minimising J = l(1 - A/A0) + (1 - l) C/C0.
 */
#ifndef DYCE_SEARCH_SWEEP_H
#define DYCE_SEARCH_SWEEP_H

#include "sim.h"

typedef struct sweeper {
  const sim *s;
  double lambda;
  uint64_t *mask;     /* [n]: bit q set when position q answers the sample */
  uint8_t *reach;     /* [n] */
  uint8_t *cont_correct;
  double *cont_cost;  /* [n] */
  size_t q;
  double fixed_correct, fixed_cost, reach_count, cont_correct_sum,
      cont_cost_sum, pre_q;
} sweeper;

typedef struct sweep_result {
  double j;
  float threshold;
} sweep_result;

int sweeper_init(sweeper *w, const sim *s);
void sweeper_free(sweeper *w);
/* Recomputes every sample's answer mask for `c`. */
void sweeper_set_config(sweeper *w, const sim_config *c);
void sweep_prepare(sweeper *w, const sim_config *c, size_t q);
/* Best threshold for classifier `cl` at the prepared position; cl NULL
 * evaluates "no classifier at q". */
sweep_result sweep_best(const sweeper *w, const sim_classifier *cl);
/* J of totals (correct answers, MACs) over the split. */
double sweep_objective(const sweeper *w, double correct, double macs);

#endif
