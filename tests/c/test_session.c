/* Session tests on the two-graph package of builder.c: the cascade path
 * runs each graph once, results match a naive computation, running does
 * not allocate, and misuse is reported. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "test.h"

/* stage1: conv 3x3 pad 1 + relu; head: maxpool 2/2, mean, fc. */
static void naive_small_model(const float *x, float stage[144], float out[3]) {
  const float *w = tb_small_conv_w(), *b = tb_small_conv_b();
  for (int y = 0; y < 6; y++)
    for (int xx = 0; xx < 6; xx++)
      for (int o = 0; o < 4; o++) {
        float acc = b[o];
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++)
            for (int i = 0; i < 2; i++) {
              int iy = y + ky - 1, ix = xx + kx - 1;
              if (iy < 0 || ix < 0 || iy > 5 || ix > 5) continue;
              acc += x[(iy * 6 + ix) * 2 + i] * w[((o * 3 + ky) * 3 + kx) * 2 + i];
            }
        stage[(y * 6 + xx) * 4 + o] = acc > 0 ? acc : 0;
      }
  float mean[4] = {0};
  for (int py = 0; py < 3; py++)
    for (int px = 0; px < 3; px++)
      for (int c = 0; c < 4; c++) {
        float m = -INFINITY;
        for (int dy = 0; dy < 2; dy++)
          for (int dx = 0; dx < 2; dx++)
            m = fmaxf(m, stage[((py * 2 + dy) * 6 + px * 2 + dx) * 4 + c]);
        mean[c] += m / 9.0f;
      }
  const float *fw = tb_small_fc_w(), *fb = tb_small_fc_b();
  for (int j = 0; j < 3; j++) {
    out[j] = fb[j];
    for (int c = 0; c < 4; c++) out[j] += fw[j * 4 + c] * mean[c];
  }
}

typedef struct fixture {
  dyce_model *model;
  dyce_session *session;
} fixture;

static fixture open_small(void) {
  fixture f = {0};
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  CHECK(dyce_model_load(bytes, size, &f.model, NULL) == DYCE_OK);
  free(bytes);
  CHECK(dyce_session_create(f.model, &f.session, NULL) == DYCE_OK);
  return f;
}

static void close_small(fixture f) {
  dyce_session_free(f.session);
  dyce_model_free(f.model);
}

static void cascade_matches_naive(void) {
  fixture f = open_small();
  float x[72], stage[144], want[3];
  for (int i = 0; i < 72; i++) x[i] = test_randf();
  naive_small_model(x, stage, want);
  dyce_error err;
  CHECK(dyce_session_set_input(f.session, x, 72, DYCE_LAYOUT_NHWC, &err) == DYCE_OK);
  CHECK(!dyce_session_has_run(f.session, 0) && !dyce_session_has_run(f.session, 1));
  CHECK(dyce_session_run(f.session, 1, &err) == DYCE_OK);
  /* The head needs stage1, so both ran. */
  CHECK(dyce_session_has_run(f.session, 0) && dyce_session_has_run(f.session, 1));
  const float *y;
  size_t n;
  CHECK(dyce_session_output(f.session, 1, &y, &n, &err) == DYCE_OK && n == 3);
  for (int j = 0; j < 3; j++) CHECK(fabsf(y[j] - want[j]) < 1e-5f);
  CHECK(dyce_session_output(f.session, 0, &y, &n, &err) == DYCE_OK && n == 144);
  for (int i = 0; i < 144; i++) CHECK(fabsf(y[i] - stage[i]) < 1e-5f);
  CHECK(dyce_session_arena_bytes(f.session) >= (72 + 144 + 3) * sizeof(float));
  close_small(f);
}

static void nchw_input_is_transposed(void) {
  fixture f = open_small();
  float nhwc[72], nchw[72];
  for (int i = 0; i < 72; i++) nhwc[i] = test_randf();
  for (int c = 0; c < 2; c++)
    for (int p = 0; p < 36; p++) nchw[c * 36 + p] = nhwc[p * 2 + c];
  const float *y;
  size_t n;
  float a[3];
  dyce_session_set_input(f.session, nhwc, 72, DYCE_LAYOUT_NHWC, NULL);
  dyce_session_run(f.session, 1, NULL);
  dyce_session_output(f.session, 1, &y, &n, NULL);
  memcpy(a, y, sizeof a);
  CHECK(dyce_session_set_input(f.session, nchw, 72, DYCE_LAYOUT_NCHW, NULL) == DYCE_OK);
  CHECK(!dyce_session_has_run(f.session, 1)); /* a new input forgets results */
  dyce_session_run(f.session, 1, NULL);
  dyce_session_output(f.session, 1, &y, &n, NULL);
  CHECK(memcmp(a, y, sizeof a) == 0);
  close_small(f);
}

/* The staging area is the scratch, dead between runs: an input staged
 * there (NCHW, so set_input transposes out of it) answers as one in a
 * buffer of the caller's, run after run, and the graphs' outputs that
 * persist are not in it. */
static void staged_input_matches_own_buffer(void) {
  fixture f = open_small();
  CHECK(dyce_session_input_staging(NULL) == NULL);
  float *stage = dyce_session_input_staging(f.session);
  CHECK(stage != NULL);
  for (int r = 0; r < 3; r++) {
    float x[72], a[3];
    const float *y;
    size_t n;
    for (int i = 0; i < 72; i++) x[i] = test_randf();
    CHECK(dyce_session_set_input(f.session, x, 72, DYCE_LAYOUT_NCHW, NULL) == DYCE_OK);
    CHECK(dyce_session_run(f.session, 1, NULL) == DYCE_OK);
    dyce_session_output(f.session, 1, &y, &n, NULL);
    memcpy(a, y, sizeof a);
    memcpy(stage, x, sizeof x);
    CHECK(dyce_session_set_input(f.session, stage, 72, DYCE_LAYOUT_NCHW, NULL) == DYCE_OK);
    CHECK(dyce_session_run(f.session, 1, NULL) == DYCE_OK);
    CHECK(dyce_session_output(f.session, 1, &y, &n, NULL) == DYCE_OK && n == 3);
    CHECK(memcmp(a, y, sizeof a) == 0);
    CHECK((const float *)y + 3 <= stage || (const float *)y >= stage + 72);
    CHECK(dyce_session_output(f.session, 0, &y, &n, NULL) == DYCE_OK);
    CHECK(y + n <= stage || y >= stage + 72);
  }
  close_small(f);
}

static void running_does_not_allocate(void) {
  fixture f = open_small();
  float x[72];
  uint64_t before = dyce_allocation_count();
  for (int r = 0; r < 100; r++) {
    for (int i = 0; i < 72; i++) x[i] = test_randf();
    const float *y;
    size_t n;
    CHECK(dyce_session_set_input(f.session, x, 72, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK);
    CHECK(dyce_session_run(f.session, (size_t)(r % 2), NULL) == DYCE_OK);
    CHECK(dyce_session_run(f.session, 1, NULL) == DYCE_OK);
    CHECK(dyce_session_output(f.session, 1, &y, &n, NULL) == DYCE_OK);
  }
  CHECK(dyce_allocation_count() == before);
  close_small(f);
}

static void misuse_is_reported(void) {
  fixture f = open_small();
  dyce_error err;
  float x[72] = {0};
  const float *y;
  size_t n;
  CHECK(dyce_session_run(f.session, 1, &err) == DYCE_BAD_STATE);
  CHECK(strstr(err.message, "no input") != NULL);
  CHECK(dyce_session_set_input(f.session, x, 71, DYCE_LAYOUT_NHWC, &err) == DYCE_BAD_INPUT);
  CHECK(strstr(err.message, "71 elements") && strstr(err.message, "1x6x6x2"));
  x[5] = NAN;
  CHECK(dyce_session_set_input(f.session, x, 72, DYCE_LAYOUT_NHWC, &err) == DYCE_BAD_INPUT);
  CHECK(strstr(err.message, "element 5 is NaN") != NULL);
  x[5] = INFINITY;
  CHECK(dyce_session_set_input(f.session, x, 72, DYCE_LAYOUT_NHWC, &err) == DYCE_BAD_INPUT);
  CHECK(strstr(err.message, "infinite") != NULL);
  /* A rejected input leaves no input behind. */
  CHECK(dyce_session_run(f.session, 0, &err) == DYCE_BAD_STATE);
  x[5] = 0;
  CHECK(dyce_session_set_input(f.session, x, 72, (dyce_layout)7, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(dyce_session_set_input(f.session, x, 72, DYCE_LAYOUT_NHWC, &err) == DYCE_OK);
  CHECK(dyce_session_output(f.session, 1, &y, &n, &err) == DYCE_BAD_STATE);
  CHECK(strstr(err.message, "'head' has not run") != NULL);
  CHECK(dyce_session_run(f.session, 2, &err) == DYCE_NOT_FOUND);
  CHECK(dyce_session_run(NULL, 0, &err) == DYCE_INVALID_ARGUMENT);
  dyce_session *other = (dyce_session *)&err;
  CHECK(dyce_session_create(NULL, &other, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(other == NULL);
  close_small(f);
}

/* The warm-up (no model) writes only its buffer, at any alignment,
 * allocates nothing, computes the same each time, and refuses a buffer
 * too small with the size it needs. */
static void warm_up_stays_in_its_buffer(void) {
  size_t need = dyce_warm_up_bytes();
  CHECK(need > 1000 && need < (1u << 20));
  unsigned char *raw = malloc(need + 64);
  dyce_error err;
  char want[64];
  snprintf(want, sizeof want, "%zu bytes", need);
  CHECK(dyce_warm_up(raw, need - 1, 1, &err) == DYCE_INVALID_ARGUMENT);
  CHECK_MSG(strstr(err.message, want) != NULL, "%s", err.message);
  CHECK(dyce_warm_up(NULL, need, 1, &err) == DYCE_INVALID_ARGUMENT);
  unsigned char *buffer = raw + 3; /* misaligned on purpose */
  memset(raw, 0xA5, need + 64);
  uint64_t before = dyce_allocation_count();
  CHECK(dyce_warm_up(buffer, need, 2, &err) == DYCE_OK);
  CHECK(dyce_allocation_count() == before);
  int intact = 1;
  for (size_t i = 0; i < 3; i++) intact &= raw[i] == 0xA5;
  for (size_t i = 3 + need; i < need + 64; i++) intact &= raw[i] == 0xA5;
  CHECK(intact);
  unsigned char *first = malloc(need);
  memcpy(first, buffer, need);
  CHECK(dyce_warm_up(buffer, need, 1, &err) == DYCE_OK);
  CHECK(memcmp(first, buffer, need) == 0);
  CHECK(dyce_warm_up(buffer, need, 0, &err) == DYCE_OK);
  free(first);
  free(raw);
}

const test_case session_tests[] = {
    {"session", "warm_up_stays_in_its_buffer", warm_up_stays_in_its_buffer},
    {"session", "cascade_matches_naive", cascade_matches_naive},
    {"session", "nchw_input_is_transposed", nchw_input_is_transposed},
    {"session", "staged_input_matches_own_buffer", staged_input_matches_own_buffer},
    {"session", "running_does_not_allocate", running_does_not_allocate},
    {"session", "misuse_is_reported", misuse_is_reported},
    {0, 0, 0}};
