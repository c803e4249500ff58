/* Width levels (LEVL, REDS): a level of a package runs exactly what a
 * package holding the prefix slices of its weights runs, with the same
 * MACs; switching levels allocates nothing; bad LEVL sections and bad
 * level choices are refused with a reason. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "kernels/kernels.h"
#include "test.h"

/* Full widths: C channels in the residual stage, H hidden units in the
 * head, 3 classes, input 6x6x3. */
enum { C = 8, H = 6, K = 3, IN_C = 3 };

static float stem_w[C * 9 * IN_C], stem_b[C], dw_w[C * 9], dw_b[C];
static float pw_w[C * 9 * C], pw_b[C], fc1_w[H * C], fc1_b[H], fc2_w[K * H],
    fc2_b[K], ex_w[K * 9 * C], ex_b[K];

static void fill(float *p, size_t n) {
  for (size_t i = 0; i < n; i++) p[i] = test_randf();
}

static void make_weights(void) {
  test_seed(7);
  fill(stem_w, sizeof stem_w / 4); fill(stem_b, C);
  fill(dw_w, sizeof dw_w / 4); fill(dw_b, C);
  fill(pw_w, sizeof pw_w / 4); fill(pw_b, C);
  fill(fc1_w, sizeof fc1_w / 4); fill(fc1_b, H);
  fill(fc2_w, sizeof fc2_w / 4); fill(fc2_b, K);
  fill(ex_w, sizeof ex_w / 4); fill(ex_b, K);
}

/* rows x cols prefix of a [R][full_cols] matrix. */
static float *slice(const float *m, size_t full_cols, size_t rows, size_t cols) {
  float *out = malloc(sizeof(float) * rows * cols);
  for (size_t r = 0; r < rows; r++)
    memcpy(out + r * cols, m + r * full_cols, sizeof(float) * cols);
  return out;
}

/* The first `out` filters of OHWI 3x3 weights over the first `in` inputs. */
static float *slice_conv(const float *w, size_t full_in, size_t out, size_t in) {
  float *o = malloc(sizeof(float) * out * 9 * in);
  for (size_t f = 0; f < out; f++)
    for (size_t t = 0; t < 9; t++)
      memcpy(o + (f * 9 + t) * in, w + (f * 9 + t) * full_in, sizeof(float) * in);
  return o;
}

#define CONV(i0, o, w, wc, b, bc, k, groups, act_)                           \
  {.op = DYCE__OP_CONV2D, .act = act_, .in0 = i0, .in1 = DYCE__NONE,        \
   .out = o, .weights = w, .weight_count = wc, .bias = b, .bias_count = bc, \
   .p = {k, k, 1, 1, k / 2, k / 2, k / 2, k / 2, 1, 1, groups}}
#define FC(i0, o, w, wc, b, bc, act_)                                        \
  {.op = DYCE__OP_FULLY_CONNECTED, .act = act_, .in0 = i0, .in1 = DYCE__NONE, \
   .out = o, .weights = w, .weight_count = wc, .bias = b, .bias_count = bc}

/* The network at widths c (stage) and h (head hidden), weights the prefix
 * slices of the full ones; with `levl` that section is added. */
static uint8_t *build(uint32_t c, uint32_t h, const char *exit_name,
                      const uint8_t *levl, size_t levl_bytes, size_t *size) {
  float *pw = slice_conv(pw_w, C, c, c), *fc1 = slice(fc1_w, C, h, c),
        *fc2 = slice(fc2_w, H, K, h), *ex = slice(ex_w, 9 * C, K, 9 * c);
  const uint32_t st_t[6][3] = {{6, 6, IN_C}, {6, 6, c}, {6, 6, c},
                               {6, 6, c},    {6, 6, c}, {3, 3, c}};
  tb_node st_n[5] = {
      CONV(0, 1, stem_w, c * 9 * IN_C, stem_b, c, 3, 1, DYCE__ACT_RELU),
      CONV(1, 2, dw_w, c * 9, dw_b, c, 3, (int32_t)c, DYCE__ACT_RELU),
      CONV(2, 3, pw, c * 9 * c, pw_b, c, 3, 1, DYCE__ACT_NONE),
      {.op = DYCE__OP_ADD, .act = DYCE__ACT_RELU, .in0 = 1, .in1 = 3, .out = 4},
      {.op = DYCE__OP_MAX_POOL, .in0 = 4, .in1 = DYCE__NONE, .out = 5,
       .p = {2, 2, 2, 2, 0, 0, 0, 0}}};
  const uint32_t head_t[4][3] = {{3, 3, c}, {1, 1, c}, {1, 1, h}, {1, 1, K}};
  tb_node head_n[3] = {
      {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
      FC(1, 2, fc1, h * c, fc1_b, h, DYCE__ACT_RELU),
      FC(2, 3, fc2, K * h, fc2_b, K, DYCE__ACT_NONE)};
  const uint32_t ex_t[3][3] = {{3, 3, c}, {1, 1, 9 * c}, {1, 1, K}};
  tb_node ex_n[2] = {
      {.op = DYCE__OP_FLATTEN, .in0 = 0, .in1 = DYCE__NONE, .out = 1},
      FC(1, 2, ex, K * 9 * c, ex_b, K, DYCE__ACT_NONE)};
  uint64_t st_macs = 36ull * c * 9 * IN_C + 36ull * c * 9 + 36ull * c * 9 * c;
  tb_graph g[3] = {
      {"stage1", DYCE__NONE, st_t, 6, st_n, 5, 0, 5, st_macs},
      {exit_name, 0, ex_t, 3, ex_n, 2, 0, 2, 9ull * c * K},
      {"head", 0, head_t, 4, head_n, 3, 0, 3, (uint64_t)c * h + (uint64_t)h * K}};
  tb_package pkg = {6, 6, IN_C, g, 3, NULL, 0, "LEVL", levl, levl_bytes};
  uint8_t *out = tb_build(&pkg, size);
  free(pw); free(fc1); free(fc2); free(ex);
  return out;
}

/* A LEVL body; entries are {level, graph, node, channels}. */
typedef struct entry { uint32_t level, graph, node, channels; } entry;
static size_t levl(const char *const *names, uint32_t count, const entry *e,
                   uint32_t n, uint8_t *out) {
  memset(out, 0, 16 + 48 * count + 12 * n);
  tb_put_u32(out, count);
  tb_put_u32(out + 4, n);
  uint32_t at = 0;
  for (uint32_t l = 0; l < count; l++) {
    uint8_t *r = out + 16 + 48 * l;
    strncpy((char *)r, names[l], 31);
    tb_put_u32(r + 32, at);
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++)
      if (e[i].level == l) {
        uint8_t *p = out + 16 + 48 * count + 12 * (at + k++);
        tb_put_u32(p, e[i].graph);
        tb_put_u32(p + 4, e[i].node);
        tb_put_u32(p + 8, e[i].channels);
      }
    tb_put_u32(r + 36, k);
    at += k;
  }
  return 16 + 48 * count + 12 * n;
}

#define R_FLOATS(g) dyce__kernels_ref.conv2d_packed_floats(g)

static const char *const NAMES[3] = {"full", "half", "odd"};
/* half: stage 4 channels, head hidden 3; odd: stage 5, head hidden 6. */
static const entry GOOD[5] = {{1, 0, 0, 4}, {1, 0, 2, 4}, {1, 2, 1, 3},
                              {2, 0, 0, 5}, {2, 0, 2, 5}};
static const uint32_t WIDTHS[3][2] = {{C, H}, {4, 3}, {5, H}};

static dyce_model *load(const uint8_t *bytes, size_t size, dyce_error *err) {
  dyce_model *m = NULL;
  dyce_model_load(bytes, size, &m, err);
  return m;
}

static dyce_model *full_model(const char *exit_name) {
  uint8_t body[512];
  size_t n = levl(NAMES, 3, GOOD, 5, body), size;
  uint8_t *bytes = build(C, H, exit_name, body, n, &size);
  dyce_error err;
  dyce_model *m = load(bytes, size, &err);
  CHECK_MSG(m != NULL, "%s", err.message);
  free(bytes);
  return m;
}

static void set_level(dyce_session *s, const dyce_model *m, size_t level) {
  dyce_config cfg;
  dyce_config_backbone(m, &cfg);
  cfg.level = level;
  dyce_error err;
  CHECK_MSG(dyce_session_set_config(s, &cfg, &err) == DYCE_OK, "%s", err.message);
}

static void outputs(dyce_session *s, float out[2][K]) {
  for (size_t g = 1; g <= 2; g++) {
    const float *y;
    size_t n = 0;
    dyce_error err;
    CHECK_MSG(dyce_session_run(s, g, &err) == DYCE_OK &&
                  dyce_session_output(s, g, &y, &n, &err) == DYCE_OK,
              "%s", err.message);
    CHECK(n == K);
    for (size_t i = 0; i < K && n == K; i++) out[g - 1][i] = y[i];
  }
}

static void levels_match_sliced_networks(void) {
  make_weights();
  dyce_model *m = full_model("exit1_a");
  if (!m) return;
  CHECK(dyce_model_level_count(m) == 3);
  CHECK(strcmp(dyce_model_level_name(m, 2), "odd") == 0);
  CHECK(dyce_model_level_name(m, 3) == NULL);
  dyce_session *s = NULL;
  dyce_error err;
  CHECK(dyce_session_create(m, &s, &err) == DYCE_OK);
  float x[6 * 6 * IN_C];
  for (size_t i = 0; i < sizeof x / 4; i++) x[i] = test_randf();
  for (size_t level = 0; level < 3; level++) {
    size_t size;
    uint8_t *bytes = build(WIDTHS[level][0], WIDTHS[level][1], "exit1_a", NULL, 0, &size);
    dyce_model *ref = load(bytes, size, &err);
    CHECK_MSG(ref != NULL, "%s", err.message);
    free(bytes);
    if (!ref) continue;
    dyce_session *rs = NULL;
    dyce_session_create(ref, &rs, NULL);
    set_level(s, m, level);
    dyce_session_set_input(s, x, sizeof x / 4, DYCE_LAYOUT_NHWC, NULL);
    dyce_session_set_input(rs, x, sizeof x / 4, DYCE_LAYOUT_NHWC, NULL);
    float got[2][K], want[2][K];
    outputs(s, got);
    outputs(rs, want);
    for (size_t g = 0; g < 2; g++)
      for (size_t i = 0; i < K; i++)
        CHECK_MSG(fabsf(got[g][i] - want[g][i]) <= 1e-5f * (1 + fabsf(want[g][i])),
                  "level %zu graph %zu class %zu: %g vs %g", level, g + 1, i,
                  (double)got[g][i], (double)want[g][i]);
    for (size_t g = 0; g < 3; g++) {
      dyce_graph_info gi;
      dyce_model_graph_info(ref, g, &gi, NULL);
      CHECK_MSG(dyce_model_graph_macs(m, g, level) == gi.macs,
                "level %zu graph %zu: %llu MACs, sliced network %llu", level, g,
                (unsigned long long)dyce_model_graph_macs(m, g, level),
                (unsigned long long)gi.macs);
      CHECK(dyce_model_graph_narrowed(m, g, level) == (level > 0));
    }
    /* The cascade reports the level's MACs too (a fresh input: nothing
     * has run yet). */
    dyce_result r;
    dyce_session_set_input(s, x, sizeof x / 4, DYCE_LAYOUT_NHWC, NULL);
    CHECK(dyce_session_classify(s, NULL, &r, &err) == DYCE_OK);
    CHECK(r.macs == dyce_model_graph_macs(m, 0, level) + dyce_model_graph_macs(m, 2, level));
    dyce_session_free(rs);
    dyce_model_free(ref);
  }
  CHECK(dyce_model_graph_level(m, 1) == DYCE_NO_LEVEL);
  dyce_session_free(s);
  dyce_model_free(m);
}

/* Switching back and forth on one input recomputes at the new width and
 * allocates nothing. */
static void switching_levels_allocates_nothing(void) {
  make_weights();
  dyce_model *m = full_model("exit1_a");
  if (!m) return;
  dyce_session *s = NULL;
  dyce_session_create(m, &s, NULL);
  float x[6 * 6 * IN_C], first[3][2][K];
  for (size_t i = 0; i < sizeof x / 4; i++) x[i] = test_randf();
  dyce_session_set_input(s, x, sizeof x / 4, DYCE_LAYOUT_NHWC, NULL);
  for (size_t level = 0; level < 3; level++) {
    set_level(s, m, level);
    outputs(s, first[level]);
  }
  CHECK(memcmp(first[0], first[1], sizeof first[0]) != 0);
  uint64_t before = dyce_allocation_count();
  int same = 1;
  for (size_t round = 0; round < 30; round++) {
    size_t level = (round * 2) % 3;
    float now[2][K];
    set_level(s, m, level);
    outputs(s, now);
    same &= memcmp(now, first[level], sizeof now) == 0;
  }
  CHECK(same);
  CHECK(dyce_allocation_count() == before);
  dyce_session_free(s);
  dyce_model_free(m);
}

static void bad_level_choices_are_refused(void) {
  make_weights();
  dyce_model *m = full_model("exit1_a_half");
  if (!m) return;
  CHECK(dyce_model_graph_level(m, 1) == 1);
  dyce_session *s = NULL;
  dyce_session_create(m, &s, NULL);
  dyce_config cfg;
  dyce_config_backbone(m, &cfg);
  dyce_error err;
  cfg.level = 3;
  CHECK(dyce_session_set_config(s, &cfg, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "width level 3 does not exist") != NULL);
  cfg.level = 0;
  cfg.exit[0] = 1;
  cfg.threshold[0] = 0.5f;
  CHECK(dyce_session_set_config(s, &cfg, &err) == DYCE_INVALID_ARGUMENT);
  CHECK_MSG(strstr(err.message, "belongs to width level 'half'") != NULL, "%s", err.message);
  cfg.level = 1;
  CHECK(dyce_session_set_config(s, &cfg, &err) == DYCE_OK);
  dyce_session_free(s);
  dyce_model_free(m);
}

static void bad_sections_are_refused(void) {
  make_weights();
  static const struct {
    entry e[2];
    uint32_t n;
    const char *names[3];
    uint32_t count;
    const char *why;
  } cases[] = {
      {{{1, 0, 0, 4}, {1, 0, 2, 5}}, 2, {"full", "half"}, 2, "have widths 4 and 5"},
      {{{1, 0, 0, 0}}, 1, {"full", "half"}, 2, "outside 1..8"},
      {{{1, 0, 0, 9}}, 1, {"full", "half"}, 2, "outside 1..8"},
      {{{1, 0, 1, 4}}, 1, {"full", "half"}, 2, "only dense convolutions"},
      {{{0, 0, 0, 4}}, 1, {"full", "half"}, 2, "must be the stored network"},
      {{{1, 2, 2, 2}}, 1, {"full", "half"}, 2, "narrows the class scores"},
      {{{1, 0, 0, 4}, {1, 0, 0, 4}}, 2, {"full", "half"}, 2, "two widths"},
      {{{1, 9, 0, 4}}, 1, {"full", "half"}, 2, "does not exist"},
      {{{1, 0, 0, 4}}, 1, {"full", "full"}, 2, "appears twice"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t body[512];
    size_t n = levl(cases[i].names, cases[i].count, cases[i].e, cases[i].n, body), size;
    uint8_t *bytes = build(C, H, "exit1_a", body, n, &size);
    dyce_error err;
    dyce_model *m = load(bytes, size, &err);
    CHECK_MSG(m == NULL && err.status == DYCE_BAD_FORMAT &&
                  strstr(err.message, cases[i].why) != NULL,
              "case %zu: %s", i, m ? "loaded" : err.message);
    dyce_model_free(m);
    /* A section of the wrong size. */
    if (i == 0) {
      free(bytes);
      bytes = build(C, H, "exit1_a", body, n - 4, &size);
      m = load(bytes, size, &err);
      CHECK(m == NULL && strstr(err.message, "LEVL is") != NULL);
      dyce_model_free(m);
    }
    free(bytes);
  }
}

/* Kernels at a width level: weights packed for the full window, run over
 * a prefix of the channels, equal the reference over the sliced weights
 * (dense through the indirection buffer and the gathered path, and
 * depthwise), for the SIMD and the reference table. */
static void kernels_run_channel_prefixes(void) {
  const dyce__kernels *tables[2] = {&dyce__kernels_simd, &dyce__kernels_ref};
  for (int round = 0; round < 120; round++) {
    int depthwise = round % 3 == 0;
    uint32_t pin = 1 + test_rand() % 20, pout = depthwise ? pin : 1 + test_rand() % 20;
    uint32_t in = 1 + test_rand() % pin, out = depthwise ? in : 1 + test_rand() % pout;
    uint32_t k = 1 + 2 * (test_rand() % 2), hw = 3 + test_rand() % 4;
    dyce__window full = {.in_h = hw, .in_w = hw, .in_c = pin, .out_h = hw,
                         .out_w = hw, .out_c = pout, .kh = k, .kw = k, .sh = 1,
                         .sw = 1, .dh = 1, .dw = 1, .pad_t = k / 2, .pad_l = k / 2,
                         .groups = depthwise ? pin : 1, .packed_in_c = pin,
                         .packed_out_c = pout, .packed_groups = depthwise ? pin : 1};
    dyce__window act = full, small = full;
    act.in_c = small.in_c = small.packed_in_c = in;
    act.out_c = small.out_c = small.packed_out_c = out;
    act.groups = small.groups = small.packed_groups = depthwise ? in : 1;
    size_t cin_g = depthwise ? 1 : pin, cin_s = depthwise ? 1 : in;
    float *w = malloc(sizeof(float) * pout * k * k * cin_g), *b = malloc(sizeof(float) * pout);
    float *ws = malloc(sizeof(float) * out * k * k * cin_s);
    float *x = malloc(sizeof(float) * hw * hw * in);
    fill(w, pout * k * k * cin_g);
    fill(b, pout);
    fill(x, hw * hw * in);
    for (size_t f = 0; f < out; f++)
      for (size_t t = 0; t < k * k; t++)
        memcpy(ws + (f * k * k + t) * cin_s, w + (f * k * k + t) * cin_g,
               sizeof(float) * cin_s);
    float *want = malloc(sizeof(float) * hw * hw * out);
    float *pr = malloc(sizeof(float) * R_FLOATS(&small));
    dyce__kernels_ref.pack_conv2d(&small, ws, pr);
    dyce__activation relu = {DYCE__ACT_RELU, 0, 0};
    dyce__kernels_ref.conv2d(&small, x, pr, b, relu, want, NULL);
    for (int t = 0; t < 2; t++) {
      const dyce__kernels *kt = tables[t];
      float *packed = malloc(sizeof(float) * kt->conv2d_packed_floats(&full));
      void *scratch = malloc(kt->conv2d_scratch_bytes(&full) + 64);
      float *y = malloc(sizeof(float) * hw * hw * out);
      kt->pack_conv2d(&full, w, packed);
      kt->conv2d(&act, x, packed, b, relu, y, scratch);
      int bad = 0;
      for (size_t i = 0; i < (size_t)hw * hw * out; i++)
        bad += !(fabsf(y[i] - want[i]) <= 1e-5f * (1 + fabsf(want[i])));
      CHECK_MSG(bad == 0, "%s %s k%u in %u/%u out %u/%u: %d differ", kt->name,
                depthwise ? "depthwise" : "dense", k, in, pin, out, pout, bad);
      free(packed); free(scratch); free(y);
    }
    float fx[20], fy[20], fw[20 * 20], fpk[20 * 24 * 2], fwant[20];
    fill(fx, in);
    fill(fw, (size_t)pout * pin);
    for (int t = 0; t < 2; t++) {
      tables[t]->pack_fc(pin, pout, fw, fpk);
      tables[t]->fully_connected(in, pin, out, fx, fpk, b, relu, fy);
      for (size_t j = 0; j < out; j++) {
        float acc = b[j];
        for (size_t i = 0; i < in; i++) acc += fw[j * pin + i] * fx[i];
        fwant[j] = acc > 0 ? acc : 0;
        CHECK_MSG(fabsf(fy[j] - fwant[j]) <= 1e-5f * (1 + fabsf(fwant[j])),
                  "%s fc %u/%u -> %u/%u", tables[t]->name, in, pin, out, pout);
      }
    }
    free(w); free(b); free(ws); free(x); free(want); free(pr);
  }
}

/* dyce_model_load_inplace packs where it can (the 8-channel convolutions)
 * and into a block where it cannot (fully connected 8 -> 6, 72 -> 3): the
 * model computes the same at every level as one loaded by copying, and a
 * refused file stays the caller's. */
static void inplace_load_matches_copy_load(void) {
  make_weights();
  uint8_t body[512];
  size_t n = levl(NAMES, 3, GOOD, 5, body), size;
  uint8_t *bytes = build(C, H, "exit1_a", body, n, &size);
  uint8_t *owned = malloc(size);
  memcpy(owned, bytes, size);
  dyce_error err;
  dyce_model *copy = load(bytes, size, &err), *inplace = NULL;
  CHECK_MSG(dyce_model_load_inplace(owned, size, &inplace, &err) == DYCE_OK, "%s", err.message);
  CHECK(memcmp(owned, bytes, size) != 0); /* packed where it was */
  if (copy && inplace) {
    CHECK(dyce_model_weight_bytes(copy) == dyce_model_weight_bytes(inplace));
    dyce_session *a = NULL, *b = NULL;
    dyce_session_create(copy, &a, NULL);
    dyce_session_create(inplace, &b, NULL);
    float x[6 * 6 * IN_C];
    for (size_t i = 0; i < sizeof x / 4; i++) x[i] = test_randf();
    for (size_t level = 0; level < 3; level++) {
      float ya[2][K], yb[2][K];
      set_level(a, copy, level);
      set_level(b, inplace, level);
      dyce_session_set_input(a, x, sizeof x / 4, DYCE_LAYOUT_NHWC, NULL);
      dyce_session_set_input(b, x, sizeof x / 4, DYCE_LAYOUT_NHWC, NULL);
      outputs(a, ya);
      outputs(b, yb);
      CHECK_MSG(memcmp(ya, yb, sizeof ya) == 0, "level %zu differs", level);
    }
    dyce_session_free(a);
    dyce_session_free(b);
  }
  dyce_model_free(copy);
  dyce_model_free(inplace); /* frees `owned` */
  /* A damaged file is refused and stays the caller's to free. */
  bytes[size - 1] ^= 0xff;
  memcpy(bytes + 16, "\xff\xff\xff\xff", 4); /* file size field */
  CHECK(dyce_model_load_inplace(bytes, size, &inplace, &err) == DYCE_BAD_FORMAT);
  CHECK(inplace == NULL);
  free(bytes);
}

const test_case levels_tests[] = {
    {"levels", "inplace_load_matches_copy_load", inplace_load_matches_copy_load},
    {"levels", "kernels_run_channel_prefixes", kernels_run_channel_prefixes},
    {"levels", "levels_match_sliced_networks", levels_match_sliced_networks},
    {"levels", "switching_levels_allocates_nothing", switching_levels_allocates_nothing},
    {"levels", "bad_level_choices_are_refused", bad_level_choices_are_refused},
    {"levels", "bad_sections_are_refused", bad_sections_are_refused},
    {0}};
