/*
 * Internal helpers shared by every layer of the engine: error reporting,
 * counted allocation and overflow-checked size arithmetic.
 */
#ifndef DYCE_CORE_INTERNAL_H
#define DYCE_CORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"

#if defined(__GNUC__) || defined(__clang__)
#define DYCE__PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define DYCE__PRINTF(f, a)
#endif

/* Fills `err` (when not NULL) and returns `status`, so that failures read
 * `return dyce__fail(err, DYCE_BAD_FORMAT, "...", ...);`. */
dyce_status dyce__fail(dyce_error *err, dyce_status status, const char *fmt,
                       ...) DYCE__PRINTF(3, 4);
/* Marks `err` as success. */
dyce_status dyce__ok(dyce_error *err);

/* Every heap allocation of the engine goes through these, so that tests can
 * count them. */
void *dyce__malloc(size_t bytes);
void *dyce__calloc(size_t count, size_t bytes);
void dyce__free(void *p);

/* Milliseconds of a monotonic clock. */
double dyce__now_ms(void);

/* a*b and a+b into *out; return 0 on overflow of uint64_t. */
static inline int dyce__mul_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (a != 0 && b > UINT64_MAX / a) return 0;
  *out = a * b;
  return 1;
}
static inline int dyce__add_u64(uint64_t a, uint64_t b, uint64_t *out) {
  if (b > UINT64_MAX - a) return 0;
  *out = a + b;
  return 1;
}

/* Rounds up to a multiple of `align` (a power of two); caller ensures no
 * overflow by bounding `v` first. */
static inline uint64_t dyce__align_up(uint64_t v, uint64_t align) {
  return (v + align - 1) & ~(align - 1);
}

#endif /* DYCE_CORE_INTERNAL_H */
