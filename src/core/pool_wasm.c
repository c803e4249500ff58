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
 * | a bit per part, set once the part is claimed. A thread claims a part
 * by compare-and-swap on that word after reading the job's task and
 * context, so a thread that read a previous job's task cannot claim a
 * part of a newer one: the publisher closes the word (every bit set)
 * before touching the task.
 *
 * Parts are dealt out as pthreadpool deals them: thread t of the job's
 * `limit` first takes the parts of its own contiguous range (t * count /
 * limit onwards), and only then steals the last part left. A network's
 * convolutions split the same picture into the same bands, so each
 * thread mostly works on rows it wrote in the previous layer, still in
 * its own core's cache. (With parts claimed in any order, MobileNetV2's
 * depthwise layers were no faster on two threads than on one here: their
 * parts took 1.5x the one-thread time in sum; dealt out by ranges, 1.2x.)
 *
 * The caller (thread 0) claims parts too, so a job finishes even when no
 * worker has woken yet (or the host started none); it then waits until
 * every claimed part is done: spinning a while, then sleeping on `done`
 * where the host says the engine's thread may block (Node, a Worker; a
 * page's main thread may not, so there it keeps spinning). At most the
 * pool's thread count take part in a job (`active`), so a job never runs
 * more parts at once than the caller planned workspaces for.
 */
#include "pool.h"

#if defined(__wasm__) && defined(__wasm_atomics__)
#include "internal.h"

struct dyce__pool {
  uint32_t threads;
};

static struct {
  uint64_t claim;
  uint32_t count; /* parts of the current job (<= DYCE__POOL_MAX_TASKS) */
  uint32_t registered; /* workers that have entered thread_main */
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

#define ALL_CLAIMED UINT32_MAX

/* The part thread `self` claims next among the unclaimed ones (bits
 * clear in `claimed`): the first of its own range, else the last left. */
static uint32_t pick_part(uint32_t claimed, uint32_t count, uint32_t limit,
                          uint32_t self) {
  if (self < limit) {
    uint32_t lo = (uint32_t)((uint64_t)self * count / limit);
    uint32_t hi = (uint32_t)((uint64_t)(self + 1) * count / limit);
    uint32_t mine = (uint32_t)(((uint64_t)1 << hi) - ((uint64_t)1 << lo));
    if (mine & ~claimed) return (uint32_t)__builtin_ctz(mine & ~claimed);
  }
  return 31u - (uint32_t)__builtin_clz(~claimed);
}

/* Claims and runs parts of job `gen` until none is left (or a newer job
 * is published: its thread limit must be checked again). */
static void claim_parts(uint64_t gen, uint32_t self) {
  for (;;) {
    uint64_t c = LOAD(&job.claim);
    if (c >> 32 != gen || (uint32_t)c == ALL_CLAIMED) return;
    dyce__pool_task task = __atomic_load_n(&job.task, __ATOMIC_RELAXED);
    void *ctx = __atomic_load_n(&job.ctx, __ATOMIC_RELAXED);
    uint32_t count = __atomic_load_n(&job.count, __ATOMIC_RELAXED);
    uint32_t limit = __atomic_load_n(&job.limit, __ATOMIC_RELAXED);
    uint32_t part = pick_part((uint32_t)c, count, limit, self);
    if (!__atomic_compare_exchange_n(&job.claim, &c, c | (uint64_t)1 << part, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      continue;
    task(ctx, part);
    /* The last part wakes a caller asleep on `done`. */
    if (__atomic_add_fetch(&job.done, 1u, __ATOMIC_ACQ_REL) == count && LOAD(&job.can_block))
      __builtin_wasm_memory_atomic_notify((int32_t *)&job.done, 1);
  }
}

/* Takes part in the published job, if it has parts left and room for
 * one more thread. */
static void work(uint32_t self) {
  uint64_t c = LOAD(&job.claim);
  if ((uint32_t)c == ALL_CLAIMED) return;
  if (__atomic_add_fetch(&job.active, 1u, __ATOMIC_ACQ_REL) <= LOAD(&job.limit))
    claim_parts(c >> 32, self);
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
  /* Its index in every job: the caller is 0, workers 1, 2, ... */
  uint32_t self = __atomic_add_fetch(&job.registered, 1u, __ATOMIC_ACQ_REL);
  for (;;) {
    uint32_t seen = LOAD(&job.wake);
    work(self);
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
  STORE(&job.claim, gen << 32 | ALL_CLAIMED); /* closed */
  /* A worker still leaving the previous job counts against the limit a
   * moment longer: harmless, the caller takes its parts. */
  STORE(&job.limit, pool->threads);
  __atomic_store_n(&job.task, task, __ATOMIC_RELAXED);
  __atomic_store_n(&job.ctx, ctx, __ATOMIC_RELAXED);
  __atomic_store_n(&job.count, (uint32_t)count, __ATOMIC_RELAXED);
  STORE(&job.done, 0u);
  /* Bits past `count` stay set: those parts do not exist. */
  STORE(&job.claim, gen << 32 | (count >= 32 ? 0u : ALL_CLAIMED << count));
  __atomic_fetch_add(&job.wake, 1u, __ATOMIC_RELEASE);
  __builtin_wasm_memory_atomic_notify((int32_t *)&job.wake, UINT32_MAX);
  /* The caller always takes part: it counts as active, not against room. */
  __atomic_fetch_add(&job.active, 1u, __ATOMIC_ACQ_REL);
  claim_parts(gen, 0);
  __atomic_fetch_sub(&job.active, 1u, __ATOMIC_ACQ_REL);
  /* The other parts are running: they finish about now, so spin first. */
  for (int i = 0; i < SPIN_ROUNDS && LOAD(&job.done) < count; i++) {
  }
  for (uint32_t d; (d = LOAD(&job.done)) < count;)
    if (LOAD(&job.can_block))
      __builtin_wasm_memory_atomic_wait32((int32_t *)&job.done, (int32_t)d, -1);
}
#endif
