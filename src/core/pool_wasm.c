/*
 * WebAssembly pools over shared memory (the -mt builds; see pool.h).
 *
 * The host instantiates this module once per worker on the same shared
 * memory, gives each instance its own stack (__stack_pointer) and calls
 * dyce_wasm_thread_main, which never returns: the worker sleeps on a
 * futex until a job is published, claims parts of it, and sleeps again.
 * There is one job slot for the whole module: only the thread that owns
 * the engine (the page's or the worker's JS thread) publishes jobs.
 *
 * A job is published through one 64-bit word, `claim` = generation << 32
 * | count << 16 | next. A thread claims part `next` by compare-and-swap on
 * that word after reading the job's task and context, so a thread that
 * read a previous job's task cannot claim a part of a newer one: the
 * publisher changes the word (count 0: closed) before touching the task.
 * The caller claims parts too, so a job finishes even when no worker has
 * woken yet (or the host started none); it then waits until every
 * claimed part is done: spinning a while, then sleeping on `done` where
 * the host says the engine's thread may block (Node, a Worker; a page's
 * main thread may not, so there it keeps spinning). At most
 * the pool's thread count take part in a job (`active`), so a job never
 * runs more parts at once than the caller planned workspaces for.
 */
#include "pool.h"

#if defined(__wasm__) && defined(__wasm_atomics__)
#include "internal.h"

struct dyce__pool {
  uint32_t threads;
};

static struct {
  uint64_t claim;
  uint32_t wake; /* futex: bumped for every job */
  uint32_t done; /* parts finished of the current job */
  uint32_t active; /* threads taking part in the current job ... */
  uint32_t limit;  /* ... at most this many (the pool's threads) */
  dyce__pool_task task;
  void *ctx;
  uint32_t workers; /* started by the host */
  uint32_t can_block; /* the engine's thread may wait on a futex */
} job;

/* How long a worker keeps looking for the next job before it sleeps:
 * a network's convolutions come a few microseconds apart, and waking a
 * sleeping worker costs tens of them. */
#define SPIN_ROUNDS 200000

#define LOAD(p) __atomic_load_n(p, __ATOMIC_ACQUIRE)
#define STORE(p, v) __atomic_store_n(p, v, __ATOMIC_RELEASE)

/* Claims and runs parts of job `gen` until none is left (or a newer job
 * is published: its thread limit must be checked again). */
static void claim_parts(uint64_t gen) {
  for (;;) {
    uint64_t c = LOAD(&job.claim);
    uint32_t count = (uint32_t)(c >> 16) & 0xffffu, next = (uint32_t)c & 0xffffu;
    if (c >> 32 != gen || next >= count) return;
    dyce__pool_task task = __atomic_load_n(&job.task, __ATOMIC_RELAXED);
    void *ctx = __atomic_load_n(&job.ctx, __ATOMIC_RELAXED);
    if (!__atomic_compare_exchange_n(&job.claim, &c, c + 1, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      continue;
    task(ctx, next);
    /* The last part wakes a caller asleep on `done`. */
    if (__atomic_add_fetch(&job.done, 1u, __ATOMIC_ACQ_REL) == count && LOAD(&job.can_block))
      __builtin_wasm_memory_atomic_notify((int32_t *)&job.done, 1);
  }
}

/* Takes part in the published job, if it has parts left and room for
 * one more thread. */
static void work(void) {
  uint64_t c = LOAD(&job.claim);
  if (((uint32_t)c & 0xffffu) >= ((uint32_t)(c >> 16) & 0xffffu)) return;
  if (__atomic_add_fetch(&job.active, 1u, __ATOMIC_ACQ_REL) <= LOAD(&job.limit))
    claim_parts(c >> 32);
  __atomic_fetch_sub(&job.active, 1u, __ATOMIC_ACQ_REL);
}

/* Called by the host when it starts `workers` workers; `can_block`: the
 * engine's thread may wait (memory.atomic.wait traps on a page's main
 * thread). */
void dyce_wasm_set_workers(uint32_t workers, uint32_t can_block) {
  STORE(&job.can_block, can_block);
  STORE(&job.workers, workers);
}

/* A worker's life; the host calls it once per worker instance. */
void dyce_wasm_thread_main(void) {
  for (;;) {
    uint32_t seen = LOAD(&job.wake);
    work();
    for (int i = 0; i < SPIN_ROUNDS && LOAD(&job.wake) == seen; i++) {
    }
    if (LOAD(&job.wake) == seen)
      __builtin_wasm_memory_atomic_wait32((int32_t *)&job.wake, (int32_t)seen,
                                          -1);
  }
}

uint32_t dyce__pool_max_threads(void) { return 1 + LOAD(&job.workers); }

dyce_status dyce__pool_create(uint32_t threads, dyce__pool **out,
                              dyce_error *err) {
  *out = NULL;
  uint32_t max = dyce__pool_max_threads();
  if (threads < 2 || threads > max)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "%u threads asked for; this engine has %u (its "
                      "workers and the caller)",
                      threads, max);
  dyce__pool *pool = dyce__calloc(1, sizeof *pool);
  if (!pool) return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate a pool");
  pool->threads = threads;
  *out = pool;
  return dyce__ok(err);
}

void dyce__pool_free(dyce__pool *pool) { dyce__free(pool); }

void dyce__pool_run(dyce__pool *pool, size_t count, dyce__pool_task task,
                    void *ctx) {
  if (count == 0) return;
  uint64_t gen = (LOAD(&job.claim) >> 32) + 1;
  STORE(&job.claim, gen << 32); /* closed: count 0 */
  /* A worker still leaving the previous job counts against the limit a
   * moment longer: harmless, the caller takes its parts. */
  STORE(&job.limit, pool->threads);
  __atomic_store_n(&job.task, task, __ATOMIC_RELAXED);
  __atomic_store_n(&job.ctx, ctx, __ATOMIC_RELAXED);
  STORE(&job.done, 0u);
  STORE(&job.claim, gen << 32 | (uint64_t)count << 16);
  __atomic_fetch_add(&job.wake, 1u, __ATOMIC_RELEASE);
  __builtin_wasm_memory_atomic_notify((int32_t *)&job.wake, UINT32_MAX);
  /* The caller always takes part: it counts as active, not against room. */
  __atomic_fetch_add(&job.active, 1u, __ATOMIC_ACQ_REL);
  claim_parts(gen);
  __atomic_fetch_sub(&job.active, 1u, __ATOMIC_ACQ_REL);
  /* The other parts are running: they finish about now, so spin first. */
  for (int i = 0; i < SPIN_ROUNDS && LOAD(&job.done) < count; i++) {
  }
  for (uint32_t d; (d = LOAD(&job.done)) < count;)
    if (LOAD(&job.can_block))
      __builtin_wasm_memory_atomic_wait32((int32_t *)&job.done, (int32_t)d, -1);
}
#endif
