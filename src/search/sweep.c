/* The exact per-position threshold sweep (see sweep.h). */
#include "sweep.h"

#include <math.h>

#include "../core/internal.h"

#define GRID 1000 /* thresholds j / 1000 */

int dyce__sweeper_init(dyce__sweeper *w, const dyce__sim *s) {
  w->s = s;
  w->mask = dyce__calloc(s->n, sizeof(uint64_t));
  w->reach = dyce__calloc(s->n, 1);
  w->cont_correct = dyce__calloc(s->n, 1);
  w->cont_cost = dyce__calloc(s->n, sizeof(double));
  return w->mask && w->reach && w->cont_correct && w->cont_cost;
}

void dyce__sweeper_free(dyce__sweeper *w) {
  dyce__free(w->mask);
  dyce__free(w->reach);
  dyce__free(w->cont_correct);
  dyce__free(w->cont_cost);
}

static const dyce__sim_classifier *at(const dyce__sim *s,
                                      const dyce__sim_config *c, size_t q) {
  return q == s->stage_count + 1 ? &s->head
                                 : dyce__sim_classifier_at(s, q, c->use[q]);
}

void dyce__sweeper_set_config(dyce__sweeper *w, const dyce__sim_config *c) {
  const dyce__sim *s = w->s;
  for (size_t i = 0; i < s->n; i++) {
    uint64_t m = 1ull << (s->stage_count + 1); /* the head always answers */
    for (size_t q = 0; q <= s->stage_count; q++) {
      const dyce__sim_classifier *cl = dyce__sim_classifier_at(s, q, c->use[q]);
      if (cl && cl->conf[i] > c->threshold[q]) m |= 1ull << q;
    }
    w->mask[i] = m;
  }
}

static unsigned lowest_bit(uint64_t m) {
  unsigned b = 0;
  while (!(m & 1)) {
    m >>= 1;
    b++;
  }
  return b;
}

void dyce__sweep_prepare(dyce__sweeper *w, const dyce__sim_config *c,
                         size_t q) {
  const dyce__sim *s = w->s;
  /* Cost of answering at each position when q has no classifier. */
  double base[DYCE_MAX_POSITIONS + 2];
  const dyce__sim_classifier *saver =
      q == 0 ? NULL : dyce__sim_classifier_at(s, 0, c->use[0]);
  double running = saver ? (double)saver->macs : 0.0;
  base[0] = running;
  w->pre_q = 0.0;
  for (size_t p = 1; p <= s->stage_count; p++) {
    running += (double)s->stage_macs[p - 1];
    if (p == q) w->pre_q = running;
    const dyce__sim_classifier *e =
        p == q ? NULL : dyce__sim_classifier_at(s, p, c->use[p]);
    base[p] = running + (e ? (double)e->macs : 0.0);
    running = base[p];
  }
  base[s->stage_count + 1] = running + (double)s->head.macs;
  w->q = q;
  w->fixed_correct = w->fixed_cost = w->reach_count = 0;
  w->cont_correct_sum = w->cont_cost_sum = 0;
  uint64_t below = (1ull << q) - 1;
  for (size_t i = 0; i < s->n; i++) {
    uint64_t m = w->mask[i] & ~(1ull << q);
    if (m & below) {
      unsigned p = lowest_bit(m & below);
      w->reach[i] = 0;
      w->fixed_correct += at(s, c, p)->correct[i];
      w->fixed_cost += base[p];
    } else {
      unsigned p = lowest_bit(m >> (q + 1)) + (unsigned)q + 1;
      w->reach[i] = 1;
      w->cont_correct[i] = at(s, c, p)->correct[i];
      w->cont_cost[i] = base[p];
      w->reach_count++;
      w->cont_correct_sum += w->cont_correct[i];
      w->cont_cost_sum += base[p];
    }
  }
}

double dyce__sweep_objective(const dyce__sweeper *w, double correct,
                             double macs) {
  const dyce__sim *s = w->s;
  if (w->budget > 0)
    return macs > w->budget ? INFINITY : -correct + 0.5 * macs / w->budget;
  double a = correct / ((double)s->n * s->backbone_accuracy);
  double c = macs / ((double)s->n * s->backbone_macs);
  return w->lambda * (1.0 - a) + (1.0 - w->lambda) * c;
}

dyce__sweep_result dyce__sweep_best(const dyce__sweeper *w,
                                    const dyce__sim_classifier *cl) {
  double macs = cl ? (double)cl->macs : 0.0;
  double correct = w->fixed_correct + w->cont_correct_sum;
  double cost = w->fixed_cost + w->cont_cost_sum + w->reach_count * macs;
  dyce__sweep_result best = {dyce__sweep_objective(w, correct, cost), 1.0f};
  if (!cl) return best;
  size_t k = 0, n = w->s->n;
  for (int j = GRID; j >= -1; j--) {
    float t = j >= 0 ? (float)j / (float)GRID : -1.0f;
    /* Samples with conf > t answer at q now. */
    for (; k < n && cl->conf[cl->order[k]] > t; k++) {
      uint32_t i = cl->order[k];
      if (!w->reach[i]) continue;
      correct += (double)cl->correct[i] - w->cont_correct[i];
      cost += w->pre_q + macs - (w->cont_cost[i] + macs);
    }
    double jv = dyce__sweep_objective(w, correct, cost);
    if (jv < best.j) {
      best.j = jv;
      best.threshold = t;
    }
  }
  return best;
}
