/* add / mul with a second input repeated along rows (H x 1 x C), columns
 * (1 x W x C) or channels (H x W x 1), and a softmax over the positions
 * of a one-channel map: coordinate attention's gates and attention
 * pooling against the definition; shapes that repeat no way refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "test.h"

/* input 3x4x2 -> avg_pool 1x4 (3x1x2, per row) -> mul with the input ->
 * max_pool 3x1 of that (1x4x2, per column) -> add to the product. */
static const uint32_t TENSORS[][3] = {{3, 4, 2}, {3, 1, 2}, {3, 4, 2}, {1, 4, 2}, {3, 4, 2}};
static tb_node NODES[4];

static void reset_nodes(void) {
  const tb_node n[4] = {
      {.op = DYCE__OP_AVG_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1, .p = {1, 4, 1, 1}},
      {.op = DYCE__OP_MUL, .in0 = 0, .in1 = 1, .out = 2},
      {.op = DYCE__OP_MAX_POOL, .in0 = 2, .in1 = DYCE__NONE, .out = 3, .p = {3, 1, 1, 1}},
      {.op = DYCE__OP_ADD, .act = DYCE__ACT_RELU, .in0 = 2, .in1 = 3, .out = 4},
  };
  memcpy(NODES, n, sizeof n);
}

static uint8_t *build(const uint32_t (*t)[3], size_t *size) {
  tb_graph g = {"main", DYCE__NONE, t, 5, NODES, 4, 0, 4, 0};
  tb_package pkg = {.h = 3, .w = 4, .c = 2, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void rows_and_columns(void) {
  reset_nodes();
  size_t size;
  uint8_t *bytes = build(TENSORS, &size);
  float x[24], y[24], row[6], prod[24], col[8];
  for (int i = 0; i < 24; i++) x[i] = (float)((i * 7) % 11) - 4.0f;
  if (!run_package(bytes, size, x, 24, y, 24)) return;
  for (int r = 0; r < 3; r++)
    for (int k = 0; k < 2; k++) {
      float sum = 0;
      for (int c = 0; c < 4; c++) sum += x[(r * 4 + c) * 2 + k];
      row[r * 2 + k] = sum / 4;
    }
  for (int i = 0; i < 24; i++) prod[i] = x[i] * row[(i / 8) * 2 + i % 2];
  for (int c = 0; c < 4; c++)
    for (int k = 0; k < 2; k++) {
      float mx = -1e30f;
      for (int r = 0; r < 3; r++) mx = fmaxf(mx, prod[(r * 4 + c) * 2 + k]);
      col[c * 2 + k] = mx;
    }
  int bad = 0;
  for (int i = 0; i < 24; i++) {
    float want = fmaxf(0.0f, prod[i] + col[((i / 2) % 4) * 2 + i % 2]);
    bad += fabsf(y[i] - want) > 1e-5f;
  }
  CHECK_MSG(bad == 0, "%d of 24 outputs differ", bad);
}

/* A 3x2x2 second input repeats neither along rows nor columns of 3x4x2. */
static void other_shapes_refused(void) {
  static const uint32_t t[][3] = {{3, 4, 2}, {3, 2, 2}, {3, 4, 2}, {1, 4, 2}, {3, 4, 2}};
  reset_nodes();
  NODES[0].p[1] = 2, NODES[0].p[3] = 2;   /* avg_pool 1x2 stride 2: 3x2x2 */
  size_t size;
  uint8_t *bytes = build(t, &size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK(dyce_model_load(bytes, size, &m, &err) == DYCE_BAD_FORMAT);
  CHECK_MSG(strstr(err.message, "node 1 (mul): second input 3x2x2 neither matches "
                                "3x4x2 nor is 1x1x2, 3x1x2, 1x4x2 or 3x4x1"), "%s", err.message);
  free(bytes);
}

/* Attention pooling: input 2x3x2 -> conv 1x1 to one channel -> softmax
 * over its six positions -> the input times those weights, per pixel. */
static void pixels_and_softmax_over_positions(void) {
  static const uint32_t t[][3] = {{2, 3, 2}, {2, 3, 1}, {2, 3, 1}, {2, 3, 2}};
  static const float w[2] = {0.5f, -1.0f};
  const tb_node n[3] = {
      {.op = DYCE__OP_CONV2D, .in0 = 0, .in1 = DYCE__NONE, .out = 1, .weights = w,
       .weight_count = 2, .p = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}},
      {.op = DYCE__OP_SOFTMAX, .in0 = 1, .in1 = DYCE__NONE, .out = 2, .p = {0, 1}},
      {.op = DYCE__OP_MUL, .in0 = 0, .in1 = 2, .out = 3}};
  tb_graph g = {"main", DYCE__NONE, t, 4, n, 3, 0, 3, 12};
  tb_package pkg = {.h = 2, .w = 3, .c = 2, .graphs = &g, .graph_count = 1};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  float x[12], y[12], a[6], sum = 0;
  for (int i = 0; i < 12; i++) x[i] = (float)((i * 5) % 7) * 0.5f - 1.0f;
  for (int i = 0; i < 6; i++) a[i] = expf(0.5f * x[2 * i] - x[2 * i + 1]), sum += a[i];
  if (!run_package(bytes, size, x, 12, y, 12)) return;
  int bad = 0;
  for (int i = 0; i < 12; i++) bad += fabsf(y[i] - x[i] * a[i / 2] / sum) > 1e-6f;
  CHECK_MSG(bad == 0, "%d of 12 outputs differ", bad);
}

/* The over-all flag takes a one-channel tensor only, and 0 or 1. */
static void softmax_over_all_fields_refused(void) {
  static const uint32_t t[][3] = {{2, 3, 2}, {2, 3, 2}};
  for (int flag = 1; flag <= 2; flag++) {
    const tb_node n[1] = {{.op = DYCE__OP_SOFTMAX, .in0 = 0, .in1 = DYCE__NONE, .out = 1, .p = {0, flag}}};
    tb_graph g = {"main", DYCE__NONE, t, 2, n, 1, 0, 1, 0};
    tb_package pkg = {.h = 2, .w = 3, .c = 2, .graphs = &g, .graph_count = 1};
    size_t size;
    uint8_t *bytes = tb_build(&pkg, &size);
    dyce_model *m = NULL;
    dyce_error err;
    CHECK(dyce_model_load(bytes, size, &m, &err) == DYCE_BAD_FORMAT);
    CHECK_MSG(strstr(err.message, flag == 1 ? "softmax over every element of a 2-channel tensor: only of a one-channel one"
                                            : "softmax: over-all flag 2 is neither 0 nor 1"), "%s", err.message);
    free(bytes);
  }
}

const test_case broadcast_tests[] = {
    {"broadcast", "pixels_and_softmax_over_positions", pixels_and_softmax_over_positions},
    {"broadcast", "softmax_over_all_fields_refused", softmax_over_all_fields_refused},
    {"broadcast", "rows_and_columns", rows_and_columns},
    {"broadcast", "other_shapes_refused", other_shapes_refused},
    {0},
};
