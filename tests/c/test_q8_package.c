/* Int8 packages (format version 2, docs/INT8.md): a two-graph package
 * whose stage hands an int8 tensor to its head runs to the answer the
 * spec's formulas give (computed here in int64 and binary32), and every
 * quantization field is refused with a clear message when it is wrong. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "test.h"

/* stage1: x (4x4x2 f32) -quantize-> q (s 1/64, zp -3)
 *         -conv 3x3 pad 1, 2->4, relu-> y (s 1/32, zp -128)
 * head:   y -global_avg_pool-> p (s 1/32, zp -100) -fc 4->3-> z (s 1/16, zp 5)
 *         -dequantize-> logits (f32) */
static const uint32_t STAGE_T[][3] = {{4, 4, 2}, {4, 4, 2}, {4, 4, 4}};
static const uint32_t HEAD_T[][3] = {{4, 4, 4}, {1, 1, 4}, {1, 1, 3}, {1, 1, 3}};
typedef struct qtype { uint32_t dtype; float scale; int32_t zp; } qtype;
static qtype TYPES[7];
static int8_t CONV_W[4 * 3 * 3 * 2], FC_W[3 * 4];
static uint32_t CONV_B[8], FC_B[6]; /* int32 biases, then f32 weight scales */
static tb_node STAGE_N[2], HEAD_N[3];
static uint32_t VERSION;

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static void reset(void) {
  const qtype t[7] = {{0, 0, 0},        {1, 1.0f / 64, -3}, {1, 1.0f / 32, -128},
                      {1, 1.0f / 32, -128}, {1, 1.0f / 32, -100},
                      {1, 1.0f / 16, 5}, {0, 0, 0}};
  memcpy(TYPES, t, sizeof t);
  for (int i = 0; i < 72; i++) CONV_W[i] = (int8_t)((i * 37) % 255 - 127);
  for (int i = 0; i < 12; i++) FC_W[i] = (int8_t)((i * 53) % 201 - 100);
  for (int o = 0; o < 4; o++) {
    CONV_B[o] = (uint32_t)(int32_t)(o * 300 - 500);
    CONV_B[4 + o] = f32_bits(0.002f * (float)(o + 1));
  }
  for (int o = 0; o < 3; o++) {
    FC_B[o] = (uint32_t)(int32_t)(o * 1000 - 900);
    FC_B[3 + o] = f32_bits(0.004f / (float)(o + 1));
  }
  const tb_node s[2] = {
      {.op = DYCE__OP_QUANTIZE, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
      {.op = DYCE__OP_CONV2D, .act = DYCE__ACT_RELU, .in0 = 1,
       .in1 = DYCE__NONE, .out = 2, .weights = (const float *)(void *)CONV_W,
       .weight_count = 72, .int8_weights = 1,
       .bias = (const float *)(void *)CONV_B, .bias_count = 8,
       .p = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}},
  };
  const tb_node h[3] = {
      {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
      {.op = DYCE__OP_FULLY_CONNECTED, .in0 = 1, .in1 = DYCE__NONE, .out = 2,
       .weights = (const float *)(void *)FC_W, .weight_count = 12,
       .int8_weights = 1, .bias = (const float *)(void *)FC_B,
       .bias_count = 6},
      {.op = DYCE__OP_DEQUANTIZE, .in0 = 2, .in1 = DYCE__NONE, .out = 3},
  };
  memcpy(STAGE_N, s, sizeof s);
  memcpy(HEAD_N, h, sizeof h);
  VERSION = 2;
}

static uint8_t *build(size_t *size) {
  const tb_graph g[2] = {
      {"stage1", DYCE__NONE, STAGE_T, 3, STAGE_N, 2, 0, 2, 16 * 4 * 18},
      {"head", 0, HEAD_T, 4, HEAD_N, 3, 0, 3, 12}};
  /* Tensor types: QTEN, one record per TENS record (stage's 3, head's 4;
   * the head's input is the stage's output). */
  uint8_t qten[16 + 7 * 16] = {0};
  tb_put_u32(qten, 7);
  const qtype order[7] = {TYPES[0], TYPES[1], TYPES[2], TYPES[3],
                          TYPES[4], TYPES[5], TYPES[6]};
  for (int i = 0; i < 7; i++) {
    tb_put_u32(qten + 16 + 16 * i, order[i].dtype);
    tb_put_u32(qten + 20 + 16 * i, f32_bits(order[i].scale));
    tb_put_u32(qten + 24 + 16 * i, (uint32_t)order[i].zp);
  }
  tb_package pkg = {.h = 4, .w = 4, .c = 2, .graphs = g, .graph_count = 2,
                    .extra_tag = "QTEN", .extra = qten,
                    .extra_bytes = sizeof qten};
  uint8_t *bytes = tb_build(&pkg, size);
  tb_put_u32(bytes + 4, VERSION);
  return bytes;
}

static int32_t rne_clamp(float v, int32_t zp, int32_t lo, int32_t hi) {
  float r = rintf(v) + (float)zp;
  return r < (float)lo ? lo : r > (float)hi ? hi : (int32_t)r;
}

/* The package's logits by docs/INT8.md, for input x (NHWC). */
static void expected(const float *x, float *logits) {
  int32_t q[32], y[64], p[4], z[3];
  for (int i = 0; i < 32; i++)
    q[i] = rne_clamp(x[i] * (1.0f / TYPES[1].scale), TYPES[1].zp, -128, 127);
  for (int oy = 0; oy < 4; oy++)
    for (int ox = 0; ox < 4; ox++)
      for (int o = 0; o < 4; o++) {
        int64_t acc = (int32_t)CONV_B[o];
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++)
            for (int c = 0; c < 2; c++) {
              int iy = oy + ky - 1, ix = ox + kx - 1;
              if (iy < 0 || iy >= 4 || ix < 0 || ix >= 4) continue;
              acc += (int64_t)(q[(iy * 4 + ix) * 2 + c] - TYPES[1].zp) *
                     CONV_W[((o * 3 + ky) * 3 + kx) * 2 + c];
            }
        float ws;
        memcpy(&ws, &CONV_B[4 + o], sizeof ws);
        float num = TYPES[1].scale * ws, mult = num / TYPES[2].scale;
        y[(oy * 4 + ox) * 4 + o] =
            rne_clamp((float)acc * mult, TYPES[2].zp, TYPES[2].zp, 127);
      }
  for (int c = 0; c < 4; c++) {
    int32_t acc = 0;
    for (int i = 0; i < 16; i++) acc += y[i * 4 + c] - TYPES[3].zp;
    float m = (TYPES[3].scale / TYPES[4].scale) / 16.0f;
    p[c] = rne_clamp((float)acc * m, TYPES[4].zp, -128, 127);
  }
  for (int o = 0; o < 3; o++) {
    int64_t acc = (int32_t)FC_B[o];
    for (int c = 0; c < 4; c++) acc += (int64_t)(p[c] - TYPES[4].zp) * FC_W[o * 4 + c];
    float ws;
    memcpy(&ws, &FC_B[3 + o], sizeof ws);
    float num = TYPES[4].scale * ws, mult = num / TYPES[5].scale;
    z[o] = rne_clamp((float)acc * mult, TYPES[5].zp, -128, 127);
    logits[o] = (float)(z[o] - TYPES[5].zp) * TYPES[5].scale;
  }
}

static void int8_package_runs(void) {
  reset();
  size_t size;
  uint8_t *bytes = build(&size);
  dyce_model *m = NULL;
  dyce_session *s = NULL;
  dyce_error err;
  CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
  free(bytes);
  if (!m) return;
  dyce_graph_info gi;
  CHECK(dyce_model_graph_info(m, 0, &gi, NULL) == DYCE_OK && gi.int8_nodes == 1 &&
        gi.output_int8 == 1);
  CHECK(dyce_model_graph_info(m, 1, &gi, NULL) == DYCE_OK && gi.int8_nodes == 2 &&
        gi.output_int8 == 0);
  CHECK(dyce_session_create(m, &s, &err) == DYCE_OK);
  for (int round = 0; s && round < 20; round++) {
    float x[32], want[3];
    for (int i = 0; i < 32; i++) x[i] = 2.5f * test_randf();
    expected(x, want);
    CHECK(dyce_session_set_input(s, x, 32, DYCE_LAYOUT_NHWC, &err) == DYCE_OK);
    CHECK_MSG(dyce_session_run(s, 1, &err) == DYCE_OK, "%s", err.message);
    const float *y = NULL;
    size_t n = 0;
    CHECK(dyce_session_output(s, 1, &y, &n, &err) == DYCE_OK && n == 3);
    for (size_t o = 0; y && o < 3; o++)
      CHECK_MSG(y[o] == want[o], "round %d logit %zu: %g, want %g", round, o,
                (double)y[o], (double)want[o]);
    /* The stage's output is int8: the float getter refuses it. */
    const int8_t *q;
    float scale;
    int32_t zp;
    CHECK(dyce_session_output(s, 0, &y, &n, &err) == DYCE_INVALID_ARGUMENT &&
          strstr(err.message, "dyce_session_output_int8"));
    CHECK(dyce_session_output_int8(s, 0, &q, &n, &scale, &zp, &err) == DYCE_OK &&
          n == 64 && scale == TYPES[2].scale && zp == TYPES[2].zp);
  }
  dyce_session_free(s);
  dyce_model_free(m);
}

static void expect_refused(const char *needle) {
  size_t size;
  uint8_t *bytes = build(&size);
  check_refused(bytes, size, needle);
  reset();
}

static void int8_fields_refused(void) {
  reset();
  VERSION = 1;
  expect_refused("a version 1 package has a 'QTEN' section");
  TYPES[1].scale = 0.0f;
  expect_refused("graph 'stage1' tensor 1: int8 scale 0 and zero point -3");
  TYPES[1].scale = NAN;
  expect_refused("scale must be finite and at least 1e-30");
  TYPES[2].zp = 128;
  expect_refused("zero point in -128..127");
  TYPES[1].dtype = 7;
  expect_refused("tensor 1: element type 7");
  TYPES[0].scale = 0.5f;
  expect_refused("a float32 tensor has scale 0.5");
  TYPES[3].zp = -127;
  expect_refused("graph 'head': input is int8 (scale 0.03125, zero point -127) "
                 "but its source gives int8 (scale 0.03125, zero point -128)");
  TYPES[2].dtype = 0, TYPES[2].scale = 0, TYPES[2].zp = 0;
  expect_refused("node 1 (conv2d): input 1 (tensor 1) is int8, the node's other tensors float32");
  STAGE_N[0].op = DYCE__OP_DEQUANTIZE;
  expect_refused("node 0 (dequantize): turns float32 into int8");
  CONV_W[5] = -128;
  expect_refused("node 1 (conv2d): int8 weight 5 is -128");
  CONV_B[6] = f32_bits(0.0f);
  expect_refused("weight scale of output channel 2 is 0");
  FC_B[4] = f32_bits(NAN);
  expect_refused("graph 'head' node 1 (fully_connected): weight scale of output channel 1 is nan");
  CONV_B[1] = 0x7fff0000u;
  expect_refused("output channel 1: bias 2147418112 plus 18 products can overflow");
  STAGE_N[1].bias_count = 4;
  expect_refused("has a bias block of 4 words; an int8 node needs 8");
  STAGE_N[1].act = DYCE__ACT_SIGMOID;
  expect_refused("an int8 node fuses no sigmoid");
  TYPES[5].scale = 1e-30f, TYPES[4].scale = 1e30f;
  expect_refused("requantization multiplier");
  HEAD_N[2].op = DYCE__OP_SOFTMAX;
  expect_refused("node 2 (softmax): has no int8 form");
  /* The head's logits stay int8: a max pool in place of the dequantize. */
  TYPES[6] = TYPES[5];
  HEAD_N[2].op = DYCE__OP_GLOBAL_MAX_POOL;
  expect_refused("'head' outputs int8 class scores");
}

const test_case q8_package_tests[] = {
    {"q8_package", "int8_package_runs", int8_package_runs},
    {"q8_package", "int8_fields_refused", int8_fields_refused},
    {0}};
