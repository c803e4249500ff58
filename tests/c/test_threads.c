/* Threads: a chain of convolutions of every kind the kernels split (dense
 * by rows and by gather, 1x1, Winograd with odd output heights, depthwise
 * 3x3 and 5x5, dilation, a stride-2 stem, extra bottom padding; and by
 * output channels where the weights outweigh the input, with an
 * activation applied after the GEMM) gives the same bits on 1, 2 and 3
 * threads, and the session says what it split. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "test.h"

typedef struct layer {
  uint32_t k, stride, pad_t, pad_b, dil, out_c, depthwise;
  dyce__act act;
} layer;

/* Input 46x46x3; every layer is large enough to be split. */
static const layer LAYERS[] = {
    {7, 2, 3, 3, 1, 16, 0, DYCE__ACT_RELU},   /* stem: 23x23x16, rows path */
    {3, 1, 1, 1, 1, 32, 0, DYCE__ACT_RELU},   /* Winograd, 23 rows (odd) */
    {1, 1, 0, 0, 1, 128, 0, DYCE__ACT_RELU},  /* 1x1 */
    {3, 1, 1, 1, 1, 128, 1, DYCE__ACT_RELU},  /* depthwise 3x3 */
    {5, 1, 2, 2, 1, 128, 1, DYCE__ACT_RELU},  /* depthwise 5x5 */
    {3, 1, 2, 2, 2, 16, 0, DYCE__ACT_RELU},   /* dilated: gathered */
    {3, 2, 1, 1, 1, 32, 0, DYCE__ACT_RELU},   /* stride 2: 12x12 */
    {3, 1, 1, 3, 1, 32, 0, DYCE__ACT_RELU},   /* Winograd, bottom padding 3: 14 rows */
    {3, 2, 1, 1, 1, 64, 0, DYCE__ACT_RELU},   /* 7x7x64, by channels (rows path) */
    {1, 1, 0, 0, 1, 260, 0, DYCE__ACT_HARD_SWISH}, /* 1x1 by channels, 260: a part panel */
};
#define LAYER_COUNT (sizeof LAYERS / sizeof LAYERS[0])

/* One graph per layer ("stage1".."stage8", each reading the previous), so
 * every layer's output can be compared. */
static uint8_t *chain_model(size_t *size) {
  static uint32_t shapes[LAYER_COUNT][2][3];
  static tb_node nodes[LAYER_COUNT][1];
  static tb_graph graphs[LAYER_COUNT];
  static char names[LAYER_COUNT][16];
  static float *weights[LAYER_COUNT], *biases[LAYER_COUNT];
  uint32_t h = 46, w = 46, c = 3;
  for (size_t i = 0; i < LAYER_COUNT; i++) {
    const layer *l = &LAYERS[i];
    uint32_t span = l->dil * (l->k - 1) + 1;
    uint32_t oh = (h + l->pad_t + l->pad_b - span) / l->stride + 1;
    uint32_t ow = (w + 2 * l->pad_t - span) / l->stride + 1;
    uint32_t groups = l->depthwise ? c : 1, oc = l->depthwise ? c : l->out_c;
    uint32_t wc = oc * l->k * l->k * (c / groups);
    weights[i] = malloc(wc * sizeof(float));
    biases[i] = malloc(oc * sizeof(float));
    for (uint32_t j = 0; j < wc; j++) weights[i][j] = test_randf() * 0.3f;
    for (uint32_t j = 0; j < oc; j++) biases[i][j] = test_randf();
    uint32_t in_shape[3] = {h, w, c}, out_shape[3] = {oh, ow, oc};
    memcpy(shapes[i][0], in_shape, sizeof in_shape);
    memcpy(shapes[i][1], out_shape, sizeof out_shape);
    tb_node n = {.op = DYCE__OP_CONV2D, .act = l->act, .in0 = 0,
                 .in1 = DYCE__NONE, .out = 1, .weights = weights[i],
                 .weight_count = wc, .bias = biases[i], .bias_count = oc,
                 .p = {(int32_t)l->k, (int32_t)l->k, (int32_t)l->stride,
                       (int32_t)l->stride, (int32_t)l->pad_t,
                       (int32_t)l->pad_t, (int32_t)l->pad_b,
                       (int32_t)l->pad_t, (int32_t)l->dil, (int32_t)l->dil,
                       (int32_t)groups}};
    nodes[i][0] = n;
    snprintf(names[i], sizeof names[i], "stage%zu", i + 1);
    tb_graph g = {names[i], i == 0 ? DYCE__NONE : (uint32_t)(i - 1),
                  (const uint32_t(*)[3])shapes[i], 2, nodes[i], 1, 0, 1,
                  (uint64_t)oh * ow * oc * l->k * l->k * (c / groups)};
    graphs[i] = g;
    h = oh, w = ow, c = oc;
  }
  tb_package pkg = {46, 46, 3, graphs, LAYER_COUNT, NULL, 0, NULL, NULL, 0};
  uint8_t *bytes = tb_build(&pkg, size);
  for (size_t i = 0; i < LAYER_COUNT; i++) free(weights[i]), free(biases[i]);
  return bytes;
}

/* Every graph's output on `threads` threads, concatenated (malloc'ed). */
static float *run_all(dyce_model *m, const float *x, uint32_t threads,
                      size_t *count, size_t *split) {
  dyce_session *s = NULL;
  CHECK(dyce_session_create(m, &s, NULL) == DYCE_OK);
  dyce_error err;
  CHECK_MSG(dyce_session_set_threads(s, threads, &err) == DYCE_OK, "%s",
            err.message);
  /* The chain is a small model: split it all the same. */
  CHECK(dyce_session_set_split_min_macs(s, 0, NULL) == DYCE_OK);
  CHECK(dyce_session_threads(s) == threads);
  *split = dyce_session_split_nodes(s);
  CHECK(dyce_session_set_input(s, x, 46 * 46 * 3, DYCE_LAYOUT_NHWC, NULL) ==
        DYCE_OK);
  CHECK(dyce_session_run(s, LAYER_COUNT - 1, NULL) == DYCE_OK);
  size_t total = 0;
  float *all = NULL;
  for (size_t g = 0; g < LAYER_COUNT; g++) {
    const float *y;
    size_t n;
    CHECK(dyce_session_output(s, g, &y, &n, NULL) == DYCE_OK);
    all = realloc(all, (total + n) * sizeof(float));
    memcpy(all + total, y, n * sizeof(float));
    total += n;
  }
  dyce_session_free(s);
  *count = total;
  return all;
}

static void threads_match_one_thread(void) {
  if (dyce_max_threads() < 3) return; /* a build without threads */
  size_t size;
  uint8_t *bytes = chain_model(&size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
  free(bytes);
  float x[46 * 46 * 3];
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = test_randf();
  size_t n1, split1, split;
  float *one = run_all(m, x, 1, &n1, &split1);
  CHECK(split1 == 0);
  for (uint32_t t = 2; t <= 3; t++) {
    size_t n;
    float *many = run_all(m, x, t, &n, &split);
    CHECK_MSG(split == LAYER_COUNT, "%zu of %zu layers split on %u threads",
              split, (size_t)LAYER_COUNT, t);
    CHECK(n == n1);
    size_t differ = 0;
    for (size_t i = 0; i < n && i < n1; i++)
      differ += memcmp(&one[i], &many[i], sizeof(float)) != 0;
    CHECK_MSG(differ == 0, "%zu of %zu outputs differ on %u threads", differ, n, t);
    free(many);
  }
  free(one);
  dyce_model_free(m);
}

/* Switching back and forth keeps results, refuses what the build cannot
 * do, and forgets the input (the arena is replanned). */
static void set_threads_states(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  dyce_model *m = NULL;
  CHECK(dyce_model_load(bytes, size, &m, NULL) == DYCE_OK);
  free(bytes);
  dyce_session *s = NULL;
  CHECK(dyce_session_create(m, &s, NULL) == DYCE_OK);
  dyce_error err;
  CHECK(dyce_session_threads(s) == 1);
  CHECK(dyce_session_set_threads(s, 0, &err) == DYCE_INVALID_ARGUMENT);
  uint32_t max = dyce_max_threads();
  CHECK(dyce_session_set_threads(s, max + 1, &err) ==
        (max == 1 ? DYCE_UNSUPPORTED : DYCE_INVALID_ARGUMENT));
  CHECK_MSG(strstr(err.message, "threads") != NULL, "%s", err.message);
  CHECK(dyce_session_threads(s) == 1);
  float x[72];
  for (int i = 0; i < 72; i++) x[i] = test_randf();
  CHECK(dyce_session_set_input(s, x, 72, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK);
  if (max >= 2) {
    CHECK(dyce_session_set_threads(s, 2, &err) == DYCE_OK);
    /* The small model's only convolution is too small to split. */
    CHECK(dyce_session_split_nodes(s) == 0);
    CHECK(dyce_session_run(s, 1, &err) == DYCE_BAD_STATE);
    CHECK(dyce_session_set_input(s, x, 72, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK);
    CHECK(dyce_session_run(s, 1, &err) == DYCE_OK);
    CHECK(dyce_session_set_threads(s, 1, &err) == DYCE_OK);
    CHECK(dyce_session_threads(s) == 1);
  }
  dyce_session_free(s);
  dyce_model_free(m);
}

/* A small model splits nothing under the default floor; at 0 it splits
 * every layer, up to its own size it still does, one MAC above it nothing;
 * a floor that is no number of MACs is refused and changes nothing. */
static void small_models_stay_whole(void) {
  if (dyce_max_threads() < 2) return;
  size_t size;
  uint8_t *bytes = chain_model(&size);
  dyce_model *m = NULL;
  CHECK(dyce_model_load(bytes, size, &m, NULL) == DYCE_OK);
  free(bytes);
  /* The chain's costliest answer: its last graph. */
  double macs = (double)dyce_model_level_path_macs(m, LAYER_COUNT - 1, 0);
  CHECK(macs < DYCE_SPLIT_MIN_MODEL_MACS);
  dyce_session *s = NULL;
  dyce_error err;
  CHECK(dyce_session_create_threads(m, 2, &s, NULL) == DYCE_OK);
  CHECK(dyce_session_split_min_macs(s) == DYCE_SPLIT_MIN_MODEL_MACS);
  CHECK(dyce_session_split_nodes(s) == 0);
  CHECK(dyce_session_set_split_min_macs(s, 0, &err) == DYCE_OK);
  CHECK(dyce_session_split_nodes(s) == LAYER_COUNT);
  CHECK(dyce_session_set_split_min_macs(s, macs, &err) == DYCE_OK);
  CHECK(dyce_session_split_nodes(s) == LAYER_COUNT);
  CHECK(dyce_session_set_split_min_macs(s, macs + 1, &err) == DYCE_OK);
  CHECK(dyce_session_split_nodes(s) == 0);
  const double bad[] = {-1, NAN, INFINITY};
  for (size_t i = 0; i < 3; i++) {
    CHECK(dyce_session_set_split_min_macs(s, bad[i], &err) == DYCE_INVALID_ARGUMENT);
    CHECK_MSG(strstr(err.message, "split floor") != NULL, "%s", err.message);
    CHECK(dyce_session_split_min_macs(s) == macs + 1);
  }
  CHECK(dyce_session_set_split_min_macs(NULL, 0, &err) == DYCE_INVALID_ARGUMENT);
  /* On one thread the floor is kept for later and nothing is replanned. */
  CHECK(dyce_session_set_threads(s, 1, &err) == DYCE_OK);
  CHECK(dyce_session_set_split_min_macs(s, 0, &err) == DYCE_OK);
  CHECK(dyce_session_split_nodes(s) == 0);
  CHECK(dyce_session_set_threads(s, 2, &err) == DYCE_OK);
  CHECK(dyce_session_split_nodes(s) == LAYER_COUNT);
  dyce_session_free(s);
  dyce_model_free(m);
}

const test_case threads_tests[] = {
    {"threads", "small_models_stay_whole", small_models_stay_whole},
    {"threads", "threads_match_one_thread", threads_match_one_thread},
    {"threads", "set_threads_states", set_threads_states},
    {0}};
