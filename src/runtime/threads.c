/*
 * Threads: which nodes of a session run split across its pool, and
 * running them (see dyce_session_set_threads in dyce.h).
 *
 * The decision is made once, when the arena is planned: a node runs in
 * parts when its op can split it (ops.h: split) and it is large enough
 * that the parts' hand-over — publishing a job and waiting for the last
 * part, a few microseconds — is small next to its work. Below that, and
 * for every other op, the node runs whole on the caller's thread. And a
 * small model splits nothing (DYCE_SPLIT_MIN_MODEL_MACS): a pool thread
 * that has slept through a frame's gap costs a millisecond or more to
 * get going again, as much as a second thread saves on such a model.
 *
 * A split node has PARTS_PER_THREAD parts per thread, claimed one at a
 * time: a thread the OS preempts (a busy phone, a shared machine) then
 * holds up a small part, not half of the node, while the others take the
 * rest. Parts share `threads` workspaces, each taken by a part while it
 * runs (the pool runs at most `threads` parts at once).
 */
#include <float.h>

#include "../core/internal.h"
#include "../ops/ops.h"
#include "plan.h"
#include "session_state.h"

/* 200k multiply-adds take ~6-10 us on one thread at this engine's
 * speeds, a few hand-overs. From 500k down to 200k, MobileNetV2's and
 * EfficientNet-B0's late depthwise layers (7x7 and 14x14 maps, 250-430k)
 * split too: in Chromium their two-thread speedups went from 1.49-1.53
 * and 1.45-1.48 to 1.55-1.76 and 1.47-1.74 (docs/PERFORMANCE.md). The
 * Fashion-MNIST savers' layers are all below it. Ops without MACs (add,
 * mul, activations: memory-bound) split from 64k output elements
 * (256 KiB), ~15 us to stream. */
#define MIN_SPLIT_MACS 200000u
#define MIN_SPLIT_ELEMENTS 65536u
#define PARTS_PER_THREAD 2u

int dyce__session_splits(const dyce_session *s) {
  if (s->threads < 2) return 0;
  /* The model's costliest answer: a graph plus its sources. */
  double most = 0;
  for (size_t gi = 0; gi < s->model->graph_count; gi++) {
    double macs = (double)dyce_model_level_path_macs(s->model, gi, 0);
    if (macs > most) most = macs;
  }
  return most >= s->split_min_macs;
}

size_t dyce__session_plan_parts(dyce_session *s, int splits,
                                const dyce__graph *g, uint32_t j, size_t at) {
  const dyce__node *n = &g->nodes[j];
  size_t part = 0;
  uint32_t parts = 1;
  int large = n->macs ? n->macs >= MIN_SPLIT_MACS
                      : dyce__shape_elems(g->tensors[n->out]) >= MIN_SPLIT_ELEMENTS;
  uint32_t most = s->threads * PARTS_PER_THREAD;
  if (most > DYCE__POOL_MAX_TASKS) most = DYCE__POOL_MAX_TASKS;
  if (splits && n->def->split && large)
    parts = n->def->split(n, g->tensors, s->kernels, most, &part);
  if (parts < 2 || parts > DYCE__POOL_MAX_TASKS) {
    s->node_parts[at] = 1;
    s->node_part_bytes[at] = 0;
    return n->scratch_bytes;
  }
  s->node_parts[at] = parts;
  s->node_part_bytes[at] = dyce__align_up(part, DYCE__BUFFER_ALIGN);
  return s->threads * s->node_part_bytes[at];
}

typedef struct split_job {
  const dyce__node *node; /* the first of `chain` consecutive nodes */
  const dyce__shape *shapes;
  const dyce__kernels *k;
  float *const *ptr;
  void *const *scratch;     /* per node of the chain */
  const size_t *part_bytes; /* per node of the chain */
  uint32_t parts, threads, chain;
  uint64_t busy; /* workspaces in use, one bit each (threads <= 64) */
} split_job;

/* A free workspace: there is one per thread and at most that many parts
 * run at once, so one is always free. */
static uint32_t take_workspace(split_job *job) {
  for (uint32_t i = 0;; i = (i + 1) % job->threads) {
    uint64_t bit = (uint64_t)1 << i, busy = __atomic_load_n(&job->busy, __ATOMIC_RELAXED);
    if (!(busy & bit) && __atomic_compare_exchange_n(&job->busy, &busy, busy | bit, 0,
                                                     __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
      return i;
  }
}

/* Part `part` of every node of the chain, in order (chains.c). */
static void run_part(void *ctx, size_t part) {
  split_job *job = ctx;
  uint32_t w = take_workspace(job);
  for (uint32_t i = 0; i < job->chain; i++) {
    const dyce__node *n = job->node + i;
    n->def->run_part(n, job->shapes, job->k, job->ptr,
                     (uint8_t *)job->scratch[i] + w * job->part_bytes[i],
                     (uint32_t)part, job->parts);
  }
  __atomic_fetch_and(&job->busy, ~((uint64_t)1 << w), __ATOMIC_RELEASE);
}

void dyce__session_run_node(dyce_session *s, const dyce__graph *g, uint32_t j,
                            size_t at, const dyce__shape *shapes,
                            float *const *ptr, void *scratch) {
  const dyce__node *n = &g->nodes[j];
  if (!s->node_chain[at]) return; /* ran in an earlier node's parts */
  if (s->node_parts[at] < 2) {
    n->def->run(n, shapes, s->kernels, ptr, scratch);
    return;
  }
  split_job job = {n, shapes, s->kernels, ptr, s->node_scratch + at,
                   s->node_part_bytes + at, s->node_parts[at], s->threads,
                   s->node_chain[at], 0};
  dyce__pool_run(s->pool, job.parts, run_part, &job);
}

uint32_t dyce_max_threads(void) { return dyce__pool_max_threads(); }

uint32_t dyce_session_threads(const dyce_session *s) {
  return s ? s->threads : 0;
}

size_t dyce_session_split_nodes(const dyce_session *s) {
  size_t count = 0, nodes = 0;
  if (!s) return 0;
  for (size_t gi = 0; gi < s->model->graph_count; gi++)
    nodes += s->model->graphs[gi].node_count;
  for (size_t i = 0; i < nodes; i++) count += s->node_parts[i] > 1;
  return count;
}

static dyce_status check_threads(uint32_t threads, dyce_error *err) {
  uint32_t max = dyce__pool_max_threads();
  if (threads == 0)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "0 threads; a session runs on 1 or more");
  if (threads > 1 && max == 1)
    return dyce__fail(err, DYCE_UNSUPPORTED,
                      "this build of the engine has no threads (%u asked for)",
                      threads);
  if (threads > max)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "%u threads asked for; this engine has %u", threads,
                      max);
  return DYCE_OK;
}

dyce_status dyce__session_start_pool(dyce_session *s, uint32_t threads,
                                     dyce_error *err) {
  dyce__pool_free(s->pool);
  s->pool = NULL;
  s->threads = 1;
  dyce_status st = check_threads(threads, err);
  if (st || threads == 1) return st;
  if ((st = dyce__pool_create(threads, &s->pool, err))) return st;
  s->threads = threads;
  return DYCE_OK;
}

/* The session at `threads`: a new pool, parts and arena. */
static dyce_status rebuild(dyce_session *s, uint32_t threads,
                           dyce_error *err) {
  dyce__session_free_arena(s);
  s->has_input = 0;
  dyce_status st = dyce__session_start_pool(s, threads, err);
  return st ? st : dyce__session_build_arena(s, err);
}

dyce_status dyce_session_set_split_min_macs(dyce_session *s, double macs,
                                            dyce_error *err) {
  if (!s) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "session is NULL");
  if (!(macs >= 0) || !(macs <= DBL_MAX))
    return dyce__fail(err, DYCE_INVALID_ARGUMENT,
                      "the split floor must be a finite number of MACs >= 0, "
                      "not %g", macs);
  if (macs == s->split_min_macs) return dyce__ok(err);
  double before = s->split_min_macs;
  uint32_t threads = s->threads;
  s->split_min_macs = macs;
  if (threads == 1) return dyce__ok(err); /* nothing splits anyway */
  dyce_status st = rebuild(s, threads, err);
  if (st) {
    /* Back to what worked; the error says why the change failed. */
    dyce_error ignored;
    s->split_min_macs = before;
    if (rebuild(s, threads, &ignored)) rebuild(s, 1, &ignored);
  }
  return st;
}

double dyce_session_split_min_macs(const dyce_session *s) {
  return s ? s->split_min_macs : 0;
}

dyce_status dyce_session_set_threads(dyce_session *s, uint32_t threads,
                                     dyce_error *err) {
  if (!s) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "session is NULL");
  dyce_status st = check_threads(threads, err);
  if (st) return st;
  if (threads == s->threads) return dyce__ok(err);
  uint32_t before = s->threads;
  st = rebuild(s, threads, err);
  if (st) {
    /* Back to what worked; the error says why the change failed. */
    dyce_error ignored;
    if (rebuild(s, before, &ignored) && before > 1) rebuild(s, 1, &ignored);
  }
  return st;
}
