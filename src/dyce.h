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

/* Status codes: one X-macro generates the enum, names and descriptions. */
#define DYCE_STATUS_MAP(X)                                              \
  X(OK, "ok")                                                           \
  X(INVALID_ARGUMENT, "invalid argument")                               \
  X(BAD_FORMAT, "malformed model package")                              \
  X(UNSUPPORTED, "unsupported feature")                                 \
  X(LIMIT, "limit exceeded")                                            \
  X(OUT_OF_MEMORY, "out of memory")                                     \
  X(NOT_FOUND, "not found")                                             \
  X(BAD_INPUT, "bad input tensor")                                      \
  X(BAD_STATE, "call out of order")

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
} dyce_graph_info;

#define DYCE_NO_GRAPH ((size_t)-1)

size_t dyce_model_graph_count(const dyce_model *model);
dyce_status dyce_model_graph_info(const dyce_model *model, size_t graph,
                                  dyce_graph_info *out, dyce_error *err);
dyce_status dyce_model_find_graph(const dyce_model *model, const char *name,
                                  size_t *graph, dyce_error *err);
/* Sum of the MACs of `graph` and every graph on its source path. */
uint64_t dyce_model_path_macs(const dyce_model *model, size_t graph);

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
  const char *op;         /* "conv2d", ... */
  const char *activation; /* fused activation, "none" if none */
  uint32_t output_dims[4];
  uint64_t macs;
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

/* Copies one input tensor (batch 1, `count` floats, already normalised) into
 * the session and forgets every result of the previous input. Refuses a
 * wrong element count, NaN and infinity. */
dyce_status dyce_session_set_input(dyce_session *session, const float *data,
                                   size_t count, dyce_layout layout,
                                   dyce_error *err);

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
  const uint8_t *label;
} dyce_split;
dyce_status dyce_records_split(const dyce_records *records, size_t split,
                               dyce_split *out, dyce_error *err);

/* Predictions of `graph` on `split`: top-1 class and max-softmax
 * confidence per sample. */
dyce_status dyce_records_predictions(const dyce_records *records,
                                     size_t split, size_t graph,
                                     const uint8_t **top1, const float **conf,
                                     dyce_error *err);

/* ---- Diagnostics ---------------------------------------------------- */

/* Number of heap allocations dyce has made in this process so far. Tests
 * use it to prove that running does not allocate. */
uint64_t dyce_allocation_count(void);

#ifdef __cplusplus
}
#endif

#endif /* DYCE_H */
