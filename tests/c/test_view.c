/* view (op 22) and softmax's groups (p[SOFTMAX_GROUPS]): a view copies
 * the elements into its new shape, a grouped softmax (or log-softmax)
 * runs over each group of channels, both against the definition; every
 * field refused with its status and a message; and a width level may not
 * narrow what a view or a matmul reads. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "test.h"

/* input 2x3x4 -> view -> OUT. */
static uint32_t OUT[3];
static tb_node NODE;

static void reset_view(void) {
  NODE = (tb_node){.op = DYCE__OP_VIEW, .in0 = 0, .in1 = DYCE__NONE, .out = 1};
  OUT[0] = 1, OUT[1] = 6, OUT[2] = 4;
}

static uint8_t *build_view(size_t *size) {
  const uint32_t t[][3] = {{2, 3, 4}, {OUT[0], OUT[1], OUT[2]}};
  tb_graph g = {"main", DYCE__NONE, t, 2, &NODE, 1, 0, 1, 0};
  tb_package pkg = {.h = 2, .w = 3, .c = 4, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void view_runs(void) {
  static const uint32_t shapes[][3] = {{1, 6, 4}, {6, 1, 4}, {4, 3, 2}, {1, 1, 24}};
  float x[24], y[24];
  for (int i = 0; i < 24; i++) x[i] = test_randf();
  for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
    reset_view();
    memcpy(OUT, shapes[s], sizeof OUT);
    size_t size;
    uint8_t *bytes = build_view(&size);
    if (run_package(bytes, size, x, 24, y, 24))
      CHECK_MSG(memcmp(x, y, sizeof x) == 0, "view 2x3x4 -> %ux%ux%u changed the elements",
                OUT[0], OUT[1], OUT[2]);
  }
}

static void view_refused(int status, const char *needle) {
  size_t size;
  uint8_t *bytes = build_view(&size);
  check_refused_as(bytes, size, status, needle);
  reset_view();
}

static void view_fields_refused(void) {
  static const float one = 1.0f;
  reset_view();
  OUT[2] = 3;
  view_refused(DYCE_BAD_FORMAT, "node 0 (view): view: output tensor 1 is 1x6x3 (18 elements), "
                                "in0 2x3x4 (24): a view keeps the element count");
  NODE.in1 = 0;
  view_refused(DYCE_BAD_FORMAT, "node 0 (view): takes one input but names two");
  NODE.weights = &one, NODE.weight_count = 1;
  view_refused(DYCE_BAD_FORMAT, "node 0 (view): has 1 weights, expected 0");
  NODE.bias = &one, NODE.bias_count = 1;
  view_refused(DYCE_BAD_FORMAT, "node 0 (view): has 1 biases, expected 0");
  NODE.act = DYCE__ACT_SIGMOID;
  view_refused(DYCE_BAD_FORMAT, "node 0 (view): cannot fuse an activation");
  NODE.p[0] = 1;
  view_refused(DYCE_BAD_FORMAT, "node 0 (view): view: p[0] is 1; unused, it must be 0");
  NODE.p[11] = -3;
  view_refused(DYCE_BAD_FORMAT, "node 0 (view): view: p[11] is -3; unused, it must be 0");
}

/* ---- softmax groups --------------------------------------------------- */

/* A package input (6 x c x 1: it has at most 4 channels) viewed as
 * 2 x 3 x c, then `n` (a softmax) on that into 2 x 3 x c. */
static uint8_t *softmax_package(uint32_t c, tb_node n, size_t *size) {
  const uint32_t t[][3] = {{6, c, 1}, {2, 3, c}, {2, 3, c}};
  const tb_node nodes[2] = {
      {.op = DYCE__OP_VIEW, .in0 = 0, .in1 = DYCE__NONE, .out = 1}, n};
  tb_graph g = {"main", DYCE__NONE, t, 3, nodes, 2, 0, 2, 0};
  tb_package pkg = {.h = 6, .w = c, .c = 1, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

/* 2 x 3 x c -> softmax (log, groups) -> 2 x 3 x c, against the definition
 * in double over each group of c / groups channels. */
static void softmax_case(uint32_t c, int groups, int as_log) {
  tb_node n = {.op = DYCE__OP_SOFTMAX, .in0 = 1, .in1 = DYCE__NONE, .out = 2};
  n.p[DYCE__P_SOFTMAX_LOG] = as_log, n.p[DYCE__P_SOFTMAX_GROUPS] = groups;
  float x[6 * 12], y[6 * 12];
  for (uint32_t i = 0; i < 6 * c; i++) x[i] = test_randf() * 4.0f;
  size_t size;
  uint8_t *bytes = softmax_package(c, n, &size);
  if (!run_package(bytes, size, x, 6 * c, y, 6 * c)) return;
  uint32_t per = groups >= 2 ? c / (uint32_t)groups : c;
  for (uint32_t i = 0; i < 6 * c; i += per) {
    double top = -1e300, sum = 0;
    for (uint32_t k = 0; k < per; k++) top = fmax(top, x[i + k]);
    for (uint32_t k = 0; k < per; k++) sum += exp((double)x[i + k] - top);
    for (uint32_t k = 0; k < per; k++) {
      double want = as_log ? x[i + k] - top - log(sum) : exp(x[i + k] - top) / sum;
      CHECK_MSG(fabs(y[i + k] - want) < 1e-5, "c %u groups %d log %d: element %u is %g, "
                "want %g", c, groups, as_log, i + k, (double)y[i + k], want);
    }
  }
}

static void softmax_groups_run(void) {
  for (int as_log = 0; as_log <= 1; as_log++) {
    softmax_case(12, 0, as_log); /* one group, as before */
    softmax_case(12, 1, as_log);
    softmax_case(12, 3, as_log); /* three heads of 4 */
    softmax_case(12, 4, as_log);
    softmax_case(5, 5, as_log);  /* groups of one channel: 1 (log: 0) */
    softmax_case(9, 3, as_log);
  }
}

static void softmax_refused(uint32_t c, int over_all, int groups, const char *needle) {
  tb_node n = {.op = DYCE__OP_SOFTMAX, .in0 = 1, .in1 = DYCE__NONE, .out = 2};
  n.p[DYCE__P_SOFTMAX_ALL] = over_all, n.p[DYCE__P_SOFTMAX_GROUPS] = groups;
  size_t size;
  uint8_t *bytes = softmax_package(c, n, &size);
  check_refused_as(bytes, size, DYCE_BAD_FORMAT, needle);
}

static void softmax_groups_refused(void) {
  softmax_refused(6, 0, 4, "node 1 (softmax): softmax: p[2] (groups) is 4, which does "
                           "not divide the 6 channels");
  softmax_refused(6, 0, 7, "softmax: p[2] (groups) is 7, which does not divide the 6 channels");
  softmax_refused(6, 0, -1, "node 1 (softmax): softmax: p[2] (groups) is -1; 0 or 1 (one "
                            "group) or a count of groups dividing the channels");
  softmax_refused(1, 1, 2, "node 1 (softmax): softmax: p[2] (groups) is 2 with the over-all "
                           "flag p[1]; a softmax over every element has one group");
}

/* ---- width levels ----------------------------------------------------- */

/* input 3x3x2; node 0 and node 1: conv 1x1 2->4 (t1, t2); node 2: `last`
 * reading them. Level "half" narrows node `narrow` to 2 channels. */
static void level_refused(tb_node last, const uint32_t *out, uint64_t macs,
                          uint32_t narrow, const char *needle) {
  const uint32_t t[][3] = {{3, 3, 2}, {3, 3, 4}, {3, 3, 4}, {out[0], out[1], out[2]}};
  static const float w[8] = {1, 0, 0, 1, 1, 1, 1, -1};
  const tb_node n[3] = {
      {.op = DYCE__OP_CONV2D, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
       .weights = w, .weight_count = 8, .p = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}},
      {.op = DYCE__OP_CONV2D, .in0 = 0, .in1 = DYCE__NONE, .out = 2,
       .weights = w, .weight_count = 8, .p = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}},
      last};
  uint8_t levl[TB_TWO_LEVELS_BYTES];
  tb_two_levels(levl, narrow, 2);
  tb_graph g = {"main", DYCE__NONE, t, 4, n, 3, 0, 3, 2 * 72 + macs};
  for (int with_levels = 0; with_levels < 2; with_levels++) {
    tb_package pkg = {.h = 3, .w = 3, .c = 2, .graphs = &g, .graph_count = 1,
                      .extra_tag = "LEVL", .extra = levl,
                      .extra_bytes = with_levels ? sizeof levl : 0};
    size_t size;
    uint8_t *bytes = tb_build(&pkg, &size);
    if (with_levels) {
      check_refused_as(bytes, size, DYCE_BAD_FORMAT, needle);
      continue;
    }
    dyce_model *m = NULL;
    dyce_error err;
    CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
    dyce_model_free(m);
    free(bytes);
  }
}

static void narrowed_inputs_refused(void) {
  tb_node mm = {.op = DYCE__OP_MATMUL, .in0 = 1, .in1 = 2, .out = 3};
  mm.p[DYCE__P_MATMUL_GROUPS] = 2, mm.p[DYCE__P_MATMUL_TRANS_B] = 1;
  mm.p[DYCE__P_MATMUL_ALPHA] = 0x3f800000; /* 1.0f */
  const uint32_t scores[3] = {3, 3, 18}, tokens[3] = {1, 9, 4};
  level_refused(mm, scores, 9 * 18 * 2, 0, "width level 'half': graph 'main' node 2 "
                                          "(matmul): matmul of a narrowed tensor (in0)");
  level_refused(mm, scores, 9 * 18 * 2, 1, "width level 'half': graph 'main' node 2 "
                                          "(matmul): matmul of a narrowed tensor (in1)");
  const tb_node v = {.op = DYCE__OP_VIEW, .in0 = 1, .in1 = DYCE__NONE, .out = 3};
  level_refused(v, tokens, 0, 0, "width level 'half': graph 'main' node 2 (view): "
                                 "view of a narrowed tensor");
}

const test_case view_tests[] = {
    {"view", "view_runs", view_runs},
    {"view", "view_fields_refused", view_fields_refused},
    {"view", "softmax_groups_run", softmax_groups_run},
    {"view", "softmax_groups_refused", softmax_groups_refused},
    {"view", "narrowed_inputs_refused", narrowed_inputs_refused},
    {0},
};
