/*
 * Thread pools: `dyce__pool_run(pool, count, task, ctx)` calls
 * task(ctx, i) for every i < count, on the pool's threads and the caller's,
 * and returns when all have finished. The runtime splits a node into
 * independent parts and hands them here; which thread runs which part is
 * free, so a part must depend only on its index.
 *
 * One implementation is compiled per target (the others compile empty):
 *   pool_pthreadpool.c  native: Debian's pthreadpool, the pool XNNPACK uses
 *   pool_wasm.c         WebAssembly with shared memory (the -mt builds):
 *                       workers are instances of the same module that the
 *                       host (JS) starts and parks in dyce_wasm_thread_main
 *   pool_serial.c       everywhere else: one thread, no pool
 */
#ifndef DYCE_CORE_POOL_H
#define DYCE_CORE_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"

typedef struct dyce__pool dyce__pool;
typedef void (*dyce__pool_task)(void *ctx, size_t index);

/* The most threads a pool can have here, the caller's included: 1 without
 * threads; under WebAssembly, 1 + the workers the host has started. */
uint32_t dyce__pool_max_threads(void);

/* A pool of `threads` (>= 2, <= dyce__pool_max_threads()) threads, the
 * caller's included. */
dyce_status dyce__pool_create(uint32_t threads, dyce__pool **out,
                              dyce_error *err);
void dyce__pool_free(dyce__pool *pool); /* NULL is allowed */

/* count <= DYCE__POOL_MAX_TASKS (the WebAssembly pool claims parts by a
 * bit each in a 32-bit mask). At most `threads` tasks run at once (a
 * task may hold one of `threads` workspaces). Never called by two threads
 * at once on one pool (a session is used by one thread at a time). */
#define DYCE__POOL_MAX_TASKS 32u
void dyce__pool_run(dyce__pool *pool, size_t count, dyce__pool_task task,
                    void *ctx);

#endif /* DYCE_CORE_POOL_H */
