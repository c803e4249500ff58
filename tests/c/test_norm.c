/* group_norm: the kernel against the definition computed by hand in
 * double (groups 1, some, one per channel, over all pixels or each pixel
 * alone; an offset tensor whose mean dwarfs its spread; a constant tensor;
 * fused activations), a package running GroupNorm -> a pixelwise norm ->
 * LayerNorm with the model's own session, and every field refused with a
 * message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "kernels/kernels.h"
#include "test.h"

static int32_t eps_bits(float eps) {
  int32_t bits;
  memcpy(&bits, &eps, sizeof bits);
  return bits;
}

/* The definition: double statistics and double arithmetic throughout. */
static void by_hand(size_t hw, size_t c, size_t groups, double eps,
                    const float *x, const float *gamma, const float *beta,
                    int relu, double *y) {
  size_t cg = c / groups;
  for (size_t g = 0; g < groups; g++) {
    double s = 0, q = 0, n = (double)hw * cg;
    for (size_t i = 0; i < hw; i++)
      for (size_t k = g * cg; k < (g + 1) * cg; k++) s += x[i * c + k];
    double mean = s / n;
    for (size_t i = 0; i < hw; i++)
      for (size_t k = g * cg; k < (g + 1) * cg; k++)
        q += (x[i * c + k] - mean) * (x[i * c + k] - mean);
    double rstd = 1 / sqrt(q / n + eps);
    for (size_t i = 0; i < hw; i++)
      for (size_t k = g * cg; k < (g + 1) * cg; k++) {
        double v = (x[i * c + k] - mean) * rstd * gamma[k] + beta[k];
        y[i * c + k] = relu && v < 0 ? 0 : v;
      }
  }
}

#define check_close(y, want, n, ...)                                        \
  do {                                                                     \
    double worst_ = 0;                                                     \
    for (size_t i_ = 0; i_ < (n); i_++) {                                  \
      double e_ = fabs((y)[i_] - (want)[i_]) / (1 + fabs((want)[i_]));     \
      worst_ = e_ > worst_ ? e_ : worst_;                                  \
    }                                                                      \
    CHECK_MSG(worst_ < 1e-6, __VA_ARGS__);                                 \
  } while (0)

static void group_norm_kernel(void) {
  static const size_t hws[] = {1, 7, 49};
  static const size_t cs[] = {1, 6, 16};
  for (size_t h = 0; h < 3; h++)
    for (size_t j = 0; j < 3; j++)
      for (size_t groups = 1; groups <= cs[j]; groups++) {
        size_t hw = hws[h], c = cs[j], n = hw * c;
        if (c % groups) continue;
        for (int variant = 0; variant < 3; variant++) {
          /* 0: spread around 0; 1: offset 1000, spread 1e-2 (a naive
           * E[x^2] - E[x]^2 in float loses every digit); 2: constant. */
          float *x = malloc(n * 4), *y = malloc(n * 4), *g = malloc(c * 4),
                *b = malloc(c * 4);
          double *want = malloc(n * 8);
          for (size_t i = 0; i < n; i++)
            x[i] = variant == 0 ? test_randf() * 3
                 : variant == 1 ? 1000.0f + test_randf() * 1e-2f : 0.25f;
          for (size_t k = 0; k < c; k++) g[k] = test_randf(), b[k] = test_randf();
          int relu = variant == 0;
          dyce__activation act = {relu ? DYCE__ACT_RELU : DYCE__ACT_NONE, 0, 0};
          dyce__kernels_default()->group_norm(hw, c, groups, 0, 1e-5f, x, g, b, act, y);
          by_hand(hw, c, groups, (double)1e-5f, x, g, b, relu, want);
          check_close(y, want, n, "hw %zu c %zu groups %zu variant %d", hw, c,
                      groups, variant);
          /* pixelwise: each pixel alone is a tensor of one pixel */
          dyce__kernels_default()->group_norm(hw, c, groups, 1, 1e-5f, x, g, b, act, y);
          for (size_t i = 0; i < hw; i++)
            by_hand(1, c, groups, (double)1e-5f, x + i * c, g, b, relu, want + i * c);
          check_close(y, want, n, "pixelwise hw %zu c %zu groups %zu variant %d",
                      hw, c, groups, variant);
          free(x); free(y); free(g); free(b); free(want);
        }
      }
}

/* input 4x4x4 -> group_norm 2 groups (relu) -> group_norm 2 groups at each
 * pixel (pixelwise) -> global_avg_pool -> group_norm 1 group (layer norm
 * of the pooled vector). */
static const uint32_t TENSORS[][3] = {{4, 4, 4}, {4, 4, 4}, {4, 4, 4},
                                      {1, 1, 4}, {1, 1, 4}};
static const float GAMMA[4] = {1.0f, 0.5f, -2.0f, 1.5f};
static const float BETA[4] = {0.1f, -0.2f, 0.3f, 0.0f};
static tb_node NODES[4];

static void reset_nodes(void) {
  const tb_node n[4] = {
      {.op = DYCE__OP_GROUP_NORM, .act = DYCE__ACT_RELU, .in0 = 0,
       .in1 = DYCE__NONE, .out = 1, .weights = GAMMA, .weight_count = 4,
       .bias = BETA, .bias_count = 4, .p = {2, eps_bits(1e-5f)}},
      {.op = DYCE__OP_GROUP_NORM, .in0 = 1, .in1 = DYCE__NONE, .out = 2,
       .weights = GAMMA, .weight_count = 4, .bias = BETA, .bias_count = 4,
       .p = {2, eps_bits(1e-3f), 1}},
      {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 2, .in1 = DYCE__NONE, .out = 3},
      {.op = DYCE__OP_GROUP_NORM, .in0 = 3, .in1 = DYCE__NONE, .out = 4,
       .weights = GAMMA, .weight_count = 4, .bias = BETA, .bias_count = 4,
       .p = {1, eps_bits(1e-5f)}},
  };
  memcpy(NODES, n, sizeof n);
}

static uint8_t *build(size_t *size) {
  static const tb_graph g = {"main", DYCE__NONE, TENSORS, 5, NODES, 4, 0, 4, 0};
  tb_package pkg = {.h = 4, .w = 4, .c = 4, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void group_norm_package_runs(void) {
  reset_nodes();
  size_t size;
  uint8_t *bytes = build(&size);
  float x[64], y[4];
  for (int i = 0; i < 64; i++) x[i] = (float)((i * 37) % 23) * 0.3f - 2.0f;
  if (!run_package(bytes, size, x, 64, y, 4)) return;
  double t1[64], t2[64], pooled_d[4], out[4];
  float t1f[64], pooled[4];
  by_hand(16, 4, 2, (double)1e-5f, x, GAMMA, BETA, 1, t1);
  for (int i = 0; i < 64; i++) t1f[i] = (float)t1[i];
  for (int i = 0; i < 16; i++) /* pixelwise, two groups of two channels */
    by_hand(1, 4, 2, (double)1e-3f, t1f + i * 4, GAMMA, BETA, 0, t2 + i * 4);
  for (int k = 0; k < 4; k++) {
    pooled_d[k] = 0;
    for (int i = 0; i < 16; i++) pooled_d[k] += t2[i * 4 + k] / 16;
    pooled[k] = (float)pooled_d[k];
  }
  by_hand(1, 4, 1, (double)1e-5f, pooled, GAMMA, BETA, 0, out);
  for (int k = 0; k < 4; k++)
    CHECK_MSG(fabs(y[k] - out[k]) < 1e-4, "channel %d: %g, by hand %g", k,
              (double)y[k], out[k]);
}

static void expect_refused(const char *needle) {
  size_t size;
  uint8_t *bytes = build(&size);
  check_refused(bytes, size, needle);
  reset_nodes();
}

static void group_norm_fields_refused(void) {
  reset_nodes();
  NODES[0].p[0] = 3;
  expect_refused("graph 'main' node 0 (group_norm): group_norm: 3 groups do not divide 4 channels");
  NODES[0].p[0] = 0;
  expect_refused("node 0 (group_norm): group_norm: 0 groups do not divide 4 channels");
  NODES[0].p[0] = 8;
  expect_refused("0 (group_norm): group_norm: 8 groups do not divide 4 channels");
  NODES[1].p[1] = eps_bits(0.0f);
  expect_refused("node 1 (group_norm): group_norm: epsilon 0 is not a finite number > 0");
  NODES[1].p[1] = eps_bits(-1e-5f);
  expect_refused("epsilon -1e-05 is not a finite number > 0");
  NODES[1].p[1] = eps_bits(NAN);
  expect_refused("is not a finite number > 0");
  NODES[1].p[1] = eps_bits(INFINITY);
  expect_refused("epsilon inf is not a finite number > 0");
  NODES[1].p[2] = 2;
  expect_refused("node 1 (group_norm): group_norm: pixelwise flag 2 is neither 0 nor 1");
  NODES[3].weight_count = 3;
  expect_refused("node 3 (group_norm): has 3 weights, expected 4");
  NODES[3].bias_count = 0;
  expect_refused("node 3 (group_norm): needs 4 shifts, has 0");
  NODES[3].in1 = 2;
  expect_refused("node 3 (group_norm): takes one input but names two");
}

const test_case norm_tests[] = {
    {"norm", "group_norm_kernel", group_norm_kernel},
    {"norm", "group_norm_package_runs", group_norm_package_runs},
    {"norm", "group_norm_fields_refused", group_norm_fields_refused},
    {0},
};
