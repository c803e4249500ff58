/* Counted heap allocation. The counter lets tests prove that inference
 * allocates nothing; it is a plain counter because the engine itself is
 * single-threaded per session and the count is a diagnostic. */
#include <stdlib.h>

#include "internal.h"

static uint64_t allocation_count;

void *dyce__malloc(size_t bytes) {
  allocation_count++;
  return malloc(bytes ? bytes : 1);
}

void *dyce__calloc(size_t count, size_t bytes) {
  allocation_count++;
  return calloc(count ? count : 1, bytes ? bytes : 1);
}

void dyce__free(void *p) { free(p); }

uint64_t dyce_allocation_count(void) { return allocation_count; }
