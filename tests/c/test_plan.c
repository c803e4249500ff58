/* Planner tests: buffers alive at the same time never overlap, reuse
 * happens, and the region is never smaller than the peak live size. */
#include <stdlib.h>

#include "runtime/plan.h"
#include "test.h"

static void check_plan(dyce__plan_item *items, size_t n, uint64_t region) {
  for (size_t i = 0; i < n; i++) {
    CHECK(items[i].offset % DYCE__BUFFER_ALIGN == 0);
    CHECK(items[i].offset + items[i].bytes <= region);
    for (size_t j = i + 1; j < n; j++) {
      int live = items[i].first <= items[j].last && items[j].first <= items[i].last;
      int overlap = items[i].offset < items[j].offset + items[j].bytes &&
                    items[j].offset < items[i].offset + items[i].bytes;
      CHECK_MSG(!(live && overlap), "items %zu and %zu overlap", i, j);
    }
  }
}

static void chain_reuses_two_buffers(void) {
  /* A chain a->b->c->d: each buffer lives for two steps. */
  dyce__plan_item items[4];
  for (uint32_t i = 0; i < 4; i++) {
    items[i].bytes = 1000;
    items[i].first = i;
    items[i].last = i + 1;
  }
  dyce__plan_work work[8];
  uint64_t region = dyce__plan(items, 4, work);
  check_plan(items, 4, region);
  CHECK(region == 2 * 1024); /* 1000 rounds up to 1024 */
}

static void random_lifetimes_never_overlap(void) {
  for (int round = 0; round < 50; round++) {
    size_t n = 1 + test_rand() % 60;
    dyce__plan_item *items = calloc(n, sizeof *items);
    dyce__plan_work *work = calloc(2 * n, sizeof *work);
    for (size_t i = 0; i < n; i++) {
      items[i].bytes = test_rand() % 5000;
      items[i].first = test_rand() % 40;
      items[i].last = items[i].first + test_rand() % 10;
    }
    uint64_t region = dyce__plan(items, n, work);
    check_plan(items, n, region);
    /* Peak of live bytes at any step is a lower bound. */
    for (uint32_t t = 0; t < 50; t++) {
      uint64_t live = 0;
      for (size_t i = 0; i < n; i++)
        if (items[i].first <= t && t <= items[i].last) live += items[i].bytes;
      CHECK(live <= region);
    }
    free(items);
    free(work);
  }
}

const test_case plan_tests[] = {
    {"plan", "chain_reuses_two_buffers", chain_reuses_two_buffers},
    {"plan", "random_lifetimes_never_overlap", random_lifetimes_never_overlap},
    {0, 0, 0}};
