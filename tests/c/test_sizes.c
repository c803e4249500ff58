/* Real-world sizes (issue 14): ImageNet's 1 000 classes at 224x224x3 and
 * 65 535 classes at 512x512x3, through the loader (one label string per
 * class in STRS / LABL), a session fed a colour NCHW input, the graphs'
 * logits against a plain double-precision reference, shipped
 * configurations (CONF) and the cascade answering with class indices far
 * above 255. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/cli/package_edit.h"
#include "builder.h"
#include "dyce.h"
#include "test.h"

enum { SAVER, STAGE1, EXIT1, HEAD, GRAPHS };
enum { CONV_OUT = 4, STRIDE = 8 };

typedef struct sized {
  uint32_t hw, classes, o; /* input side, classes, stage-1 output side */
  float conv_w[CONV_OUT * 3 * 3 * 3], conv_b[CONV_OUT];
  float *saver_w, *saver_b, *exit_w, *exit_b, *head_w, *head_b;
  char **labels;
} sized;

static float *random_floats(size_t n, float scale) {
  float *f = malloc(sizeof(float) * n);
  for (size_t i = 0; i < n; i++) f[i] = scale * test_randf();
  return f;
}

/* saver0: input -> gap -> fc 3->K (a peak at class K-1)
 * stage1: input -> conv 3x3 stride 8, 3->4, relu
 * exit1_a: stage1 -> gap -> fc 4->K (a peak at class K/2)
 * head: stage1 -> gap -> fc 4->K */
static uint8_t *build_sized(sized *z, size_t *size) {
  uint32_t k = z->classes;
  z->o = (z->hw - 3) / STRIDE + 1;
  for (int i = 0; i < CONV_OUT * 27; i++) z->conv_w[i] = test_randf();
  for (int i = 0; i < CONV_OUT; i++) z->conv_b[i] = 0.5f;
  z->saver_w = random_floats(3u * k, 0.1f);
  z->saver_b = random_floats(k, 0.1f);
  z->saver_b[k - 1] = 20.0f;
  z->exit_w = random_floats(4u * k, 0.1f);
  z->exit_b = random_floats(k, 0.1f);
  z->exit_b[k / 2] = 20.0f;
  z->head_w = random_floats(4u * k, 1.0f);
  z->head_b = random_floats(k, 1.0f);
  z->labels = malloc(sizeof(char *) * k);
  for (uint32_t i = 0; i < k; i++) {
    z->labels[i] = malloc(24);
    snprintf(z->labels[i], 24, i % 2 ? "class %u" : "n%08u/x", i);
  }
  uint32_t hw = z->hw, o = z->o;
  const uint32_t in_t[3][3] = {{hw, hw, 3}, {1, 1, 3}, {1, 1, k}};
  const uint32_t stage_t[2][3] = {{hw, hw, 3}, {o, o, CONV_OUT}};
  const uint32_t exit_t[3][3] = {{o, o, CONV_OUT}, {1, 1, CONV_OUT}, {1, 1, k}};
#define GAP {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1}
#define FC(w, b, c) {.op = DYCE__OP_FULLY_CONNECTED, .in0 = 1, .in1 = DYCE__NONE, .out = 2, \
                     .weights = w, .weight_count = (c) * k, .bias = b, .bias_count = k}
  tb_node saver_n[2] = {GAP, FC(z->saver_w, z->saver_b, 3)};
  tb_node exit_n[2] = {GAP, FC(z->exit_w, z->exit_b, CONV_OUT)};
  tb_node head_n[2] = {GAP, FC(z->head_w, z->head_b, CONV_OUT)};
  tb_node stage_n[1] = {{.op = DYCE__OP_CONV2D, .act = DYCE__ACT_RELU, .in0 = 0,
                         .in1 = DYCE__NONE, .out = 1, .weights = z->conv_w,
                         .weight_count = CONV_OUT * 27, .bias = z->conv_b,
                         .bias_count = CONV_OUT,
                         .p = {3, 3, STRIDE, STRIDE, 0, 0, 0, 0, 1, 1, 1}}};
#undef GAP
#undef FC
  tb_graph g[GRAPHS] = {
      {"saver0", DYCE__NONE, in_t, 3, saver_n, 2, 0, 2, 3ull * k},
      {"stage1", DYCE__NONE, stage_t, 2, stage_n, 1, 0, 1, (uint64_t)o * o * CONV_OUT * 27},
      {"exit1_a", STAGE1, exit_t, 3, exit_n, 2, 0, 2, (uint64_t)CONV_OUT * k},
      {"head", STAGE1, exit_t, 3, head_n, 2, 0, 2, (uint64_t)CONV_OUT * k}};
  tb_package pkg = {hw, hw, 3, g, GRAPHS, (const char *const *)z->labels, k, NULL, NULL, 0};
  return tb_build(&pkg, size);
}

static void free_sized(sized *z) {
  free(z->saver_w), free(z->saver_b), free(z->exit_w), free(z->exit_b);
  free(z->head_w), free(z->head_b);
  for (uint32_t i = 0; i < z->classes; i++) free(z->labels[i]);
  free(z->labels);
}

/* The head's logits for an NCHW input, in double. */
static double *reference_head(const sized *z, const float *x) {
  uint32_t hw = z->hw, o = z->o, k = z->classes;
  double pooled[CONV_OUT] = {0};
  for (uint32_t oy = 0; oy < o; oy++)
    for (uint32_t ox = 0; ox < o; ox++)
      for (int co = 0; co < CONV_OUT; co++) {
        double acc = z->conv_b[co];
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++)
            for (int ci = 0; ci < 3; ci++)
              acc += (double)z->conv_w[((co * 3 + ky) * 3 + kx) * 3 + ci] *
                     x[((size_t)ci * hw + oy * STRIDE + ky) * hw + ox * STRIDE + kx];
        pooled[co] += acc > 0 ? acc : 0;
      }
  double *y = malloc(sizeof(double) * k);
  for (uint32_t j = 0; j < k; j++) {
    y[j] = z->head_b[j];
    for (int c = 0; c < CONV_OUT; c++)
      y[j] += z->head_w[j * CONV_OUT + c] * pooled[c] / ((double)o * o);
  }
  return y;
}

static size_t argmax(const double *y, size_t k) {
  size_t best = 0;
  for (size_t i = 1; i < k; i++)
    if (y[i] > y[best]) best = i;
  return best;
}

static void sizes_at(uint32_t hw, uint32_t classes) {
  sized z = {.hw = hw, .classes = classes};
  size_t size, out_size;
  uint8_t *bytes = build_sized(&z, &size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
  if (!m) {
    free(bytes);
    free_sized(&z);
    return;
  }
  CHECK(dyce_model_label_count(m) == classes);
  CHECK(strcmp(dyce_model_label(m, classes - 1), z.labels[classes - 1]) == 0);
  CHECK(strcmp(dyce_model_label(m, classes - 2), z.labels[classes - 2]) == 0);
  /* Configurations: the saver always answers, exit 1 always answers, the
   * backbone (the head answers). */
  named_config nc[3];
  memset(nc, 0, sizeof nc);
  for (int i = 0; i < 3; i++) {
    snprintf(nc[i].name, sizeof nc[i].name, "c%d", i);
    dyce_config_backbone(m, &nc[i].config);
    nc[i].accuracy = nc[i].mean_macs = -1;
  }
  nc[0].config.saver = SAVER;
  nc[0].config.saver_threshold = -1.0f;
  nc[1].config.exit[0] = EXIT1;
  nc[1].config.threshold[0] = -1.0f;
  uint8_t *with = package_with_configs(bytes, size, m, nc, 3, &out_size);
  dyce_model_free(m);
  m = NULL;
  CHECK_MSG(with && dyce_model_load(with, out_size, &m, &err) == DYCE_OK, "%s", err.message);
  dyce_session *s = NULL;
  CHECK_MSG(m && dyce_session_create(m, &s, &err) == DYCE_OK, "%s", err.message);
  if (s) {
    size_t n = (size_t)hw * hw * 3;
    float *x = random_floats(n, 2.0f);
    CHECK_MSG(dyce_session_set_input(s, x, n, DYCE_LAYOUT_NCHW, &err) == DYCE_OK, "%s",
              err.message);
    CHECK(dyce_session_run(s, HEAD, &err) == DYCE_OK);
    const float *y;
    size_t k = 0;
    CHECK(dyce_session_output(s, HEAD, &y, &k, &err) == DYCE_OK && k == classes);
    double *want = reference_head(&z, x);
    double worst = 0;
    for (size_t j = 0; j < k && j < classes; j++) {
      double d = fabs(y[j] - want[j]) / (1.0 + fabs(want[j]));
      if (d > worst) worst = d;
    }
    CHECK_MSG(worst < 1e-4, "head logits differ by %g", worst);
    size_t head_class = argmax(want, classes);
    uint64_t before = dyce_allocation_count();
    static const size_t expect_graph[3] = {SAVER, EXIT1, HEAD};
    for (size_t c = 0; c < 3; c++) {
      dyce_result r;
      CHECK(dyce_session_use_config(s, c, &err) == DYCE_OK);
      CHECK(dyce_session_set_input(s, x, n, DYCE_LAYOUT_NCHW, &err) == DYCE_OK);
      CHECK_MSG(dyce_session_classify(s, NULL, &r, &err) == DYCE_OK, "%s", err.message);
      size_t want_class = c == 0 ? classes - 1 : c == 1 ? classes / 2 : head_class;
      CHECK_MSG(r.graph == expect_graph[c] && r.index == want_class,
                "config %zu: graph %zu class %zu, expected %zu", c, r.graph, r.index,
                want_class);
      CHECK(r.index < classes && (c == 2 || r.score > 0.9f));
    }
    CHECK(dyce_allocation_count() == before);
    free(want);
    free(x);
  }
  dyce_session_free(s);
  dyce_model_free(m);
  free(with);
  free(bytes);
  free_sized(&z);
}

static void imagenet_1000_classes_224(void) { sizes_at(224, 1000); }
static void classes_65535_at_512(void) { sizes_at(512, 65535); }

const test_case sizes_tests[] = {
    {"sizes", "imagenet_1000_classes_224", imagenet_1000_classes_224},
    {"sizes", "classes_65535_at_512", classes_65535_at_512},
    {0, 0, 0}};
