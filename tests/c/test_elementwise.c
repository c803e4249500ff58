/* The activations abs, sqrt, exp, log and reciprocal and the ops max and
 * min: each kernel table (reference and SIMD) against the definitions at
 * edge values (0, -0, negatives, subnormals, the ends of exp's range,
 * infinities, NaN) and over wide sweeps, fused after a convolution and a
 * binary op, in int8 tables; max / min with every operand shape add and
 * mul take, split across threads; and what the loader refuses, with
 * status and message. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "kernels/kernels.h"
#include "package_checks.h"
#include "test.h"

static const dyce__act NEW_ACTS[] = {DYCE__ACT_ABS, DYCE__ACT_SQRT,
                                     DYCE__ACT_EXP, DYCE__ACT_LOG,
                                     DYCE__ACT_RECIPROCAL};

static const char *name_of(dyce__act act) {
  static const char *names[] = {"abs", "sqrt", "exp", "log", "reciprocal"};
  return names[act - DYCE__ACT_ABS];
}

/* The definitions (docs/FORMAT.md), as PyTorch computes them. */
static float define(dyce__act act, float x) {
  switch (act) {
    case DYCE__ACT_ABS: return fabsf(x);
    case DYCE__ACT_SQRT: return sqrtf(x);
    case DYCE__ACT_EXP: return expf(x);
    case DYCE__ACT_LOG: return logf(x);
    default: return 1.0f / x;
  }
}

/* Distance in units in the last place; NaN only matches NaN, an infinity
 * only itself. */
static double ulps(float got, float want) {
  if (isnan(want) || isnan(got)) return isnan(want) && isnan(got) ? 0 : INFINITY;
  if (isinf(want) || isinf(got)) return got == want ? 0 : INFINITY;
  if (got == want) return 0;
  float step = nextafterf(fabsf(want), INFINITY) - fabsf(want);
  if (!(step > 0)) step = FLT_TRUE_MIN;
  return fabs((double)got - want) / step;
}

/* How far each table may be: abs, sqrt and 1/x are exact in both; the
 * SIMD exp and log are polynomials (within 1 ulp of expf and logf). */
static double allowed(const dyce__kernels *k, dyce__act act) {
  if (k == &dyce__kernels_ref) return 0;
  return act == DYCE__ACT_EXP || act == DYCE__ACT_LOG ? 1 : 0;
}

static const float EDGES[] = {
    0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 2.0f, 1e-3f, -1e-3f, 1e-40f, -1e-40f,
    FLT_MIN, FLT_TRUE_MIN, 0.999999f, 1.000001f, 0.70710677f, 1.4142135f,
    3.0f, 10.0f, 86.9f, 87.0f, -87.0f, -87.1f, 87.9f, 88.0f, 88.7f, 88.8f,
    89.0f, -103.0f, -104.0f, -200.0f, 100.0f, 1e10f, -1e10f, 1e30f, FLT_MAX,
    -FLT_MAX, INFINITY, -INFINITY, NAN};
#define N_EDGES (sizeof EDGES / sizeof EDGES[0])

/* Runs `act` through the table's activation kernel over x (n values, the
 * SIMD tail at every length) and checks each result. */
static void check_values(const dyce__kernels *k, dyce__act act, const float *x,
                         size_t n, const char *what) {
  float *y = malloc(n * sizeof *y);
  dyce__activation a = {act, 0.0f, 0.0f};
  k->activation(n, x, a, y);
  double worst = 0;
  size_t at = 0;
  for (size_t i = 0; i < n; i++) {
    double u = ulps(y[i], define(act, x[i]));
    if (u > worst) worst = u, at = i;
  }
  CHECK_MSG(worst <= allowed(k, act), "%s %s %s: %g ulp at x = %.9g (%.9g, want %.9g)",
            k->name, what, name_of(act), worst, (double)x[at],
            (double)y[at], (double)define(act, x[at]));
  free(y);
}

static void activation_edges(void) {
  const dyce__kernels *tables[] = {&dyce__kernels_ref, &dyce__kernels_simd};
  for (size_t t = 0; t < 2; t++)
    for (size_t a = 0; a < 5; a++) {
      check_values(tables[t], NEW_ACTS[a], EDGES, N_EDGES, "edges");
      for (size_t n = 1; n <= 7; n++) /* tails: one lane ... seven */
        check_values(tables[t], NEW_ACTS[a], EDGES + 3 * n, n, "tail");
    }
}

/* 200k values per activation: exp over [-110, 110], the others
 * log-uniformly over [1e-38, 1e38] and its negatives. */
static void activation_sweeps(void) {
  size_t n = 200000;
  float *x = malloc(n * sizeof *x);
  const dyce__kernels *tables[] = {&dyce__kernels_ref, &dyce__kernels_simd};
  for (size_t a = 0; a < 5; a++) {
    for (size_t i = 0; i < n; i++) {
      double u = (double)i / (double)(n - 1);
      x[i] = NEW_ACTS[a] == DYCE__ACT_EXP
                 ? (float)(-110.0 + 220.0 * u)
                 : (float)((i & 1 ? -1.0 : 1.0) * pow(10.0, -38.0 + 76.0 * u));
    }
    for (size_t t = 0; t < 2; t++) check_values(tables[t], NEW_ACTS[a], x, n, "sweep");
  }
  free(x);
}

/* A convolution of positive values with each activation fused (SIMD: the
 * pass after the microkernel), against the reference table. */
static void fused_after_conv(void) {
  dyce__window g = {.in_h = 5, .in_w = 6, .in_c = 7, .out_h = 5, .out_w = 6,
                    .out_c = 13, .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1,
                    .dw = 1, .pad_t = 1, .pad_l = 1, .groups = 1,
                    .packed_in_c = 7, .packed_out_c = 13, .packed_groups = 1};
  float x[5 * 6 * 7], w[13 * 9 * 7], b[13], y[5 * 6 * 13], want[5 * 6 * 13];
  for (size_t i = 0; i < sizeof x / sizeof *x; i++) x[i] = 0.5f + 0.25f * test_randf();
  for (size_t i = 0; i < sizeof w / sizeof *w; i++) w[i] = 0.05f + 0.02f * test_randf();
  for (size_t i = 0; i < 13; i++) b[i] = 0.1f + 0.05f * test_randf();
  const dyce__kernels *S = &dyce__kernels_simd, *R = &dyce__kernels_ref;
  float *ps = malloc(S->conv2d_packed_floats(&g) * 4), *pr = malloc(R->conv2d_packed_floats(&g) * 4);
  size_t scratch_bytes = S->conv2d_scratch_bytes(&g);
  void *scratch = malloc(scratch_bytes ? scratch_bytes : 1);
  S->pack_conv2d(&g, w, ps);
  R->pack_conv2d(&g, w, pr);
  for (size_t a = 0; a < 5; a++) {
    dyce__activation act = {NEW_ACTS[a], 0.0f, 0.0f};
    S->conv2d(&g, x, ps, b, act, y, scratch);
    R->conv2d(&g, x, pr, b, act, want, NULL);
    int bad = 0;
    for (size_t i = 0; i < sizeof y / sizeof *y; i++)
      bad += !(fabsf(y[i] - want[i]) <= 1e-5f * fabsf(want[i]));
    CHECK_MSG(bad == 0, "conv + %s: %d of %zu differ", name_of(NEW_ACTS[a]),
              bad, sizeof y / sizeof *y);
  }
  free(ps), free(pr), free(scratch);
}

/* max / min in both tables: per element, per channel and scalar operands,
 * a fused activation, NaN in either operand giving NaN. */
static void binary_kernels(void) {
  enum { N = 25, C = 5 }; /* n is whole pixels of c channels */
  float a[N], b[N], y[N], want[N];
  for (int i = 0; i < N; i++) a[i] = test_randf(), b[i] = test_randf();
  a[3] = NAN, b[7] = NAN, a[11] = b[11] = 0.25f;
  const dyce__kernels *tables[] = {&dyce__kernels_ref, &dyce__kernels_simd};
  const size_t counts[] = {N, C, 1};
  for (size_t t = 0; t < 2; t++)
    for (int op = DYCE__OP_MAX; op <= DYCE__OP_MIN; op++)
      for (size_t c = 0; c < 3; c++)
        for (int fused = 0; fused <= 1; fused++) {
          dyce__activation act = {fused ? DYCE__ACT_ABS : DYCE__ACT_NONE, 0, 0};
          tables[t]->binary((dyce__op)op, N, C, a, b, counts[c], act, y);
          int bad = 0;
          for (int i = 0; i < N; i++) {
            float bv = counts[c] == N ? b[i] : b[counts[c] == 1 ? 0 : i % C];
            float m = isnan(a[i]) || isnan(bv) ? NAN
                      : op == DYCE__OP_MAX ? fmaxf(a[i], bv) : fminf(a[i], bv);
            want[i] = fused ? fabsf(m) : m;
            bad += ulps(y[i], want[i]) != 0;
          }
          CHECK_MSG(bad == 0, "%s %s b_count %zu act %d: %d differ", tables[t]->name,
                    op == DYCE__OP_MAX ? "max" : "min", counts[c], fused, bad);
        }
}

/* ---- packages: max / min with each operand shape ---------------------- */

enum { H = 3, W = 4, C = 4, HWC = H * W * C };

/* input x (3x4x4) -> `make` gives y of shape `ys` -> op(x, y) -> out. With
 * make.op == 0, no y: op(x, the constant of make.weight_count floats). */
static void run_shape(uint32_t op, tb_node make, const uint32_t ys[3],
                      const float *k, const char *what) {
  const uint32_t t[][3] = {{H, W, C}, {ys[0], ys[1], ys[2]}, {H, W, C}};
  const uint32_t t1[][3] = {{H, W, C}, {H, W, C}};
  float x[HWC], y[HWC], mid[HWC], got[HWC];
  for (int i = 0; i < HWC; i++) x[i] = (float)((i * 7) % 13) - 6.0f + 0.5f * test_randf();
  tb_node n[2] = {make, {.op = op, .act = DYCE__ACT_NONE, .in0 = 0, .in1 = 1, .out = 2}};
  tb_graph g = {"main", DYCE__NONE, t, 3, n, 2, 0, 2, 0};
  if (!make.op) { /* a constant operand */
    n[0] = (tb_node){.op = op, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
                     .weights = k, .weight_count = make.weight_count};
    g = (tb_graph){"main", DYCE__NONE, t1, 2, n, 1, 0, 1, 0};
  }
  tb_package pkg = {.h = H, .w = W, .c = C, .graphs = &g, .graph_count = 1};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  if (!run_package(bytes, size, x, HWC, got, HWC)) return;
  /* The operand as the definitions give it, repeated to x's shape. */
  for (int i = 0; i < HWC; i++) {
    int r = i / (W * C), col = (i / C) % W, ch = i % C;
    float v = 0.0f;
    if (!make.op) {
      v = make.weight_count == HWC ? k[i] : make.weight_count == C ? k[ch] : k[0];
    } else if (make.op == DYCE__OP_MUL) {
      v = -0.5f * x[i];
    } else {
      v = -INFINITY; /* a max over the pixels the pool or reduction covers */
      for (int j = 0; j < HWC; j++) {
        int r2 = j / (W * C), c2 = (j / C) % W, ch2 = j % C;
        int same = ys[2] == 1 ? r2 == r && c2 == col
                              : ch2 == ch && (ys[0] == 1 || r2 == r) && (ys[1] == 1 || c2 == col);
        if (same) v = fmaxf(v, x[j]);
      }
    }
    mid[i] = v;
    y[i] = op == DYCE__OP_MAX ? fmaxf(x[i], v) : fminf(x[i], v);
  }
  int bad = 0;
  for (int i = 0; i < HWC; i++) bad += got[i] != y[i];
  CHECK_MSG(bad == 0, "%s %s: %d of %d differ (first operand %g, second %g)",
            op == DYCE__OP_MAX ? "max" : "min", what, bad, HWC, (double)x[0],
            (double)mid[0]);
}

static void max_min_every_operand(void) {
  static const float k[HWC] = {0.5f, -1.0f, 2.0f, 0.0f, -3.0f, 1.5f};
  const uint32_t same[3] = {H, W, C}, chan[3] = {1, 1, C}, rows[3] = {H, 1, C},
                 cols[3] = {1, W, C}, pix[3] = {H, W, 1};
  tb_node mul = {.op = DYCE__OP_MUL, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
                 .weights = (const float[]){-0.5f}, .weight_count = 1};
  tb_node gmax = {.op = DYCE__OP_GLOBAL_MAX_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1};
  tb_node rmax = {.op = DYCE__OP_MAX_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
                  .p = {1, W, 1, 1}};
  tb_node cmax = {.op = DYCE__OP_MAX_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
                  .p = {H, 1, 1, 1}};
  tb_node pmax = {.op = DYCE__OP_CHANNEL_REDUCE, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
                  .p = {1}};
  for (uint32_t op = DYCE__OP_MAX; op <= DYCE__OP_MIN; op++) {
    run_shape(op, mul, same, NULL, "same shape");
    run_shape(op, gmax, chan, NULL, "per channel (1x1xC)");
    run_shape(op, rmax, rows, NULL, "rows (Hx1xC)");
    run_shape(op, cmax, cols, NULL, "columns (1xWxC)");
    run_shape(op, pmax, pix, NULL, "pixels (HxWx1)");
    const uint32_t counts[] = {HWC, C, 1};
    for (size_t c = 0; c < 3; c++)
      run_shape(op, (tb_node){.weight_count = counts[c]}, same, k, "constant");
  }
}

/* 128x128x4 (65536 elements: large enough to split) max of the input and
 * its negative on two threads: split into parts, the same bits. */
static void max_splits_on_threads(void) {
  static const uint32_t t[][3] = {{128, 128, 4}, {128, 128, 4}, {128, 128, 4}};
  const tb_node n[2] = {
      {.op = DYCE__OP_MUL, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
       .weights = (const float[]){-1.0f}, .weight_count = 1},
      {.op = DYCE__OP_MAX, .act = DYCE__ACT_SQRT, .in0 = 0, .in1 = 1, .out = 2}};
  tb_graph g = {"main", DYCE__NONE, t, 3, n, 2, 0, 2, 0};
  tb_package pkg = {.h = 128, .w = 128, .c = 4, .graphs = &g, .graph_count = 1};
  size_t size, count = 128 * 128 * 4;
  uint8_t *bytes = tb_build(&pkg, &size);
  dyce_model *m = NULL;
  dyce_session *s = NULL;
  CHECK(dyce_model_load(bytes, size, &m, NULL) == DYCE_OK);
  free(bytes);
  float *x = malloc(count * 4);
  for (size_t i = 0; i < count; i++) x[i] = test_randf() * 100.0f;
  if (m && dyce_session_create_threads(m, 2, &s, NULL) == DYCE_OK) {
    CHECK(dyce_session_set_split_min_macs(s, 0, NULL) == DYCE_OK);
    CHECK(dyce_session_split_nodes(s) == 2);
    const float *y = NULL;
    size_t got = 0;
    CHECK(dyce_session_set_input(s, x, count, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK &&
          dyce_session_run(s, 0, NULL) == DYCE_OK &&
          dyce_session_output(s, 0, &y, &got, NULL) == DYCE_OK && got == count);
    int bad = 0;
    for (size_t i = 0; y && i < count; i++) bad += y[i] != sqrtf(fabsf(x[i]));
    CHECK_MSG(bad == 0, "%d of %zu differ", bad, count);
  }
  dyce_session_free(s);
  dyce_model_free(m);
  free(x);
}

/* ---- int8: abs and exp as tables; sqrt, log, 1/x and max / min refused - */

static uint32_t f32_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* x (2x2x4 float32) -quantize-> q (s 1/32, zp 3) -`node`-> r (s 1/8, zp
 * -100) -dequantize-> out. */
static uint8_t *int8_package(tb_node node, size_t *size) {
  static const uint32_t t[][3] = {{2, 2, 4}, {2, 2, 4}, {2, 2, 4}, {2, 2, 4}};
  const tb_node n[3] = {
      {.op = DYCE__OP_QUANTIZE, .in0 = 0, .in1 = DYCE__NONE, .out = 1}, node,
      {.op = DYCE__OP_DEQUANTIZE, .in0 = 2, .in1 = DYCE__NONE, .out = 3}};
  uint8_t qten[16 + 4 * 16] = {0};
  tb_put_u32(qten, 4);
  tb_put_u32(qten + 32, 1);
  tb_put_u32(qten + 36, f32_bits(1.0f / 32));
  tb_put_u32(qten + 40, 3);
  tb_put_u32(qten + 48, 1);
  tb_put_u32(qten + 52, f32_bits(1.0f / 8));
  tb_put_u32(qten + 56, (uint32_t)-100);
  tb_graph g = {"main", DYCE__NONE, t, 4, n, 3, 0, 3, 0};
  tb_package pkg = {.h = 2, .w = 2, .c = 4, .graphs = &g, .graph_count = 1,
                    .extra_tag = "QTEN", .extra = qten, .extra_bytes = sizeof qten};
  uint8_t *bytes = tb_build(&pkg, size);
  tb_put_u32(bytes + 4, 2); /* version 2: QTEN */
  return bytes;
}

static void int8_tables(void) {
  float x[16], y[16];
  for (int i = 0; i < 16; i++) x[i] = (float)i * 0.55f - 4.0f;
  for (int a = 0; a < 5; a++) {
    tb_node n = {.op = DYCE__OP_ACTIVATION, .act = NEW_ACTS[a], .in0 = 1,
                 .in1 = DYCE__NONE, .out = 2};
    size_t size;
    uint8_t *bytes = int8_package(n, &size);
    if (NEW_ACTS[a] != DYCE__ACT_ABS && NEW_ACTS[a] != DYCE__ACT_EXP) {
      char want[96];
      snprintf(want, sizeof want, "node 1 (activation): int8 %s has no table form",
               name_of(NEW_ACTS[a]));
      check_refused_as(bytes, size, DYCE_UNSUPPORTED, want);
      continue;
    }
    if (!run_package(bytes, size, x, 16, y, 16)) continue;
    for (int i = 0; i < 16; i++) { /* docs/INT8.md, step by step */
      float q = fminf(fmaxf(rintf(x[i] * 32.0f) + 3.0f, -128.0f), 127.0f);
      double v = (q - 3.0) / 32.0;
      double f = NEW_ACTS[a] == DYCE__ACT_ABS ? fabs(v) : exp(v);
      double r = fmin(fmax(rint(f * 8.0) - 100.0, -128.0), 127.0);
      CHECK_MSG(y[i] == (float)((r + 100.0) / 8.0), "int8 %s of %g: %g, want %g",
                name_of(NEW_ACTS[a]), (double)x[i], (double)y[i],
                (r + 100.0) / 8.0);
    }
  }
}

static void int8_max_min_refused(void) {
  for (uint32_t op = DYCE__OP_MAX; op <= DYCE__OP_MIN; op++) {
    tb_node n = {.op = op, .in0 = 1, .in1 = 1, .out = 2};
    size_t size;
    uint8_t *bytes = int8_package(n, &size);
    check_refused_as(bytes, size, DYCE_UNSUPPORTED,
                     op == DYCE__OP_MAX ? "node 1 (max): has no int8 form"
                                        : "node 1 (min): has no int8 form");
  }
}

/* ---- fields the loader refuses ------------------------------------------ */

/* Node 0 makes tensor 1 (a relu of the input; with `halve`, an average
 * pool of width 2 stride 2: 3x2x4); node 1 is `n`. */
static void refuse(tb_node n, int halve, int status, const char *needle) {
  const uint32_t t[][3] = {{H, W, C}, {H, halve ? W / 2 : W, C}, {H, W, C}};
  const tb_node relu = {.op = DYCE__OP_ACTIVATION, .act = DYCE__ACT_RELU,
                        .in0 = 0, .in1 = DYCE__NONE, .out = 1};
  const tb_node pool = {.op = DYCE__OP_AVG_POOL, .in0 = 0, .in1 = DYCE__NONE,
                        .out = 1, .p = {1, 2, 1, 2}};
  const tb_node nodes[2] = {halve ? pool : relu, n};
  tb_graph g = {"main", DYCE__NONE, t, 3, nodes, 2, 0, 2, 0};
  tb_package pkg = {.h = H, .w = W, .c = C, .graphs = &g, .graph_count = 1};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  check_refused_as(bytes, size, status, needle);
}

static void fields_refused(void) {
  enum { same = 0, odd = 1 };
  tb_node n = {.op = DYCE__OP_ACTIVATION, .act = DYCE__ACT_SQRT, .act_a = 1.0f,
               .in0 = 1, .in1 = DYCE__NONE, .out = 2};
  refuse(n, same, DYCE_BAD_FORMAT,
         "node 1 (activation): activation sqrt takes no parameters, but act_a "
         "is 1 and act_b 0 (both must be 0)");
  n.act = DYCE__ACT_RECIPROCAL, n.act_a = 0.0f, n.act_b = -2.0f;
  refuse(n, same, DYCE_BAD_FORMAT, "activation reciprocal takes no parameters");
  n = (tb_node){.op = DYCE__OP_MAX, .act = DYCE__ACT_LOG, .act_b = 0.5f, .in0 = 0,
                .in1 = 1, .out = 2};
  refuse(n, same, DYCE_BAD_FORMAT, "node 1 (max): activation log takes no parameters");
  n.act = DYCE__ACT_NONE, n.act_b = 0.0f;
  refuse(n, odd, DYCE_BAD_FORMAT,
         "node 1 (max): second input 3x2x4 neither matches 3x4x4 nor is 1x1x4, "
         "3x1x4, 1x4x4 or 3x4x1");
  n.op = DYCE__OP_MIN, n.bias = (const float[]){1.0f}, n.bias_count = 1;
  refuse(n, same, DYCE_BAD_FORMAT, "node 1 (min): takes no bias");
  n = (tb_node){.op = DYCE__OP_MIN, .in0 = 0, .in1 = DYCE__NONE, .out = 2,
                .weights = (const float[]){1.0f, 2.0f}, .weight_count = 2};
  refuse(n, same, DYCE_BAD_FORMAT, "node 1 (min): constant has 2 elements; expected 48, 4 or 1");
  n.act = 18;
  refuse(n, same, DYCE_UNSUPPORTED, "unknown activation code 18");
  n = (tb_node){.op = 25, .in0 = 0, .in1 = DYCE__NONE, .out = 2};
  refuse(n, same, DYCE_UNSUPPORTED, "unknown op code 25");
}

const test_case elementwise_tests[] = {
    {"elementwise", "activation_edges", activation_edges},
    {"elementwise", "activation_sweeps", activation_sweeps},
    {"elementwise", "fused_after_conv", fused_after_conv},
    {"elementwise", "binary_kernels", binary_kernels},
    {"elementwise", "max_min_every_operand", max_min_every_operand},
    {"elementwise", "max_splits_on_threads", max_splits_on_threads},
    {"elementwise", "int8_tables", int8_tables},
    {"elementwise", "int8_max_min_refused", int8_max_min_refused},
    {"elementwise", "fields_refused", fields_refused},
    {0},
};
