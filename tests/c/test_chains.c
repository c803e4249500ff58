/* Chains (src/runtime/chains.c): the nodes of MobileNetV2-like inverted
 * residual blocks that run in the parts of the node before them, with
 * the same bits as on one thread. */
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "test.h"

/* 60x60x3 -> stem 3x3 (8) -> expand 1x1 (48) -> depthwise 3x3 -> project
 * 1x1 (8) -> add the stem's output -> expand 1x1 (48) -> depthwise 3x3
 * stride 2 -> project 1x1 (16): 30x30x16. Every convolution is large
 * enough to split on its own. */
enum { H = 60, IN = 3, C = 8, E = 48, OUT = 16 };

static const uint32_t TENSORS[9][3] = {
    {H, H, IN}, {H, H, C}, {H, H, E}, {H, H, E}, {H, H, C}, {H, H, C},
    {H, H, E}, {H / 2, H / 2, E}, {H / 2, H / 2, OUT}};

static tb_node conv(uint32_t in, uint32_t out, uint32_t k, uint32_t stride,
                    uint32_t in_c, uint32_t out_c, int depthwise, float *w,
                    float *b) {
  uint32_t pad = k / 2, groups = depthwise ? in_c : 1;
  uint32_t count = out_c * k * k * (in_c / groups);
  for (uint32_t i = 0; i < count; i++) w[i] = test_randf() * 0.3f;
  for (uint32_t i = 0; i < out_c; i++) b[i] = test_randf();
  tb_node n = {.op = DYCE__OP_CONV2D, .act = DYCE__ACT_RELU, .in0 = in,
               .in1 = DYCE__NONE, .out = out, .weights = w,
               .weight_count = count, .bias = b, .bias_count = out_c,
               .p = {(int32_t)k, (int32_t)k, (int32_t)stride, (int32_t)stride,
                     (int32_t)pad, (int32_t)pad, (int32_t)pad, (int32_t)pad, 1,
                     1, (int32_t)groups}};
  return n;
}

static uint8_t *blocks_model(size_t *size) {
  static float w[7][E * E * 9], b[7][E];
  tb_node nodes[8] = {
      conv(0, 1, 3, 1, IN, C, 0, w[6], b[6]),
      conv(1, 2, 1, 1, C, E, 0, w[0], b[0]),
      conv(2, 3, 3, 1, E, E, 1, w[1], b[1]),
      conv(3, 4, 1, 1, E, C, 0, w[2], b[2]),
      {.op = DYCE__OP_ADD, .act = DYCE__ACT_NONE, .in0 = 4, .in1 = 1, .out = 5},
      conv(5, 6, 1, 1, C, E, 0, w[3], b[3]),
      conv(6, 7, 3, 2, E, E, 1, w[4], b[4]),
      conv(7, 8, 1, 1, E, OUT, 0, w[5], b[5])};
  nodes[3].act = DYCE__ACT_NONE;
  uint64_t big = (uint64_t)H * H, small = big / 4;
  uint64_t macs = big * (IN * 9 * C + C * E + E * 9 + E * C + C * E) +
                  small * (E * 9 + E * OUT);
  tb_graph g = {"main", DYCE__NONE, TENSORS, 9, nodes, 8, 0, 8, macs};
  tb_package pkg = {H, H, IN, &g, 1, NULL, 0, NULL, NULL, 0};
  return tb_build(&pkg, size);
}

/* The output on `threads` threads (malloc'ed), and how many nodes split
 * and how many of those joined a chain. */
static float *run_blocks(dyce_model *m, const float *x, uint32_t threads,
                         size_t *split, size_t *chained) {
  dyce_session *s = NULL;
  dyce_error err;
  CHECK_MSG(dyce_session_create_threads(m, threads, &s, &err) == DYCE_OK, "%s",
            err.message);
  CHECK(dyce_session_set_split_min_macs(s, 0, NULL) == DYCE_OK);
  *split = dyce_session_split_nodes(s);
  *chained = dyce_session_chained_nodes(s);
  CHECK(dyce_session_set_input(s, x, H * H * IN, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK);
  CHECK(dyce_session_run(s, 0, NULL) == DYCE_OK);
  const float *y;
  size_t n;
  CHECK(dyce_session_output(s, 0, &y, &n, NULL) == DYCE_OK);
  CHECK(n == (size_t)H / 2 * H / 2 * OUT);
  float *copy = malloc(n * sizeof(float));
  memcpy(copy, y, n * sizeof(float));
  dyce_session_free(s);
  return copy;
}

/* The first expand joins the stem's parts; project, add and the next
 * expand the depthwise layer's; the last project the strided depthwise
 * layer's: 5 of the 8 nodes, on two threads and on three (bands of 15
 * and 10 rows), with one thread's bits. */
static void blocks_chain(void) {
  if (dyce_max_threads() < 3) return; /* a build without threads */
  size_t size, split, chained;
  uint8_t *bytes = blocks_model(&size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
  free(bytes);
  static float x[H * H * IN];
  for (size_t i = 0; i < sizeof x / sizeof x[0]; i++) x[i] = test_randf();
  float *one = run_blocks(m, x, 1, &split, &chained);
  CHECK(split == 0 && chained == 0);
  for (uint32_t t = 2; t <= 3; t++) {
    float *many = run_blocks(m, x, t, &split, &chained);
    CHECK_MSG(split == 8 && chained == 5, "%u threads: %zu split, %zu chained",
              t, split, chained);
    size_t differ = 0, n = (size_t)H / 2 * H / 2 * OUT;
    for (size_t i = 0; i < n; i++) differ += memcmp(&one[i], &many[i], sizeof(float)) != 0;
    CHECK_MSG(differ == 0, "%zu of %zu outputs differ on %u threads", differ, n, t);
    free(many);
  }
  free(one);
  dyce_model_free(m);
}

const test_case chains_tests[] = {
    {"threads", "blocks_chain", blocks_chain},
    {0}};
