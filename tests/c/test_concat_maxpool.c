/* concat and global_max_pool: the SIMD kernels against the reference at
 * edge sizes, the reference against a by-hand definition, a package whose
 * concat reads a tensor only through its further inputs (p[1..]), so the
 * memory planner must keep that tensor alive, and every field of the two
 * ops refused with a message naming graph, node, op and field. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "kernels/kernels.h"
#include "test.h"

static const dyce__kernels *S(void) { return &dyce__kernels_simd; }
static const dyce__kernels *R(void) { return &dyce__kernels_ref; }

static void concat_kernel_edges(void) {
  static const size_t hws[] = {1, 3, 7};
  static const size_t widths[] = {1, 3, 4, 5, 17, 2, 8, 1, 9, 6, 4, 3, 1};
  for (size_t h = 0; h < 3; h++)
    for (size_t count = 2; count <= DYCE__MAX_NODE_INPUTS; count++) {
      size_t hw = hws[h], total = 0, c[DYCE__MAX_NODE_INPUTS];
      const float *in[DYCE__MAX_NODE_INPUTS];
      float *owned[DYCE__MAX_NODE_INPUTS];
      for (size_t t = 0; t < count; t++) {
        c[t] = widths[(t + count) % 13];
        total += c[t];
        owned[t] = malloc(hw * c[t] * sizeof(float));
        for (size_t i = 0; i < hw * c[t]; i++) owned[t][i] = test_randf();
        in[t] = owned[t];
      }
      float *y = malloc(hw * total * 4), *want = malloc(hw * total * 4);
      S()->concat_channels(hw, count, c, in, y);
      R()->concat_channels(hw, count, c, in, want);
      CHECK_MSG(memcmp(y, want, hw * total * 4) == 0, "concat hw%zu count%zu",
                hw, count);
      /* By hand: output channel k of pixel i comes from input t. */
      int bad = 0;
      for (size_t i = 0; i < hw; i++)
        for (size_t t = 0, k = 0; t < count; k += c[t], t++)
          for (size_t j = 0; j < c[t]; j++)
            bad += want[i * total + k + j] != in[t][i * c[t] + j];
      CHECK_MSG(bad == 0, "reference concat hw%zu count%zu", hw, count);
      for (size_t t = 0; t < count; t++) free(owned[t]);
      free(y); free(want);
    }
}

static void global_max_pool_edges(void) {
  static const size_t hws[] = {1, 2, 7, 49};
  static const size_t cs[] = {1, 3, 4, 5, 9, 64};
  static const dyce__act acts[] = {DYCE__ACT_NONE, DYCE__ACT_RELU,
                                   DYCE__ACT_GELU, DYCE__ACT_SOFTPLUS};
  for (size_t h = 0; h < 4; h++)
    for (size_t j = 0; j < 6; j++)
      for (size_t a = 0; a < 4; a++) {
        size_t hw = hws[h], c = cs[j];
        float *x = malloc(hw * c * 4), *y = malloc(c * 4), *want = malloc(c * 4);
        for (size_t i = 0; i < hw * c; i++) x[i] = test_randf() - 0.5f;
        dyce__activation act = {acts[a], 0.0f, 0.0f};
        S()->global_max_pool(hw, c, x, act, y);
        R()->global_max_pool(hw, c, x, act, want);
        int bad = 0;
        for (size_t k = 0; k < c; k++)
          bad += !(fabsf(y[k] - want[k]) <= 1e-6f * (1.0f + fabsf(want[k])));
        CHECK_MSG(bad == 0, "global_max_pool hw%zu c%zu act%d", hw, c,
                  (int)acts[a]);
        if (acts[a] == DYCE__ACT_NONE)
          for (size_t k = 0; k < c; k++) {
            float m = x[k];
            for (size_t i = 1; i < hw; i++) m = x[i * c + k] > m ? x[i * c + k] : m;
            CHECK(want[k] == m);
          }
        free(x); free(y); free(want);
      }
}

/* input t0 3x3x2
 *   n0: relu(t0)                         -> t1 3x3x2  (read only as p[1])
 *   n1: elu(t0, 0.5)                     -> t2 3x3x2
 *   n2: concat(t0, t2, more 1: t1)       -> t3 3x3x6
 *   n3: global_max_pool(t3)              -> t4 1x1x6 */
static const uint32_t TENSORS[][3] = {{3, 3, 2}, {3, 3, 2}, {3, 3, 2},
                                      {3, 3, 6}, {1, 1, 6}};

static tb_node NODES[4];
static void reset_nodes(void) {
  const tb_node n[4] = {
      {.op = DYCE__OP_ACTIVATION, .act = DYCE__ACT_RELU, .in0 = 0,
       .in1 = DYCE__NONE, .out = 1},
      {.op = DYCE__OP_ACTIVATION, .act = DYCE__ACT_ELU, .act_a = 0.5f,
       .in0 = 0, .in1 = DYCE__NONE, .out = 2},
      {.op = DYCE__OP_CONCAT, .in0 = 0, .in1 = 2, .out = 3, .p = {1, 1}},
      {.op = DYCE__OP_GLOBAL_MAX_POOL, .in0 = 3, .in1 = DYCE__NONE, .out = 4},
  };
  memcpy(NODES, n, sizeof n);
}

static uint8_t *build(size_t *size) {
  static const tb_graph g = {"main", DYCE__NONE, TENSORS, 5, NODES, 4, 0, 4, 0};
  tb_package pkg = {.h = 3, .w = 3, .c = 2, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void concat_package_runs(void) {
  reset_nodes();
  size_t size;
  uint8_t *bytes = build(&size);
  float x[18], y[6]; /* NHWC, channel 0 then 1 at each pixel */
  for (int i = 0; i < 18; i++) x[i] = (float)((i * 7) % 11) - 5.0f;
  if (!run_package(bytes, size, x, 18, y, 6)) return;
  /* Channels: t0 (2), t2 = elu (2), t1 = relu (2); max over 9 pixels. */
  for (int k = 0; k < 2; k++) {
    float mx = -1e30f;
    for (int i = 0; i < 9; i++) mx = x[i * 2 + k] > mx ? x[i * 2 + k] : mx;
    float elu = mx > 0 ? mx : 0.5f * expm1f(mx), relu = mx > 0 ? mx : 0;
    CHECK_MSG(y[k] == mx && fabsf(y[2 + k] - elu) < 1e-6f && y[4 + k] == relu,
              "channel %d: %g %g %g vs %g %g %g", k, (double)y[k],
              (double)y[2 + k], (double)y[4 + k], (double)mx, (double)elu,
              (double)relu);
  }
}

static void expect_refused(const char *needle) {
  size_t size;
  uint8_t *bytes = build(&size);
  check_refused(bytes, size, needle);
  reset_nodes();
}

/* Each case changes the package above in one way (expect_refused
 * restores it). */
static void concat_fields_refused(void) {
  static const float one = 1.0f;
  reset_nodes();
  NODES[2].p[0] = 12;
  expect_refused("graph 'main' node 2 (concat): p[0] (further inputs) 12 is outside 0..11");
  NODES[2].p[0] = -1;
  expect_refused("p[0] (further inputs) -1 is outside");
  NODES[2].p[1] = 9;
  expect_refused("node 2 (concat): input 3 is tensor 9; the graph has 5");
  NODES[2].p[2] = 3;
  expect_refused("node 2 (concat): unused p[2] is 3, not 0");
  NODES[2].p[1] = 3;
  expect_refused("node 2 (concat): reads tensor 3, which no earlier node produced");
  NODES[2].in1 = DYCE__NONE, NODES[2].p[0] = NODES[2].p[1] = 0;
  expect_refused("node 2 (concat): needs at least two inputs");
  NODES[2].act = DYCE__ACT_GELU;
  expect_refused("node 2 (concat): cannot fuse an activation");
  NODES[2].weights = &one, NODES[2].weight_count = 1;
  expect_refused("node 2 (concat): takes no weights");
  NODES[2].p[0] = NODES[2].p[1] = 0;
  expect_refused("node 2 (concat): output tensor 3 is 3x3x6 but the op gives 3x3x4");
  NODES[3].act = 99;
  expect_refused("node 3 (global_max_pool): unknown activation code 99");
  NODES[3].weights = &one, NODES[3].weight_count = 1;
  expect_refused("node 3 (global_max_pool): has 1 weights, expected 0");
  NODES[3].in1 = 1;
  expect_refused("node 3 (global_max_pool): takes one input but names two");
}

/* Heights and widths must match: a 1x1 input next to a 3x3 one. */
static void concat_spatial_mismatch(void) {
  static const uint32_t t[][3] = {{3, 3, 2}, {1, 1, 2}, {3, 3, 4}};
  const tb_node n[2] = {
      {.op = DYCE__OP_GLOBAL_MAX_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
      {.op = DYCE__OP_CONCAT, .in0 = 0, .in1 = 1, .out = 2}};
  tb_graph g = {"main", DYCE__NONE, t, 3, n, 2, 0, 2, 0};
  tb_package pkg = {.h = 3, .w = 3, .c = 2, .graphs = &g, .graph_count = 1};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK(dyce_model_load(bytes, size, &m, &err) == DYCE_BAD_FORMAT);
  CHECK_MSG(strstr(err.message, "node 1 (concat): input 2 (tensor 1) is 1x1x2; "
                                "input 1 is 3x3x2: heights and widths must match"),
            "%s", err.message);
  free(bytes);
}

/* A width level may not narrow a concat's input: its output channels
 * would have a gap, not a prefix. conv 2->4 (narrowed to 2 at level
 * "half"), concat with the input, global max pool, fc 6->3. */
static void concat_of_narrowed_tensor_refused(void) {
  static const uint32_t t[][3] = {{3, 3, 2}, {3, 3, 4}, {3, 3, 6}, {1, 1, 6}, {1, 1, 3}};
  static float conv_w[4 * 2], fc_w[3 * 6];
  const tb_node n[4] = {
      {.op = DYCE__OP_CONV2D, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
       .weights = conv_w, .weight_count = 8, .p = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}},
      {.op = DYCE__OP_CONCAT, .in0 = 1, .in1 = 0, .out = 2},
      {.op = DYCE__OP_GLOBAL_MAX_POOL, .in0 = 2, .in1 = DYCE__NONE, .out = 3},
      {.op = DYCE__OP_FULLY_CONNECTED, .in0 = 3, .in1 = DYCE__NONE, .out = 4,
       .weights = fc_w, .weight_count = 18}};
  uint8_t levl[TB_TWO_LEVELS_BYTES];
  tb_two_levels(levl, 0, 2);
  tb_graph g = {"main", DYCE__NONE, t, 5, n, 4, 0, 4, 3 * 3 * 4 * 2 + 18};
  for (int with_levels = 0; with_levels < 2; with_levels++) {
    tb_package pkg = {.h = 3, .w = 3, .c = 2, .graphs = &g, .graph_count = 1,
                      .extra_tag = "LEVL", .extra = levl,
                      .extra_bytes = with_levels ? sizeof levl : 0};
    size_t size;
    uint8_t *bytes = tb_build(&pkg, &size);
    dyce_model *m = NULL;
    dyce_error err;
    dyce_status st = dyce_model_load(bytes, size, &m, &err);
    if (!with_levels)
      CHECK_MSG(st == DYCE_OK, "%s", err.message);
    else
      CHECK_MSG(st == DYCE_BAD_FORMAT &&
                    strstr(err.message, "width level 'half': graph 'main' node 1 "
                                        "(concat): concat input 1 (tensor 1) is narrowed"),
                "%s", err.message);
    dyce_model_free(m);
    free(bytes);
  }
}

const test_case concat_tests[] = {
    {"concat", "concat_of_narrowed_tensor_refused", concat_of_narrowed_tensor_refused},
    {"concat", "concat_kernel_edges", concat_kernel_edges},
    {"concat", "global_max_pool_edges", global_max_pool_edges},
    {"concat", "concat_package_runs", concat_package_runs},
    {"concat", "concat_fields_refused", concat_fields_refused},
    {"concat", "concat_spatial_mismatch", concat_spatial_mismatch},
    {0},
};
