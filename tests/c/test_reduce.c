/* channel_reduce (the mean and the maximum of each pixel's channels) and
 * adaptive_pool (of PyTorch's adaptive bins, shrinking and growing), run
 * by the engine against the definitions (in double), and every field
 * refused with a message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "test.h"

/* input 2x3x4 -> channel_reduce -> 2x3x1. */
static const uint32_t TENSORS[][3] = {{2, 3, 4}, {2, 3, 1}};
static tb_node NODE;

static void reset_node(int max) {
  NODE = (tb_node){.op = DYCE__OP_CHANNEL_REDUCE, .in0 = 0, .in1 = DYCE__NONE,
                   .out = 1};
  NODE.p[DYCE__P_REDUCE_MAX] = max;
}

static uint8_t *build(size_t *size) {
  static const tb_graph g = {"main", DYCE__NONE, TENSORS, 2, &NODE, 1, 0, 1, 0};
  tb_package pkg = {.h = 2, .w = 3, .c = 4, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void channel_reduce_runs(void) {
  float x[24], y[6];
  for (int i = 0; i < 24; i++) x[i] = (float)(i * 7 % 13) - 6.25f;
  for (int max = 0; max <= 1; max++) {
    reset_node(max);
    size_t size;
    uint8_t *bytes = build(&size);
    if (!run_package(bytes, size, x, 24, y, 6)) return;
    for (int i = 0; i < 6; i++) {
      double want = max ? -1e30 : 0;
      for (int k = 0; k < 4; k++)
        want = max ? fmax(want, x[i * 4 + k]) : want + x[i * 4 + k] / 4.0;
      CHECK_MSG(fabs(y[i] - want) < 1e-6, "%s of pixel %d: %g, want %g",
                max ? "max" : "mean", i, (double)y[i], want);
    }
  }
}

static void expect_refused(const char *needle) {
  size_t size;
  uint8_t *bytes = build(&size);
  check_refused(bytes, size, needle);
}

static void channel_reduce_fields_refused(void) {
  static const float one = 1.0f;
  reset_node(2);
  expect_refused("graph 'main' node 0 (channel_reduce): channel_reduce: p[0] is 2, "
                 "not 0 (mean) or 1 (max)");
  reset_node(0);
  NODE.act = DYCE__ACT_RELU;
  expect_refused("node 0 (channel_reduce): cannot fuse an activation");
  reset_node(0);
  NODE.weights = &one, NODE.weight_count = 1;
  expect_refused("node 0 (channel_reduce): has 1 weights, expected 0");
  reset_node(0);
  NODE.in1 = 0;
  expect_refused("node 0 (channel_reduce): takes one input but names two");
}

/* One output channel at the input's height and width. */
static void channel_reduce_size_refused(void) {
  static const uint32_t t[][3] = {{2, 3, 4}, {2, 3, 4}};
  const tb_node n = {.op = DYCE__OP_CHANNEL_REDUCE, .in0 = 0, .in1 = DYCE__NONE, .out = 1};
  tb_graph g = {"main", DYCE__NONE, t, 2, &n, 1, 0, 1, 0};
  tb_package pkg = {.h = 2, .w = 3, .c = 4, .graphs = &g, .graph_count = 1};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  check_refused(bytes, size, "output tensor 1 is 2x3x4 but the op gives 2x3x1");
}

/* input h x w x 2 -> adaptive_pool -> oh x ow x 2, against the bins
 * written out: rows floor(i*h/oh) .. ceil((i+1)*h/oh). */
static void adaptive_case(uint32_t h, uint32_t w, uint32_t oh, uint32_t ow) {
  const uint32_t t[][3] = {{h, w, 2}, {oh, ow, 2}};
  float x[2 * 8 * 8], y[2 * 8 * 8];
  for (uint32_t i = 0; i < h * w * 2; i++) x[i] = (float)(i * 11 % 17) - 8.5f;
  for (int max = 0; max <= 1; max++) {
    tb_node n = {.op = DYCE__OP_ADAPTIVE_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1};
    n.p[DYCE__P_ADAPTIVE_MAX] = max;
    tb_graph g = {"main", DYCE__NONE, t, 2, &n, 1, 0, 1, 0};
    tb_package pkg = {.h = h, .w = w, .c = 2, .graphs = &g, .graph_count = 1};
    size_t size;
    uint8_t *bytes = tb_build(&pkg, &size);
    if (!run_package(bytes, size, x, h * w * 2, y, oh * ow * 2)) return;
    for (uint32_t i = 0; i < oh; i++)
      for (uint32_t j = 0; j < ow; j++)
        for (uint32_t k = 0; k < 2; k++) {
          uint32_t y0 = i * h / oh, y1 = ((i + 1) * h + oh - 1) / oh;
          uint32_t x0 = j * w / ow, x1 = ((j + 1) * w + ow - 1) / ow;
          double want = max ? -1e30 : 0;
          for (uint32_t a = y0; a < y1; a++)
            for (uint32_t b = x0; b < x1; b++) {
              double v = x[(a * w + b) * 2 + k];
              want = max ? fmax(want, v) : want + v / ((y1 - y0) * (x1 - x0));
            }
          float got = y[(i * ow + j) * 2 + k];
          CHECK_MSG(fabs(got - want) < 1e-5, "%ux%u -> %ux%u %s (%u,%u,%u): %g, want %g",
                    h, w, oh, ow, max ? "max" : "mean", i, j, k, (double)got, want);
        }
  }
}

static void adaptive_pool_runs(void) {
  adaptive_case(7, 5, 3, 2);  /* overlapping bins */
  adaptive_case(7, 7, 2, 2);
  adaptive_case(3, 2, 5, 4);  /* growing: bins of one or two pixels */
}

static void adaptive_pool_fields_refused(void) {
  static const uint32_t t[][3] = {{4, 4, 2}, {3, 3, 2}};
  tb_node n = {.op = DYCE__OP_ADAPTIVE_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1};
  tb_graph g = {"main", DYCE__NONE, t, 2, &n, 1, 0, 1, 0};
  tb_package pkg = {.h = 4, .w = 4, .c = 2, .graphs = &g, .graph_count = 1};
  size_t size;
  n.p[DYCE__P_ADAPTIVE_MAX] = 3;
  uint8_t *bytes = tb_build(&pkg, &size);
  check_refused(bytes, size, "node 0 (adaptive_pool): adaptive_pool: p[0] is 3, not 0 (mean) or 1 (max)");
  n.p[DYCE__P_ADAPTIVE_MAX] = 0;
  n.act = DYCE__ACT_RELU;
  bytes = tb_build(&pkg, &size);
  check_refused(bytes, size, "node 0 (adaptive_pool): cannot fuse an activation");
  n.act = DYCE__ACT_NONE;
  static const uint32_t t2[][3] = {{4, 4, 2}, {3, 3, 1}};
  g.tensors = t2;
  bytes = tb_build(&pkg, &size);
  check_refused(bytes, size, "output tensor 1 is 3x3x1 but the op gives 3x3x2");
}

const test_case reduce_tests[] = {
    {"reduce", "channel_reduce_runs", channel_reduce_runs},
    {"reduce", "channel_reduce_fields_refused", channel_reduce_fields_refused},
    {"reduce", "channel_reduce_size_refused", channel_reduce_size_refused},
    {"reduce", "adaptive_pool_runs", adaptive_pool_runs},
    {"reduce", "adaptive_pool_fields_refused", adaptive_pool_fields_refused},
    {0},
};
