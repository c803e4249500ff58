/* Weight-only float16 (format version 2, NODE weight_type 1): a package
 * whose conv and fully connected weights and biases are halves answers
 * bit for bit as the same package with those halves written as floats,
 * through a copying and an in-place load; the half decoder against every
 * one of the 63 488 finite halves; bad weight types and non-finite halves
 * refused. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "core/reader.h"
#include "dyce.h"
#include "test.h"

/* main (input 6x6x2): conv 3x3 pad 1, 2->8, relu -> gap -> fc 8->3 */
static const uint32_t TENSORS[][3] = {{6, 6, 2}, {6, 6, 8}, {1, 1, 8}, {1, 1, 3}};
/* Halves are written as whole floats (pairs): FC_BH has room for a 4th. */
static uint16_t CONV_H[8 * 9 * 2], CONV_BH[8], FC_H[3 * 8], FC_BH[4];
static float CONV_F[8 * 9 * 2], CONV_BF[8], FC_F[3 * 8], FC_BF[3];
static tb_node NODES[3];

static float half(uint16_t h) {
  uint8_t le[2] = {(uint8_t)h, (uint8_t)(h >> 8)};
  return dyce__rd_f16(le);
}

/* Halves of assorted magnitudes (normal and subnormal, both signs). */
static void fill(uint16_t *h, float *f, size_t n, unsigned seed) {
  for (size_t i = 0; i < n; i++) {
    unsigned r = (unsigned)(i * 2654435761u + seed);
    uint16_t exp = (uint16_t)(r % 18u); /* 0 (subnormal) .. 17: tiny to ~4 */
    h[i] = (uint16_t)((r & 0x8000u) | exp << 10 | ((r >> 7) & 0x3ffu));
    f[i] = half(h[i]);
  }
}

static void reset(int f16) {
  fill(CONV_H, CONV_F, 144, 1), fill(CONV_BH, CONV_BF, 8, 2);
  fill(FC_H, FC_F, 24, 3), fill(FC_BH, FC_BF, 3, 4);
  const void *cw = f16 ? (const void *)CONV_H : CONV_F, *cb = f16 ? (const void *)CONV_BH : CONV_BF;
  const void *fw = f16 ? (const void *)FC_H : FC_F, *fb = f16 ? (const void *)FC_BH : FC_BF;
  const tb_node n[3] = {
      {.op = DYCE__OP_CONV2D, .act = DYCE__ACT_RELU, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
       .weights = cw, .weight_count = 144, .bias = cb, .bias_count = 8,
       .p = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}, .weight_type = (uint32_t)f16},
      {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 1, .in1 = DYCE__NONE, .out = 2},
      {.op = DYCE__OP_FULLY_CONNECTED, .in0 = 2, .in1 = DYCE__NONE, .out = 3,
       .weights = fw, .weight_count = 24, .bias = fb, .bias_count = 3,
       .weight_type = (uint32_t)f16},
  };
  memcpy(NODES, n, sizeof n);
}

/* Version 2 with an all-float QTEN (float16 weights need version 2). */
static uint8_t *build(uint32_t version, size_t *size) {
  const tb_graph g = {"main", DYCE__NONE, TENSORS, 4, NODES, 3, 0, 3, 36 * 8 * 18 + 24};
  uint8_t qten[16 + 4 * 16] = {0};
  tb_put_u32(qten, 4);
  tb_package pkg = {.h = 6, .w = 6, .c = 2, .graphs = &g, .graph_count = 1,
                    .extra_tag = "QTEN", .extra = qten,
                    .extra_bytes = version == 2 ? sizeof qten : 0};
  uint8_t *bytes = tb_build(&pkg, size);
  tb_put_u32(bytes + 4, version);
  return bytes;
}

/* The logits of `bytes` for a fixed input; `inplace`: dyce_model_load_inplace. */
static int logits(uint8_t *bytes, size_t size, int inplace, float out[3]) {
  dyce_model *m = NULL;
  dyce_session *s = NULL;
  dyce_error err;
  dyce_status st = inplace ? dyce_model_load_inplace(bytes, size, &m, &err)
                           : dyce_model_load(bytes, size, &m, &err);
  CHECK_MSG(st == DYCE_OK, "%s", err.message);
  if (st) return 0;
  float x[72];
  for (int i = 0; i < 72; i++) x[i] = (float)((i * 29) % 17) / 8.0f - 1.0f;
  const float *y = NULL;
  size_t n = 0;
  int ok = dyce_session_create(m, &s, &err) == DYCE_OK &&
           dyce_session_set_input(s, x, 72, DYCE_LAYOUT_NHWC, &err) == DYCE_OK &&
           dyce_session_run(s, 0, &err) == DYCE_OK &&
           dyce_session_output(s, 0, &y, &n, &err) == DYCE_OK && n == 3;
  CHECK_MSG(ok, "%s", err.message);
  if (ok) memcpy(out, y, sizeof(float) * 3);
  dyce_session_free(s);
  dyce_model_free(m);
  return ok;
}

static void f16_answers_as_its_floats(void) {
  size_t size16, size32;
  reset(1);
  uint8_t *h = build(2, &size16);
  reset(0);
  uint8_t *f = build(1, &size32);
  CHECK(size16 < size32);
  float a[3], b[3], c[3];
  uint8_t *owned = malloc(size16);
  memcpy(owned, h, size16);
  if (logits(h, size16, 0, a) && logits(f, size32, 0, b) && logits(owned, size16, 1, c))
    for (int k = 0; k < 3; k++)
      CHECK_MSG(a[k] == b[k] && c[k] == b[k], "logit %d: %g / %g (in place) vs %g", k,
                (double)a[k], (double)c[k], (double)b[k]);
  free(h);
  free(f);
}

static void half_decoder(void) {
  size_t checked = 0;
  for (uint32_t h = 0; h < 0x10000u; h++) {
    if ((h & 0x7c00u) == 0x7c00u) continue; /* infinities and NaNs: refused */
    int exp = (int)((h >> 10) & 0x1fu), man = (int)(h & 0x3ffu);
    double want = exp ? ldexp(1.0 + man / 1024.0, exp - 15) : ldexp(man, -24);
    if (h & 0x8000u) want = -want;
    float got = half((uint16_t)h);
    CHECK_MSG((double)got == want && !!signbit(got) == !!(h & 0x8000u),
              "half 0x%04x: %g, want %g", h, (double)got, want);
    checked++;
  }
  CHECK(checked == 63488);
}

static void expect_refused(uint32_t version, const char *needle) {
  size_t size;
  uint8_t *bytes = build(version, &size);
  check_refused(bytes, size, needle);
  reset(1);
}

static void f16_fields_refused(void) {
  reset(1);
  expect_refused(1, "node 0 (conv2d): weight type 1: 0 (float32), or 1 (float16) for a float node of a version 2 package");
  NODES[2].weight_type = 2;
  expect_refused(2, "node 2 (fully_connected): weight type 2");
  CONV_H[7] = 0x7c00; /* +infinity */
  expect_refused(2, "node 0 (conv2d): weights element 7 is not finite");
  FC_BH[2] = 0xfe00; /* a NaN */
  expect_refused(2, "node 2 (fully_connected): bias element 2 is not finite");
}

const test_case f16_tests[] = {
    {"f16", "f16_answers_as_its_floats", f16_answers_as_its_floats},
    {"f16", "half_decoder", half_decoder},
    {"f16", "f16_fields_refused", f16_fields_refused},
    {0}};
