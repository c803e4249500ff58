/* Targets without threads: no pool can be created (see pool.h). */
#include "pool.h"

#if !defined(DYCE_POOL_PTHREADPOOL) && \
    !(defined(__wasm__) && defined(__wasm_atomics__))
#include "internal.h"

uint32_t dyce__pool_max_threads(void) { return 1; }

dyce_status dyce__pool_create(uint32_t threads, dyce__pool **out,
                              dyce_error *err) {
  *out = NULL;
  return dyce__fail(err, DYCE_UNSUPPORTED,
                    "this build of the engine has no threads (%u asked for)",
                    threads);
}

void dyce__pool_free(dyce__pool *pool) { (void)pool; }

void dyce__pool_run(dyce__pool *pool, size_t count, dyce__pool_task task,
                    void *ctx) {
  (void)pool;
  for (size_t i = 0; i < count; i++) task(ctx, i);
}
#endif
