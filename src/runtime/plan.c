/* Greedy-by-size memory planner (see plan.h). */
#include <stdlib.h>

#include "../core/internal.h"
#include "plan.h"

/* Ascending by key0, then key1. */
static int by_keys(const void *a, const void *b) {
  const dyce__plan_work *x = a, *y = b;
  if (x->key0 != y->key0) return x->key0 < y->key0 ? -1 : 1;
  if (x->key1 != y->key1) return x->key1 < y->key1 ? -1 : 1;
  return 0;
}

static int live_together(const dyce__plan_item *a, const dyce__plan_item *b) {
  return a->first <= b->last && b->first <= a->last;
}

uint64_t dyce__plan(dyce__plan_item *items, size_t n, dyce__plan_work *work) {
  dyce__plan_work *order = work, *conflicts = work + n;
  uint64_t region = 0;
  for (size_t i = 0; i < n; i++) {
    items[i].bytes = dyce__align_up(items[i].bytes, DYCE__BUFFER_ALIGN);
    /* Largest first (key0 = ~bytes), then earliest first. */
    order[i].key0 = ~items[i].bytes;
    order[i].key1 = items[i].first;
    order[i].index = i;
  }
  qsort(order, n, sizeof *order, by_keys);
  for (size_t placed = 0; placed < n; placed++) {
    dyce__plan_item *it = &items[order[placed].index];
    size_t nc = 0;
    for (size_t j = 0; j < placed; j++) {
      const dyce__plan_item *other = &items[order[j].index];
      if (!live_together(other, it)) continue;
      conflicts[nc].key0 = other->offset;
      conflicts[nc].key1 = other->offset + other->bytes;
      nc++;
    }
    qsort(conflicts, nc, sizeof *conflicts, by_keys);
    /* First gap between conflicting buffers large enough for `it`. */
    uint64_t at = 0;
    for (size_t j = 0; j < nc; j++) {
      if (conflicts[j].key0 >= at + it->bytes) break;
      if (conflicts[j].key1 > at) at = conflicts[j].key1;
    }
    it->offset = at;
    if (at + it->bytes > region) region = at + it->bytes;
  }
  return region;
}
