/* Native pools on Debian's pthreadpool (see pool.h). */
#include "pool.h"

#if defined(DYCE_POOL_PTHREADPOOL)
#include <pthreadpool.h>

#include "internal.h"

/* Beyond any core count the engine would sensibly use. */
#define MAX_THREADS 64u

uint32_t dyce__pool_max_threads(void) { return MAX_THREADS; }

dyce_status dyce__pool_create(uint32_t threads, dyce__pool **out,
                              dyce_error *err) {
  *out = NULL;
  if (threads < 2 || threads > MAX_THREADS)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "a pool takes 2 to %u threads, not %u", MAX_THREADS,
                      threads);
  pthreadpool_t pool = pthreadpool_create(threads);
  if (!pool)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY,
                      "cannot start a pool of %u threads", threads);
  *out = (dyce__pool *)pool;
  return dyce__ok(err);
}

void dyce__pool_free(dyce__pool *pool) {
  if (pool) pthreadpool_destroy((pthreadpool_t)pool);
}

void dyce__pool_run(dyce__pool *pool, size_t count, dyce__pool_task task,
                    void *ctx) {
  /* pthreadpool_task_1d_t is void (*)(void *, size_t): the same type. */
  pthreadpool_parallelize_1d((pthreadpool_t)pool, task, ctx, count, 0);
}
#endif
