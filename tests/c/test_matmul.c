/* matmul (op 21): attention's products per head, run by the engine
 * against the definition — the same float sums in index order bit for
 * bit, and a double sum within rounding — in shapes with one and several
 * groups, K = 1, M != N, odd sizes, alpha != 1; self-attention chained
 * with a grouped softmax; never split across threads; int8 refused; and
 * every field refused with its status and a message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "test.h"

typedef struct mm_case {
  uint32_t ah, aw, ca, bh, bw, cb, groups;
  int trans_b;
  float alpha;
  int rowwise; /* p[MATMUL_ROWWISE]: row h of A against row h of B only */
} mm_case;

static int32_t f32_bits(float f) {
  int32_t i;
  memcpy(&i, &f, sizeof i);
  return i;
}

/* The package: its input is one row of T = M CA + N CB pixels (a
 * package input has at most 4 channels) holding A then B; a view makes it
 * one vector, a channel_gather and a view each operand, then the matmul:
 *   t0 (1, T, 1) -view-> t1 (1, 1, T)
 *   t1 -gather-> t2 (1, 1, M CA) -view-> t3 (ah, aw, ca)
 *   t1 -gather-> t4 (1, 1, N CB) -view-> t5 (bh, bw, cb)
 *   matmul(t3, t5) -> t6 (ah, aw, G N or CB)
 * Tests change MM, OUT (t6's shape) and the case's channels. */
static tb_node MM;
static uint32_t OUT[3];
static uint64_t MACS;

static void reset(const mm_case *c) {
  uint32_t m = c->ah * c->aw, n = c->rowwise ? c->bw : c->bh * c->bw;
  uint32_t out_c = c->trans_b ? c->groups * n : c->cb;
  uint32_t inner = c->trans_b ? c->cb / c->groups : n;
  MM = (tb_node){.op = DYCE__OP_MATMUL, .in0 = 3, .in1 = 5, .out = 6};
  MM.p[DYCE__P_MATMUL_GROUPS] = (int32_t)c->groups;
  MM.p[DYCE__P_MATMUL_TRANS_B] = c->trans_b;
  MM.p[DYCE__P_MATMUL_ALPHA] = f32_bits(c->alpha);
  MM.p[DYCE__P_MATMUL_ROWWISE] = c->rowwise;
  OUT[0] = c->ah, OUT[1] = c->aw, OUT[2] = out_c;
  MACS = (uint64_t)m * out_c * inner;
}

static uint8_t *build(const mm_case *c, size_t *size) {
  uint32_t ma = c->ah * c->aw * c->ca, nb = c->bh * c->bw * c->cb;
  float *ia = malloc(ma * sizeof(float)), *ib = malloc(nb * sizeof(float));
  for (uint32_t i = 0; i < ma; i++) ia[i] = (float)i;
  for (uint32_t i = 0; i < nb; i++) ib[i] = (float)(ma + i);
  const uint32_t t[7][3] = {{1, ma + nb, 1}, {1, 1, ma + nb}, {1, 1, ma},
                            {c->ah, c->aw, c->ca}, {1, 1, nb}, {c->bh, c->bw, c->cb},
                            {OUT[0], OUT[1], OUT[2]}};
  const tb_node n[6] = {
      {.op = DYCE__OP_VIEW, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
      {.op = DYCE__OP_CHANNEL_GATHER, .in0 = 1, .in1 = DYCE__NONE, .out = 2,
       .weights = ia, .weight_count = ma},
      {.op = DYCE__OP_VIEW, .in0 = 2, .in1 = DYCE__NONE, .out = 3},
      {.op = DYCE__OP_CHANNEL_GATHER, .in0 = 1, .in1 = DYCE__NONE, .out = 4,
       .weights = ib, .weight_count = nb},
      {.op = DYCE__OP_VIEW, .in0 = 4, .in1 = DYCE__NONE, .out = 5},
      MM};
  tb_graph g = {"main", DYCE__NONE, t, 7, n, 6, 0, 6, MACS};
  tb_package pkg = {.h = 1, .w = ma + nb, .c = 1, .graphs = &g, .graph_count = 1};
  uint8_t *bytes = tb_build(&pkg, size);
  free(ia), free(ib);
  return bytes;
}

/* The definition: out (float, sums in index order) and out_d (double). */
static void expected(const mm_case *c, const float *a, const float *b,
                     float *out, double *out_d) {
  size_t m = c->ah * c->aw, n = c->rowwise ? c->bw : c->bh * c->bw;
  size_t g = c->groups, k = c->cb / g;
  for (size_t i = 0; i < m; i++)
    for (size_t h = 0; h < g; h++) {
      /* row by row: A's pixel i meets the B rows of its own image row */
      const float *bb = c->rowwise ? b + (i / c->aw) * c->bw * c->cb : b;
      size_t cols = c->trans_b ? n : k, inner = c->trans_b ? k : n;
      for (size_t j = 0; j < cols; j++) {
        float sum = 0.0f;
        double sum_d = 0.0;
        for (size_t t = 0; t < inner; t++) {
          float x = c->trans_b ? a[i * c->ca + h * k + t] : a[i * c->ca + h * n + t];
          float y = c->trans_b ? bb[j * c->cb + h * k + t] : bb[t * c->cb + h * k + j];
          float prod = x * y;
          sum += prod;
          sum_d += (double)x * y;
        }
        out[(i * g + h) * cols + j] = c->alpha * sum;
        out_d[(i * g + h) * cols + j] = c->alpha * sum_d;
      }
    }
}

static void run_case(const mm_case *c) {
  uint32_t ma = c->ah * c->aw * c->ca, nb = c->bh * c->bw * c->cb;
  reset(c);
  size_t outs = (size_t)OUT[0] * OUT[1] * OUT[2], size;
  float *x = malloc((ma + nb) * sizeof(float)), *y = malloc(outs * sizeof(float));
  float *want = malloc(outs * sizeof(float));
  double *want_d = malloc(outs * sizeof(double));
  for (uint32_t i = 0; i < ma + nb; i++) x[i] = test_randf();
  expected(c, x, x + ma, want, want_d);
  uint8_t *bytes = build(c, &size);
  if (run_package(bytes, size, x, ma + nb, y, outs))
    for (size_t i = 0; i < outs; i++) {
      CHECK_MSG(memcmp(&y[i], &want[i], sizeof(float)) == 0,
                "%ux%ux%u x %ux%ux%u G %u trans %d: out[%zu] %.9g, the sum in "
                "order gives %.9g", c->ah, c->aw, c->ca, c->bh, c->bw, c->cb,
                c->groups, c->trans_b, i, (double)y[i], (double)want[i]);
      CHECK_MSG(fabs(y[i] - want_d[i]) < 1e-5, "out[%zu] %g, in double %g", i,
                (double)y[i], want_d[i]);
    }
  free(x), free(y), free(want), free(want_d);
}

static const mm_case CASES[] = {
    {2, 3, 4, 1, 5, 4, 1, 1, 1.0f, 0},    /* q k^T, one head, M 6, N 5 */
    {2, 3, 6, 5, 1, 6, 3, 1, 0.125f, 0},  /* three heads of K 2 */
    {3, 1, 3, 2, 2, 3, 3, 1, -0.7f, 0},   /* K 1 */
    {1, 7, 5, 7, 1, 5, 5, 1, 0.5f, 0},    /* K 1, M = N = 7 */
    {2, 3, 5, 1, 5, 3, 1, 0, 1.0f, 0},    /* attn v, one head, N 5, K 3 */
    {3, 1, 8, 2, 2, 6, 2, 0, 0.3f, 0},    /* two heads, N 4, K 3 */
    {1, 3, 9, 3, 1, 3, 3, 0, -1.5f, 0},   /* K 1 */
    {5, 1, 7, 7, 1, 1, 1, 0, 2.0f, 0},    /* N 7, K 1, odd */
    /* row by row (windows): row h of A against row h of B */
    {3, 4, 6, 3, 5, 6, 2, 1, 0.5f, 1},  /* 3 windows, M 4, N 5, two heads */
    {2, 3, 4, 2, 3, 4, 1, 1, 1.0f, 1},  /* one head, M = N */
    {4, 2, 6, 4, 3, 4, 2, 0, -0.25f, 1}, /* attn v: G N = 6, K 2 */
    {1, 5, 5, 1, 5, 1, 1, 0, 2.0f, 1},  /* one row: the whole product */
};

static void matmul_runs(void) {
  for (size_t i = 0; i < sizeof CASES / sizeof CASES[0]; i++) run_case(&CASES[i]);
}

/* The graph's MACs are the matmul's M x output channels x sum length. */
static void matmul_macs(void) {
  const mm_case c = {2, 3, 6, 5, 1, 6, 3, 1, 0.125f, 0}; /* 6 x 15 x 2 */
  reset(&c);
  size_t size;
  uint8_t *bytes = build(&c, &size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
  CHECK(m && dyce_model_graph_macs(m, 0, 0) == 6 * 15 * 2);
  dyce_model_free(m);
  free(bytes);
  MACS = 6 * 15 * 2 + 1;
  bytes = build(&c, &size);
  check_refused_as(bytes, size, DYCE_BAD_FORMAT, "header says 181 MACs, nodes add up to 180");
}

static void refused_as(const mm_case *c, int status, const char *needle) {
  size_t size;
  uint8_t *bytes = build(c, &size);
  check_refused_as(bytes, size, status, needle);
  reset(c);
}

static void matmul_fields_refused(void) {
  static const float one = 1.0f;
  const mm_case c = {2, 2, 6, 3, 1, 6, 2, 1, 0.5f, 0};
  reset(&c);
  MM.in1 = DYCE__NONE;
  refused_as(&c, DYCE_BAD_FORMAT, "node 5 (matmul): matmul: in1 is NONE; it multiplies two tensors");
  MM.weights = &one, MM.weight_count = 1;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: has 1 weights and 0 biases; it takes none");
  MM.bias = &one, MM.bias_count = 1;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: has 0 weights and 1 biases; it takes none");
  MM.act = DYCE__ACT_RELU;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: cannot fuse an activation (act 1");
  MM.act_b = 0.5f;
  refused_as(&c, DYCE_BAD_FORMAT, "act_b 0.5: all must be 0");
  MM.p[DYCE__P_MATMUL_GROUPS] = 0;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: p[0] (groups) is 0; at least 1");
  MM.p[DYCE__P_MATMUL_GROUPS] = -2;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: p[0] (groups) is -2; at least 1");
  MM.p[DYCE__P_MATMUL_GROUPS] = 4;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: 4 groups (p[0]) do not divide the 6 channels of in0 and in1");
  MM.p[DYCE__P_MATMUL_TRANS_B] = 2;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: p[1] is 2, not 0 (in0 . in1) or 1 (in0 . in1^T)");
  MM.p[DYCE__P_MATMUL_ALPHA] = f32_bits(NAN);
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: p[2] (alpha) holds nan; it must be finite");
  MM.p[DYCE__P_MATMUL_ALPHA] = f32_bits(-INFINITY);
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: p[2] (alpha) holds -inf; it must be finite");
  MM.p[DYCE__P_MATMUL_ROWWISE] = 3;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: p[3] is 3, not 0 (all rows together) or 1 (row by row)");
  MM.p[DYCE__P_MATMUL_ROWWISE] = 1; /* in0 has 2 rows, in1 3 */
  refused_as(&c, DYCE_BAD_FORMAT, "matmul (row by row): in0 has 2 rows, in1 3; they must be equal");
  MM.p[5] = 7;
  refused_as(&c, DYCE_BAD_FORMAT, "matmul: p[5] is 7; unused, it must be 0");
  OUT[2] = 7;
  refused_as(&c, DYCE_BAD_FORMAT, "output tensor 6 is 2x2x7 but the op gives 2x2x6");
}

/* Operand shapes that do not fit together. */
static void matmul_shapes_refused(void) {
  const mm_case scores = {2, 2, 6, 3, 1, 4, 2, 1, 1.0f, 0};
  reset(&scores);
  refused_as(&scores, DYCE_BAD_FORMAT, "matmul (in0 . in1^T): in0 has 6 channels, in1 4; "
                                       "they must be equal (G x K)");
  const mm_case values = {2, 2, 5, 3, 1, 4, 2, 0, 1.0f, 0}; /* CA must be 2 x 3 */
  reset(&values);
  refused_as(&values, DYCE_BAD_FORMAT, "matmul (in0 . in1): in0 has 5 channels; 2 groups of "
                                       "in1's 3 rows (its H x W) need 6");
  const mm_case odd = {2, 2, 9, 3, 1, 5, 3, 0, 1.0f, 0};
  reset(&odd);
  refused_as(&odd, DYCE_BAD_FORMAT, "matmul: 3 groups (p[0]) do not divide the 5 channels of in1");
}

/* Self-attention on tokens X (4 x 2 pixels, 6 channels: two heads of 3;
 * the package input, a row of 48 pixels, viewed as them), q = k = v = X:
 * scores (q k^T / sqrt 3), a softmax per head (p[SOFTMAX_GROUPS] = 2),
 * times v; against the same in double. */
static void matmul_attention_chain(void) {
  enum { L = 8, D = 6, G = 2, K = 3 };
  static const uint32_t t[][3] = {{1, L * D, 1}, {4, 2, D}, {4, 2, G * L},
                                  {4, 2, G * L}, {4, 2, D}};
  tb_node n[4] = {
      {.op = DYCE__OP_VIEW, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
      {.op = DYCE__OP_MATMUL, .in0 = 1, .in1 = 1, .out = 2},
      {.op = DYCE__OP_SOFTMAX, .in0 = 2, .in1 = DYCE__NONE, .out = 3},
      {.op = DYCE__OP_MATMUL, .in0 = 3, .in1 = 1, .out = 4}};
  const float alpha = 1.0f / sqrtf((float)K);
  n[1].p[DYCE__P_MATMUL_GROUPS] = G, n[1].p[DYCE__P_MATMUL_TRANS_B] = 1;
  n[1].p[DYCE__P_MATMUL_ALPHA] = f32_bits(alpha);
  n[2].p[DYCE__P_SOFTMAX_GROUPS] = G;
  n[3].p[DYCE__P_MATMUL_GROUPS] = G, n[3].p[DYCE__P_MATMUL_ALPHA] = f32_bits(1.0f);
  /* M x G N x K, then M x D x N: 384 each. */
  tb_graph g = {"main", DYCE__NONE, t, 5, n, 4, 0, 4, 2 * L * G * L * K};
  tb_package pkg = {.h = 1, .w = L * D, .c = 1, .graphs = &g, .graph_count = 1};
  float x[L * D], y[L * D];
  for (int i = 0; i < L * D; i++) x[i] = test_randf() * 2.0f;
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  if (!run_package(bytes, size, x, L * D, y, L * D)) return;
  for (int i = 0; i < L; i++)
    for (int h = 0; h < G; h++) {
      double p[L], sum = 0, top = -1e300;
      for (int j = 0; j < L; j++) {
        p[j] = 0;
        for (int k = 0; k < K; k++) p[j] += (double)x[i * D + h * K + k] * x[j * D + h * K + k];
        p[j] *= alpha;
        top = fmax(top, p[j]);
      }
      for (int j = 0; j < L; j++) sum += p[j] = exp(p[j] - top);
      for (int k = 0; k < K; k++) {
        double want = 0;
        for (int j = 0; j < L; j++) want += p[j] / sum * x[j * D + h * K + k];
        CHECK_MSG(fabs(y[i * D + h * K + k] - want) < 1e-5, "token %d head %d feature %d: "
                  "%g, want %g", i, h, k, (double)y[i * D + h * K + k], want);
      }
    }
}

/* 64 tokens of 128 features: q k^T is 524 288 MACs, above the threads'
 * 500 000, yet a matmul runs whole on the calling thread (its op has no
 * split): a session on two threads splits no node and gives the same bits. */
static void matmul_never_split(void) {
  enum { L = 64, D = 128 };
  static const uint32_t t[][3] = {{1, L * D, 1}, {8, 8, D}, {8, 8, L}};
  tb_node n[2] = {{.op = DYCE__OP_VIEW, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
                  {.op = DYCE__OP_MATMUL, .in0 = 1, .in1 = 1, .out = 2}};
  n[1].p[DYCE__P_MATMUL_GROUPS] = 1, n[1].p[DYCE__P_MATMUL_TRANS_B] = 1;
  n[1].p[DYCE__P_MATMUL_ALPHA] = f32_bits(0.0625f);
  tb_graph g = {"main", DYCE__NONE, t, 3, n, 2, 0, 2, (uint64_t)L * L * D};
  tb_package pkg = {.h = 1, .w = L * D, .c = 1, .graphs = &g, .graph_count = 1};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  float *x = malloc(L * D * sizeof(float)), y[2][L * L];
  for (int i = 0; i < L * D; i++) x[i] = test_randf();
  dyce_model *m = NULL;
  dyce_error err;
  CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
  uint32_t threads[2] = {1, dyce_max_threads() > 1 ? 2 : 1};
  for (int r = 0; m && r < 2; r++) {
    dyce_session *s = NULL;
    const float *out = NULL;
    size_t count = 0;
    CHECK(dyce_session_create_threads(m, threads[r], &s, &err) == DYCE_OK);
    CHECK(s && dyce_session_set_split_min_macs(s, 0, &err) == DYCE_OK);
    CHECK(s && dyce_session_split_nodes(s) == 0);
    CHECK(s && dyce_session_set_input(s, x, L * D, DYCE_LAYOUT_NHWC, &err) == DYCE_OK &&
          dyce_session_run(s, 0, &err) == DYCE_OK &&
          dyce_session_output(s, 0, &out, &count, &err) == DYCE_OK && count == L * L);
    if (out) memcpy(y[r], out, sizeof y[r]);
    dyce_session_free(s);
  }
  CHECK(memcmp(y[0], y[1], sizeof y[0]) == 0);
  dyce_model_free(m);
  free(x);
  free(bytes);
}

/* A version 2 package: input x (2x2x4, float32) -quantize-> q (int8),
 * then `node` reading them (in0, in1 chosen by the caller) into t2. */
static void int8_refused(tb_node node, const uint32_t *out, int status,
                         const char *needle) {
  const uint32_t t[][3] = {{2, 2, 4}, {2, 2, 4}, {out[0], out[1], out[2]}};
  const tb_node n[2] = {
      {.op = DYCE__OP_QUANTIZE, .in0 = 0, .in1 = DYCE__NONE, .out = 1}, node};
  uint8_t qten[16 + 3 * 16] = {0};
  tb_put_u32(qten, 3);
  tb_put_u32(qten + 32, 1);                         /* t1: int8, */
  tb_put_u32(qten + 36, (uint32_t)f32_bits(1.0f / 64)); /* scale 1/64, zp 0 */
  tb_graph g = {"main", DYCE__NONE, t, 3, n, 2, 0, 2, 0};
  tb_package pkg = {.h = 2, .w = 2, .c = 4, .graphs = &g, .graph_count = 1,
                    .extra_tag = "QTEN", .extra = qten, .extra_bytes = sizeof qten};
  size_t size;
  uint8_t *bytes = tb_build(&pkg, &size);
  tb_put_u32(bytes + 4, 2); /* version 2: QTEN */
  check_refused_as(bytes, size, status, needle);
}

static void matmul_int8_refused(void) {
  tb_node n = {.op = DYCE__OP_MATMUL, .in0 = 1, .in1 = 0, .out = 2};
  n.p[DYCE__P_MATMUL_GROUPS] = 1, n.p[DYCE__P_MATMUL_TRANS_B] = 1;
  n.p[DYCE__P_MATMUL_ALPHA] = f32_bits(1.0f);
  const uint32_t scores[3] = {2, 2, 4}, flat[3] = {1, 1, 16};
  int8_refused(n, scores, DYCE_UNSUPPORTED, "node 1 (matmul): has no int8 form");
  n.in0 = 0, n.in1 = 1;
  int8_refused(n, scores, DYCE_BAD_FORMAT,
               "node 1 (matmul): input 2 (tensor 1) is int8, the node's other "
               "tensors float32");
  const tb_node v = {.op = DYCE__OP_VIEW, .in0 = 1, .in1 = DYCE__NONE, .out = 2};
  int8_refused(v, flat, DYCE_UNSUPPORTED, "node 1 (view): has no int8 form");
}

const test_case matmul_tests[] = {
    {"matmul", "matmul_runs", matmul_runs},
    {"matmul", "matmul_macs", matmul_macs},
    {"matmul", "matmul_fields_refused", matmul_fields_refused},
    {"matmul", "matmul_shapes_refused", matmul_shapes_refused},
    {"matmul", "matmul_never_split", matmul_never_split},
    {"matmul", "matmul_attention_chain", matmul_attention_chain},
    {"matmul", "matmul_int8_refused", matmul_int8_refused},
    {0},
};
