/* channel_gather: a package that slices, repeats and reorders channels,
 * run by the engine against the definition, and every field refused with
 * a message (indices out of range, not whole, NaN; counts; bias;
 * activation; the output's size); blocks of channels per index. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "kernels/ref/ref.h"
#include "kernels/simd/simd.h"
#include "package_checks.h"
#include "dyce.h"
#include "test.h"

/* input 2x3x4 -> channel_gather [3, 1, 1, 0, 2] -> 2x3x5 -> gap. */
static const uint32_t TENSORS[][3] = {{2, 3, 4}, {2, 3, 5}, {1, 1, 5}};
static float FROM[5];
static tb_node NODES[2];

static void reset_nodes(void) {
  static const float from[5] = {3, 1, 1, 0, 2};
  memcpy(FROM, from, sizeof from);
  const tb_node n[2] = {
      {.op = DYCE__OP_CHANNEL_GATHER, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
       .weights = FROM, .weight_count = 5},
      {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 1, .in1 = DYCE__NONE, .out = 2},
  };
  memcpy(NODES, n, sizeof n);
}

static uint8_t *build(size_t *size) {
  static const tb_graph g = {"main", DYCE__NONE, TENSORS, 3, NODES, 2, 0, 2, 0};
  tb_package pkg = {.h = 2, .w = 3, .c = 4, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void channel_gather_runs(void) {
  reset_nodes();
  size_t size;
  uint8_t *bytes = build(&size);
  float x[24], y[5];
  for (int i = 0; i < 24; i++) x[i] = (float)(i * 7 % 13) - 6.0f;
  if (!run_package(bytes, size, x, 24, y, 5)) return;
  for (int k = 0; k < 5; k++) {
    float want = 0;
    for (int i = 0; i < 6; i++) want += x[i * 4 + (int)FROM[k]];
    CHECK_MSG(fabsf(y[k] - want / 6) < 1e-6f, "channel %d: %g, want %g", k,
              (double)y[k], (double)(want / 6));
  }
}

/* The package `make` builds is refused with `needle`; then `reset`. */
static void expect_refused_by(uint8_t *(*make)(size_t *), void (*reset)(void),
                              const char *needle) {
  size_t size;
  uint8_t *bytes = make(&size);
  check_refused(bytes, size, needle);
  reset();
}

static void expect_refused(const char *needle) {
  expect_refused_by(build, reset_nodes, needle);
}

static void channel_gather_fields_refused(void) {
  static const float one = 1.0f;
  reset_nodes();
  FROM[2] = 4;
  expect_refused("graph 'main' node 0 (channel_gather): channel_gather: output "
                 "channel 2 reads channel 4; the input has channels 0..3");
  FROM[0] = -1;
  expect_refused("output channel 0 reads channel -1");
  FROM[4] = 1.5f;
  expect_refused("output channel 4 reads channel 1.5");
  FROM[1] = NAN;
  expect_refused("node 0 (channel_gather): weights element 1 is not finite");
  NODES[0].weight_count = 4;
  expect_refused("node 0 (channel_gather): has 4 weights, expected 5");
  NODES[0].bias = &one, NODES[0].bias_count = 1;
  expect_refused("node 0 (channel_gather): has 1 biases, expected 0 or 0");
  NODES[0].act = DYCE__ACT_RELU;
  expect_refused("node 0 (channel_gather): cannot fuse an activation");
  NODES[0].in1 = 0;
  expect_refused("node 0 (channel_gather): takes one input but names two");
}

/* The output keeps the input's height and width. */
static void channel_gather_size_refused(void) {
  static const uint32_t t[][3] = {{2, 3, 4}, {3, 2, 5}};
  static const float from[5] = {0, 1, 2, 3, 0};
  const tb_node n[1] = {{.op = DYCE__OP_CHANNEL_GATHER, .in0 = 0,
                         .in1 = DYCE__NONE, .out = 1, .weights = from,
                         .weight_count = 5}};
  tb_graph g = {"main", DYCE__NONE, t, 2, n, 1, 0, 1, 0};
  tb_package pkg = {.h = 2, .w = 3, .c = 4, .graphs = &g, .graph_count = 1};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK(dyce_model_load(bytes, size, &m, &err) == DYCE_BAD_FORMAT);
  CHECK_MSG(strstr(err.message, "output tensor 1 is 3x2x5 but the op gives 2x3x5"),
            "%s", err.message);
  free(bytes);
}

/* Blocks (p[GATHER_BLOCK] = 3): input 1x6x3 viewed as 1x2x9 -> indices
 * [6, 0, 3, 3] -> 1x2x12, each index copying three consecutive channels. */
static tb_node BLOCK_NODE;
static float BLOCK_FROM[4];

static uint8_t *build_blocks(size_t *size) {
  static const uint32_t t[][3] = {{1, 6, 3}, {1, 2, 9}, {1, 2, 12}};
  const tb_node n[2] = {{.op = DYCE__OP_VIEW, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
                        BLOCK_NODE};
  tb_graph g = {"main", DYCE__NONE, t, 3, n, 2, 0, 2, 0};
  tb_package pkg = {.h = 1, .w = 6, .c = 3, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void reset_blocks(void) {
  static const float from[4] = {6, 0, 3, 3};
  memcpy(BLOCK_FROM, from, sizeof from);
  BLOCK_NODE = (tb_node){.op = DYCE__OP_CHANNEL_GATHER, .in0 = 1, .in1 = DYCE__NONE,
                         .out = 2, .weights = BLOCK_FROM, .weight_count = 4};
  BLOCK_NODE.p[DYCE__P_GATHER_BLOCK] = 3;
}

static void channel_gather_blocks(void) {
  reset_blocks();
  size_t size;
  uint8_t *bytes = build_blocks(&size);
  float x[18], y[24];
  for (int i = 0; i < 18; i++) x[i] = (float)i * 0.5f - 3.0f;
  if (!run_package(bytes, size, x, 18, y, 24)) return;
  for (int px = 0; px < 2; px++)
    for (int k = 0; k < 12; k++) {
      float want = x[px * 9 + (int)BLOCK_FROM[k / 3] + k % 3];
      CHECK_MSG(y[px * 12 + k] == want, "pixel %d channel %d: %g, want %g", px, k,
                (double)y[px * 12 + k], (double)want);
    }
}

static void expect_blocks_refused(const char *needle) {
  expect_refused_by(build_blocks, reset_blocks, needle);
}

static void channel_gather_blocks_refused(void) {
  reset_blocks();
  BLOCK_FROM[1] = 7; /* 7, 8, 9: past channel 8 */
  expect_blocks_refused("channel_gather: output channel 3 reads channel 7 and the "
                        "block after it; the input has channels 0..8");
  BLOCK_NODE.p[DYCE__P_GATHER_BLOCK] = 5;
  expect_blocks_refused("channel_gather: 12 output channels are not whole blocks of 5");
  BLOCK_NODE.p[DYCE__P_GATHER_BLOCK] = 10;
  expect_blocks_refused("channel_gather: p[0] (block) is 10; 0 or 1 (a channel per "
                        "index) up to the input's 9 channels");
  BLOCK_NODE.p[DYCE__P_GATHER_BLOCK] = -1;
  expect_blocks_refused("channel_gather: p[0] (block) is -1");
  BLOCK_NODE.weight_count = 3;
  expect_blocks_refused("node 1 (channel_gather): has 3 weights, expected 4");
  BLOCK_NODE.p[1] = 2;
  expect_blocks_refused("channel_gather: p[1] is 2; unused, it must be 0");
}

/* The SIMD kernel's three ways (runs copied, two halves zipped, element
 * by element) against the reference, on tables of each kind and tables
 * just off each kind. */
static void check_kernel(size_t hw, size_t c, size_t n, const uint32_t *from,
                         const char *what) {
  float *x = malloc(hw * c * sizeof *x), *y = malloc(hw * n * sizeof *y),
        *want = malloc(hw * n * sizeof *want);
  for (size_t i = 0; i < hw * c; i++) x[i] = (float)i * 0.5f - 7.0f;
  dyce__ref_channel_gather(hw, c, n, from, x, want);
  dyce__simd_channel_gather(hw, c, n, from, x, y);
  CHECK_MSG(memcmp(y, want, hw * n * sizeof *y) == 0, "%s: c %zu n %zu", what, c, n);
  free(x), free(y), free(want);
}

static void channel_gather_kernel_ways(void) {
  uint32_t from[232];
  for (size_t n = 1; n <= 116; n += (n < 12 ? 1 : 13)) {
    size_t c = 2 * n + 3;
    for (size_t k = 0; k < n; k++) from[k] = (uint32_t)(k + 3); /* a slice */
    check_kernel(5, c, n, from, "one run");
    for (size_t k = 0; k < n; k++) from[k] = (uint32_t)(k < n / 2 ? n + k : k - n / 2);
    check_kernel(5, c, n, from, "two runs swapped");
    for (size_t k = 0; k < n; k++) from[k] = (uint32_t)(k % 2 ? n + k / 2 : 1 + k / 2);
    check_kernel(5, c, n, from, "two halves interleaved");
    if (n > 2) from[n - 1] = 0;
    check_kernel(5, c, n, from, "interleaved but the last");
    for (size_t k = 0; k < n; k++) from[k] = (uint32_t)((k * 7 + 1) % c);
    check_kernel(5, c, n, from, "scattered");
    for (size_t k = 0; k < n; k++) from[k] = (uint32_t)(k / 3 * 5 + k % 3); /* runs of 3 */
    check_kernel(3, n / 3 * 5 + 3, n, from, "short runs");
  }
}

const test_case gather_tests[] = {
    {"gather", "channel_gather_kernel_ways", channel_gather_kernel_ways},
    {"gather", "channel_gather_blocks", channel_gather_blocks},
    {"gather", "channel_gather_blocks_refused", channel_gather_blocks_refused},
    {"gather", "channel_gather_runs", channel_gather_runs},
    {"gather", "channel_gather_fields_refused", channel_gather_fields_refused},
    {"gather", "channel_gather_size_refused", channel_gather_size_refused},
    {0},
};
