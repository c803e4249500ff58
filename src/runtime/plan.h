/*
 * Memory planning: buffers with lifetimes [first, last] (node indices) get
 * offsets in one region so that buffers alive at the same time never
 * overlap. Greedy by size, as TFLite Micro's planner: the largest buffers
 * are placed first, each at the lowest offset that fits.
 */
#ifndef DYCE_RUNTIME_PLAN_H
#define DYCE_RUNTIME_PLAN_H

#include <stddef.h>
#include <stdint.h>

#define DYCE__BUFFER_ALIGN 64u

typedef struct dyce__plan_item {
  uint64_t bytes;     /* rounded up to DYCE__BUFFER_ALIGN by the planner */
  uint32_t first, last;
  uint64_t offset;    /* result */
} dyce__plan_item;

/* Workspace entry used by the planner; callers only allocate it. */
typedef struct dyce__plan_work {
  uint64_t key0, key1;
  size_t index;
} dyce__plan_work;

/* Plans `n` items and returns the region size. `work` needs 2*n entries.
 * O(n^2) in the worst case; graphs are bounded at 65 536 tensors. */
uint64_t dyce__plan(dyce__plan_item *items, size_t n, dyce__plan_work *work);

#endif /* DYCE_RUNTIME_PLAN_H */
