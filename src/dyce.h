/*
 * dyce — a dynamic-inference engine for image classifiers.
 *
 * This is the one public header. A worked example:
 *
 *   dyce_error err;
 *   dyce_model *model;
 *   if (dyce_model_load(bytes, size, &model, &err) != DYCE_OK) {
 *     fprintf(stderr, "%s\n", err.message);  // says what and where
 *     return 1;
 *   }
 *   // `bytes` may be freed now: the model keeps its own packed weights.
 *   dyce_session *s;
 *   dyce_session_create(model, &s, &err);      // plans all memory, once
 *   size_t head;
 *   dyce_model_find_graph(model, "head", &head, &err);
 *   dyce_session_set_input(s, pixels, n, DYCE_LAYOUT_NCHW, &err);
 *   dyce_session_run(s, head, &err);           // runs head and what it needs
 *   const float *logits; size_t k;
 *   dyce_session_output(s, head, &logits, &k, &err);
 *   dyce_session_free(s);
 *   dyce_model_free(model);
 *
 * Rules every function follows:
 * - Every fallible call returns a dyce_status. When `err` is not NULL it is
 *   filled with the status and a one-line message naming what was wrong.
 * - Nothing here aborts, exits or prints. Bad input is an error, never a
 *   crash.
 * - A model is immutable after load and may be shared by many sessions. A
 *   session owns one arena planned at creation; running allocates nothing.
 *   One session must not be used by two threads at once.
 */
#ifndef DYCE_H
#define DYCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: one X-macro, DYCE_STATUS_MAP(X) with X(name, text),
 * generates the enum, names and descriptions. It is generated from
 * spec/codes.json into dyce_status.h, which ships next to this header. */
#include "dyce_status.h"

typedef enum {
#define DYCE_STATUS_ENUM(name, text) DYCE_##name,
  DYCE_STATUS_MAP(DYCE_STATUS_ENUM)
#undef DYCE_STATUS_ENUM
  DYCE_STATUS_COUNT
} dyce_status;

/* "DYCE_BAD_FORMAT" style name, and a short description. Never NULL. */
const char *dyce_status_name(dyce_status status);
const char *dyce_status_str(dyce_status status);

/* Filled by every fallible call when not NULL. */
typedef struct dyce_error {
  dyce_status status;
  char message[256];
} dyce_error;

typedef struct dyce_model dyce_model;
typedef struct dyce_session dyce_session;

typedef enum {
  DYCE_LAYOUT_NHWC = 0, /* the engine's own layout */
  DYCE_LAYOUT_NCHW = 1  /* what PyTorch and ONNX use */
} dyce_layout;

/* ---- Models --------------------------------------------------------- */

/* Parses and validates a .dyce package, then packs weights for the
 * kernels. The caller keeps ownership of `bytes`; the model copies what it
 * needs, so `bytes` may be freed when this returns. On failure *out is
 * NULL. Free the model with dyce_model_free after its last session. */
dyce_status dyce_model_load(const void *bytes, size_t size, dyce_model **out,
                            dyce_error *err);
/* The same, packing the weights in place: on success the model takes
 * ownership of `bytes` (which must come from malloc; dyce_model_free
 * frees it) and overwrites its weight section, so a model costs about
 * its file size instead of twice that while loading (what a browser
 * wants: WASM memory never shrinks). On failure the caller keeps `bytes`,
 * possibly modified. */
dyce_status dyce_model_load_inplace(void *bytes, size_t size, dyce_model **out,
                                    dyce_error *err);
void dyce_model_free(dyce_model *model); /* NULL is allowed */

/* Description of one graph. Pointers live as long as the model. */
typedef struct dyce_graph_info {
  const char *name;
  size_t source;      /* graph feeding this one, or DYCE_NO_GRAPH */
  uint64_t macs;      /* multiply-accumulates of one run of this graph */
  size_t node_count;
  size_t tensor_count;
  uint32_t input_dims[4];  /* NHWC */
  uint32_t output_dims[4]; /* NHWC */
  size_t int8_nodes;       /* nodes that run on int8 tensors (docs/INT8.md) */
  int output_int8;         /* the output is int8: dyce_session_output_int8 */
} dyce_graph_info;

#define DYCE_NO_GRAPH ((size_t)-1)

size_t dyce_model_graph_count(const dyce_model *model);
dyce_status dyce_model_graph_info(const dyce_model *model, size_t graph,
                                  dyce_graph_info *out, dyce_error *err);
dyce_status dyce_model_find_graph(const dyce_model *model, const char *name,
                                  size_t *graph, dyce_error *err);
/* Sum of the MACs of `graph` and every graph on its source path. */
uint64_t dyce_model_path_macs(const dyce_model *model, size_t graph);

/*
 * Width levels (REDS nested subnetworks, optional LEVL section): level 0
 * is the network as stored; level l runs a prefix of each layer's channels
 * with the same weights. A configuration names its level (dyce_config).
 */
#define DYCE_NO_LEVEL ((size_t)-1)
size_t dyce_model_level_count(const dyce_model *model); /* >= 1 */
/* "full" for level 0 of a package without LEVL; NULL when out of range. */
const char *dyce_model_level_name(const dyce_model *model, size_t level);
/* MACs of one run of `graph` at `level`; 0 when either is out of range. */
uint64_t dyce_model_graph_macs(const dyce_model *model, size_t graph, size_t level);
/* The same for `graph` and every graph on its source path. */
uint64_t dyce_model_level_path_macs(const dyce_model *model, size_t graph, size_t level);
/* 1 when `graph` or a graph on its source path has fewer channels at
 * `level` than stored (its outputs differ from level 0's). */
int dyce_model_graph_narrowed(const dyce_model *model, size_t graph, size_t level);
/* The level an exit was trained for, from its name
 * exit<p>_<type>_<level name>; DYCE_NO_LEVEL for every other graph. */
size_t dyce_model_graph_level(const dyce_model *model, size_t graph);
/* The exit `level` trained in place of the full width's exit `graph`
 * (<graph>_<level name>), or DYCE_NO_GRAPH. */
size_t dyce_model_level_exit(const dyce_model *model, size_t graph, size_t level);

/* Input specification: tensor = (pixel * pixel_scale - mean[c]) / std[c]. */
typedef struct dyce_input_spec {
  uint32_t height, width, channels;
  float pixel_scale;
  const float *mean; /* [channels] */
  const float *std;  /* [channels] */
} dyce_input_spec;
void dyce_model_input_spec(const dyce_model *model, dyce_input_spec *out);

/* Class labels; count 0 when the package has none. NULL when out of range. */
size_t dyce_model_label_count(const dyce_model *model);
const char *dyce_model_label(const dyce_model *model, size_t index);

/* Bytes of packed weights the model holds. */
size_t dyce_model_weight_bytes(const dyce_model *model);

/* Describes a node for tools such as `dyce info`. */
typedef struct dyce_node_info {
  const char *op;         /* "conv2d", ...; "log_softmax" for a softmax node
                             with the log flag */
  const char *activation; /* fused activation, "none" if none */
  uint32_t output_dims[4];
  uint64_t macs;
  const char *dtype;      /* "float32" or "int8": the output's type */
} dyce_node_info;
dyce_status dyce_model_node_info(const dyce_model *model, size_t graph,
                                 size_t node, dyce_node_info *out,
                                 dyce_error *err);

/* ---- Sessions ------------------------------------------------------- */

/* Plans every activation of every graph into one arena and allocates it.
 * The model must outlive the session. */
dyce_status dyce_session_create(const dyce_model *model, dyce_session **out,
                                dyce_error *err);
void dyce_session_free(dyce_session *session); /* NULL is allowed */

/* Bytes of the session's activation arena. */
size_t dyce_session_arena_bytes(const dyce_session *session);

/* Threads. A session runs on one thread (the caller's) until told
 * otherwise. With `threads` > 1 it splits its large convolutions into
 * bands of output rows that run at once on a pool of that many threads,
 * the caller's included (small nodes and tiny models stay on the caller's
 * thread: splitting them costs more than it saves). Results are
 * bit-identical to one thread. Replans the arena (allocates) and forgets
 * the current input. Natively the pool is Debian's pthreadpool; under
 * WebAssembly only the -mt builds have threads, as many as the workers
 * their host started plus one. DYCE_UNSUPPORTED or DYCE_INVALID_ARGUMENT
 * beyond dyce_max_threads(). */
dyce_status dyce_session_set_threads(dyce_session *session, uint32_t threads,
                                     dyce_error *err);
/* dyce_session_create on `threads` threads: the arena is planned once,
 * for that count (create + set_threads would plan and allocate twice). */
dyce_status dyce_session_create_threads(const dyce_model *model,
                                        uint32_t threads, dyce_session **out,
                                        dyce_error *err);
uint32_t dyce_session_threads(const dyce_session *session);
/* Nodes of every graph that run split across threads (0 on one thread);
 * of those, the nodes run in the parts of the node before them, with no
 * wait in between (docs/THREADS.md, "Chains"). */
size_t dyce_session_split_nodes(const dyce_session *session);
size_t dyce_session_chained_nodes(const dyce_session *session);
/* Small models run whole on the caller's thread, whatever the thread
 * count: a model splits nothing when its costliest answer (a graph and
 * every graph it reads from) takes fewer than this many multiply-adds.
 * Measured on a 2-core machine at a frame's idle gap (25 ms) between runs:
 * a second thread then made the 31 M MAC Fashion-MNIST backbone and the 56 M
 * MobileNetV3-Small slower (0.7-0.9x), MobileNetV2 (300 M) faster (1.5x). */
#define DYCE_SPLIT_MIN_MODEL_MACS 100e6
/* Sets that floor (`macs` >= 0, finite; 0 splits every model's large
 * nodes); with threads, replans as dyce_session_set_threads does. */
dyce_status dyce_session_set_split_min_macs(dyce_session *session,
                                            double macs, dyce_error *err);
double dyce_session_split_min_macs(const dyce_session *session);
/* The most threads a session can have in this build (1: no threads). */
uint32_t dyce_max_threads(void);
/* Warm-up for a JIT that optimises code by use (V8): every kernel family
 * `rounds` times on small synthetic tensors, no model, writing only
 * `buffer` (>= dyce_warm_up_bytes(), any alignment). Any thread. */
size_t dyce_warm_up_bytes(void);
dyce_status dyce_warm_up(void *buffer, size_t bytes, uint32_t rounds, dyce_error *err);

#if defined(__wasm__) && defined(__wasm_atomics__)
/* The threaded WebAssembly builds' host interface (wasm/threads.mjs): the
 * host says how many workers it starts and whether the engine's thread may
 * block (not a page's main thread), then each worker instantiates the
 * module on the shared memory, sets its own __stack_pointer and calls
 * dyce_wasm_thread_main, which never returns (see src/core/pool_wasm.c). */
void dyce_wasm_set_workers(uint32_t workers, uint32_t can_block);
void dyce_wasm_thread_main(void);
#endif

/* Copies one input tensor (batch 1, `count` floats, already normalised) into
 * the session and forgets every result of the previous input. Refuses a
 * wrong element count, NaN and infinity. */
dyce_status dyce_session_set_input(dyce_session *session, const float *data,
                                   size_t count, dyce_layout layout,
                                   dyce_error *err);

/* Where a caller may put the next input before dyce_session_set_input
 * copies it in (room for the model's input elements): the scratch every
 * graph shares, unused between runs, so a host that must copy the input
 * into the engine's memory anyway (WebAssembly) needs no buffer of its
 * own. Its contents are lost at the next run; the pointer changes with
 * dyce_session_set_threads. NULL for a NULL session or one without an
 * arena. */
float *dyce_session_input_staging(dyce_session *session);

/* Runs `graph`, first running every graph on its source path that has not
 * run yet for the current input. A graph already run is not run again. */
dyce_status dyce_session_run(dyce_session *session, size_t graph,
                             dyce_error *err);

/* True when `graph` has run for the current input. */
int dyce_session_has_run(const dyce_session *session, size_t graph);

/* The output of a graph that has run, NHWC; valid until the next
 * set_input or free. */
dyce_status dyce_session_output(const dyce_session *session, size_t graph,
                                const float **data, size_t *count,
                                dyce_error *err);
/* The same for a graph whose output is int8 (dyce_graph_info.output_int8;
 * dyce_session_output refuses it): real value = scale * (q - zero_point). */
dyce_status dyce_session_output_int8(const dyce_session *session,
                                     size_t graph, const int8_t **data,
                                     size_t *count, float *scale,
                                     int32_t *zero_point, dyce_error *err);

/* ---- Cascade -------------------------------------------------------- */

/* A package whose graphs follow dyce's naming is a cascade:
 *   saver0, saver1, ...   tiny models reading the input
 *   stage1 ... stageS     the backbone, each stage reading the previous one
 *   exit<p>_<type>        exits reading stage p (position p, 1..S)
 *   head                  the final classifier, reading stageS
 * A package with one graph is a cascade of just that graph (its head).
 * classify runs: saver (if enabled) -> stage 1 -> exit 1 (if enabled) ->
 * stage 2 -> ... -> head, stopping at the first answer whose confidence
 * is strictly greater than its threshold. */

#define DYCE_MAX_POSITIONS 32
#define DYCE_MAX_SAVERS 16

typedef enum {
  DYCE_CONFIDENCE_MAX_SOFTMAX = 0, /* top-1 softmax probability */
  DYCE_CONFIDENCE_MARGIN = 1,      /* top-1 minus top-2 probability */
  DYCE_CONFIDENCE_ENTROPY = 2      /* 1 - entropy / ln(classes) */
} dyce_confidence;

/* A configuration: which saver and which exit at each position, with
 * thresholds. Plain data of fixed size: switching is a copy. A threshold
 * below 0 always exits; one of 1 or more never does. */
typedef struct dyce_config {
  size_t saver;             /* graph index or DYCE_NO_GRAPH */
  float saver_threshold;
  dyce_confidence confidence;
  size_t exit[DYCE_MAX_POSITIONS]; /* [p-1]: exit graph at position p, or DYCE_NO_GRAPH */
  float threshold[DYCE_MAX_POSITIONS];
  size_t level;             /* width level; 0 = the network as stored */
} dyce_config;

typedef struct dyce_cascade_info {
  size_t stage_count;       /* exit positions are 1..stage_count */
  size_t saver_count;
  size_t head;              /* graph index */
  size_t config_count;      /* configurations shipped in the package */
} dyce_cascade_info;

/* DYCE_NOT_FOUND when the package has no head (no graph named "head" and
 * more than one graph). */
dyce_status dyce_model_cascade(const dyce_model *model, dyce_cascade_info *out,
                               dyce_error *err);
/* Graph indices by role; DYCE_NO_GRAPH when out of range. */
size_t dyce_model_stage(const dyce_model *model, size_t stage /* 1..S */);
size_t dyce_model_saver(const dyce_model *model, size_t i);
size_t dyce_model_exit_count(const dyce_model *model, size_t position);
size_t dyce_model_exit(const dyce_model *model, size_t position, size_t i);

/* What the search measured for a shipped configuration (validation). */
typedef struct dyce_config_meta {
  const char *name;
  float accuracy;           /* on the validation split; -1 if unknown */
  double mean_macs;         /* on the validation split; -1 if unknown */
} dyce_config_meta;

dyce_status dyce_model_config(const dyce_model *model, size_t index,
                              dyce_config *out, dyce_config_meta *meta,
                              dyce_error *err);
dyce_status dyce_model_find_config(const dyce_model *model, const char *name,
                                   size_t *index, dyce_error *err);
/* The configuration with no saver and no exits: the full backbone. */
void dyce_config_backbone(const dyce_model *model, dyce_config *out);
/* Checks that every graph in `config` has the role it is used in. */
dyce_status dyce_config_check(const dyce_model *model,
                              const dyce_config *config, dyce_error *err);

/* Validates and copies `config` into the session; no allocation. */
dyce_status dyce_session_set_config(dyce_session *session,
                                    const dyce_config *config,
                                    dyce_error *err);
/* The same with the package's configuration `index`. */
dyce_status dyce_session_use_config(dyce_session *session, size_t index,
                                    dyce_error *err);

typedef struct dyce_classify_options {
  double deadline_ms;       /* 0: none. Checked before each graph. */
  uint64_t mac_budget;      /* 0: none. A graph that would exceed it is not run. */
} dyce_classify_options;

typedef struct dyce_result {
  size_t index;             /* predicted class */
  float score;              /* its softmax probability */
  float confidence;         /* the configured confidence measure */
  size_t graph;             /* graph that answered */
  size_t position;          /* 0 saver, p = exit at stage p, S+1 head */
  uint64_t macs;            /* MACs of every graph that ran for this input */
  double ms;                /* wall time of classify */
  int budget_exhausted;     /* 1: deadline or budget stopped the cascade;
                               the answer is the latest one computed */
} dyce_result;

/* Runs the cascade on the current input (dyce_session_set_input) under the
 * session's configuration (by default the backbone). `options` may be
 * NULL. Graphs already run for this input are not run again. */
dyce_status dyce_session_classify(dyce_session *session,
                                  const dyce_classify_options *options,
                                  dyce_result *out, dyce_error *err);

/* ---- Records -------------------------------------------------------- */

/* Per-sample predictions of every logit-producing graph on every data split
 * (docs/FORMAT.md, "records file"): what the configuration search reads. */
typedef struct dyce_records dyce_records;

/* Parses and validates a records file. The caller keeps ownership of
 * `bytes`; the records copy what they need. */
dyce_status dyce_records_load(const void *bytes, size_t size,
                              dyce_records **out, dyce_error *err);
void dyce_records_free(dyce_records *records); /* NULL is allowed */

size_t dyce_records_graph_count(const dyce_records *records);
size_t dyce_records_split_count(const dyce_records *records);
size_t dyce_records_class_count(const dyce_records *records);
/* NULL / 0 when out of range. */
const char *dyce_records_graph_name(const dyce_records *records, size_t graph);
uint64_t dyce_records_graph_macs(const dyce_records *records, size_t graph);
dyce_status dyce_records_find_graph(const dyce_records *records,
                                    const char *name, size_t *graph,
                                    dyce_error *err);
dyce_status dyce_records_find_split(const dyce_records *records,
                                    const char *name, size_t *split,
                                    dyce_error *err);

/* One split: `count` samples, their positions in the source data set and
 * their true labels. Pointers live as long as the records. */
typedef struct dyce_split {
  const char *name;
  size_t count;
  const uint32_t *index;
  const uint16_t *label; /* class indices < dyce_records_class_count */
} dyce_split;
dyce_status dyce_records_split(const dyce_records *records, size_t split,
                               dyce_split *out, dyce_error *err);

/* Predictions of `graph` on `split`: top-1 class and max-softmax
 * confidence per sample. */
dyce_status dyce_records_predictions(const dyce_records *records,
                                     size_t split, size_t graph,
                                     const uint16_t **top1, const float **conf,
                                     dyce_error *err);

/* ---- Configuration search --------------------------------------------- */

/* DyCE's searches and TinySaver's saver selection over recorded
 * predictions (docs/SEARCH.md). The records must hold every saver, exit
 * and the head of the model's cascade, by graph name. */
typedef enum {
  DYCE_SEARCH_ONEPASS = 0,   /* positions in order, best option each */
  DYCE_SEARCH_CIRCULAR = 1,  /* best single change per round, until none helps */
  DYCE_SEARCH_SAMETHRES = 2, /* baseline: one exit type everywhere, one threshold */
  DYCE_SEARCH_BOTH = 3       /* onepass and circular candidates, one Pareto list */
} dyce_search_method;

typedef struct dyce_search_options {
  dyce_search_method method;
  const char *search_split;  /* records split searched on, e.g. "train" */
  const char *eval_split;    /* split the Pareto list is measured on, e.g. "val" */
  double lambda_min, lambda_max, lambda_step; /* J = l(1-A) + (1-l)C sweep */
  int use_savers;            /* 1: the saver is position 0 of the search */
  /* Width levels searched: DYCE_NO_LEVEL (default) searches every level
   * of the model and merges them into one Pareto list (saver x exits x
   * width); otherwise only that level. At level l the records hold
   * "<graph>@<level name>" for each graph that level narrows (the head;
   * an exit trained for level l is named exit<p>_<type>_<level name> and
   * recorded under that name); exits without records at a level are not
   * used there. */
  size_t level;
  /* Budget fill: after the lambda sweep, this many mean-MAC budgets
   * (geometric between its cheapest and dearest configuration) each get
   * the most accurate configuration the circular search finds within
   * them, to fill the gaps a weighted objective leaves in the Pareto list
   * (it reaches only the convex hull). 0: none (the papers' search). At
   * most 4096. */
  size_t budgets;
  /* Called now and then with the fraction done; may be NULL. */
  void (*progress)(void *context, double fraction);
  void *progress_context;
} dyce_search_options;

/* Defaults: onepass, "train" -> "val", lambda 0.5 .. 1.05 step 0.001,
 * savers, every width level. */
void dyce_search_defaults(dyce_search_options *options);

typedef struct dyce_search_point {
  dyce_config config;
  double accuracy;           /* on eval_split */
  double mean_macs;          /* on eval_split */
  double lambda;             /* the lambda that found it (NaN for references
                              * and budget-fill points) */
} dyce_search_point;

/* Runs the search and returns the Pareto list on eval_split, sorted by
 * mean MACs with strictly increasing accuracy. Free with free_points. */
dyce_status dyce_search(const dyce_model *model, const dyce_records *records,
                        const dyce_search_options *options,
                        dyce_search_point **points, size_t *count,
                        dyce_error *err);
void dyce_search_free_points(dyce_search_point *points);

/* Accuracy and mean MACs of one configuration on a records split. */
dyce_status dyce_search_evaluate(const dyce_model *model,
                                 const dyce_records *records,
                                 const char *split, const dyce_config *config,
                                 double *accuracy, double *mean_macs,
                                 dyce_error *err);

/* TinySaver's selection: for each saver, sweep its threshold down from 1
 * in steps of 0.001 until it answers worse than the head on the samples it
 * accepts; r = saver MACs / backbone MACs, e = fraction accepted there,
 * delta_c = r - e (lower is better). */
typedef struct dyce_saver_score {
  size_t graph;
  float threshold;
  double r, e, delta_c;
} dyce_saver_score;
dyce_status dyce_search_rank_savers(const dyce_model *model,
                                    const dyce_records *records,
                                    const char *split,
                                    dyce_saver_score scores[DYCE_MAX_SAVERS],
                                    size_t *count, size_t *best,
                                    dyce_error *err);

/* ---- Diagnostics ---------------------------------------------------- */

/* Number of heap allocations dyce has made in this process so far. Tests
 * use it to prove that running does not allocate. */
uint64_t dyce_allocation_count(void);

#ifdef __cplusplus
}
#endif

#endif /* DYCE_H */
