/* Limits (docs/FORMAT.md, "Limits"): each one refused with DYCE_LIMIT and
 * a message naming it, before any large allocation; and a soak of 100 000
 * inferences with a random configuration switch before each, which must
 * not allocate (the ASan build's LeakSanitizer also checks for leaks). */
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "test.h"

static void expect_limit(const uint8_t *b, size_t n, const char *needle) {
  dyce_model *m = NULL;
  dyce_error err;
  dyce_status s = dyce_model_load(b, n, &m, &err);
  CHECK_MSG(s == DYCE_LIMIT, "got %s: %s", dyce_status_name(s), err.message);
  CHECK_MSG(strstr(err.message, needle) != NULL, "'%s' lacks '%s'", err.message, needle);
  dyce_model_free(m);
}

static void file_and_table_limits(void) {
  size_t size;
  uint8_t *b = tb_small_model(&size);
  expect_limit(b, (size_t)(1u << 30) + 1, "exceeds 1 GiB"); /* never read */
  uint8_t *c = malloc(size);
  memcpy(c, b, size);
  tb_put_u32(c + 12, 65); /* sections */
  expect_limit(c, size, "section count 65");
  memcpy(c, b, size);
  size_t grph = tb_section_offset(c, "GRPH");
  tb_put_u32(c + grph, 1025);
  expect_limit(c, size, "graph count 1025");
  memcpy(c, b, size);
  tb_put_u32(c + grph + 16 + 12, 65537); /* tensors of graph 0 */
  expect_limit(c, size, "1..65536");
  memcpy(c, b, size);
  tb_put_u32(c + grph + 16 + 20, 70000); /* nodes of graph 0 */
  expect_limit(c, size, "1..65536");
  free(c);
  free(b);
}

static void weight_count_overflow(void) {
  /* A 1024x1024 kernel to 60000 channels: 6.3e10 weights do not fit the
   * u32 count; the check must refuse, not wrap. */
  static const uint32_t t[2][3] = {{1024, 1024, 1}, {1, 1, 60000}};
  tb_node n[1] = {{.op = DYCE__OP_CONV2D, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
                   .p = {1024, 1024, 1, 1, 0, 0, 0, 0, 1, 1, 1}}};
  tb_graph g[1] = {{"head", DYCE__NONE, t, 2, n, 1, 0, 1, 0}};
  tb_package pkg = {1024, 1024, 1, g, 1, NULL, 0, NULL, NULL, 0};
  size_t size;
  uint8_t *b = tb_build(&pkg, &size);
  dyce_model *m = NULL;
  dyce_error err;
  dyce_status s = dyce_model_load(b, size, &m, &err);
  CHECK_MSG(s == DYCE_BAD_FORMAT || s == DYCE_LIMIT, "%s", err.message);
  CHECK(m == NULL);
  free(b);
}

static void arena_limit(void) {
  /* 16384 x 16384 x 1 floats = 1 GiB for the input alone, plus an output
   * of the same size: the session must refuse before allocating. */
  static const uint32_t t[2][3] = {{16384, 16384, 1}, {16384, 16384, 1}};
  tb_node n[1] = {{.op = DYCE__OP_ACTIVATION, .act = DYCE__ACT_RELU, .in0 = 0,
                   .in1 = DYCE__NONE, .out = 1}};
  tb_graph g[1] = {{"main", DYCE__NONE, t, 2, n, 1, 0, 1, 0}};
  tb_package pkg = {16384, 16384, 1, g, 1, NULL, 0, NULL, NULL, 0};
  size_t size;
  uint8_t *b = tb_build(&pkg, &size);
  dyce_model *m = NULL;
  dyce_session *s = NULL;
  dyce_error err;
  CHECK_MSG(dyce_model_load(b, size, &m, &err) == DYCE_OK, "%s", err.message);
  CHECK(dyce_session_create(m, &s, &err) == DYCE_LIMIT && s == NULL);
  CHECK(strstr(err.message, "limit is 1 GiB") != NULL);
  dyce_model_free(m);
  free(b);
}

static void soak_random_switches(void) {
  size_t size;
  uint8_t *b = tb_cascade_model(&size);
  dyce_model *m = NULL;
  dyce_session *s = NULL;
  CHECK(dyce_model_load(b, size, &m, NULL) == DYCE_OK);
  CHECK(dyce_session_create(m, &s, NULL) == DYCE_OK);
  free(b);
  static const size_t exits1[3] = {DYCE_NO_GRAPH, 2, 3}, exits2[2] = {DYCE_NO_GRAPH, 5};
  float x[16];
  uint64_t before = dyce_allocation_count();
  unsigned long answered = 0;
  for (int i = 0; i < 100000; i++) {
    dyce_config c;
    dyce_config_backbone(m, &c);
    c.saver = test_rand() % 2 ? 0 : DYCE_NO_GRAPH;
    c.saver_threshold = test_randf();
    c.exit[0] = exits1[test_rand() % 3];
    c.threshold[0] = test_randf();
    c.exit[1] = exits2[test_rand() % 2];
    c.threshold[1] = test_randf();
    c.confidence = (dyce_confidence)(test_rand() % 3);
    for (int k = 0; k < 16; k++) x[k] = 4.0f * test_randf();
    dyce_classify_options o = {0, test_rand() % 4 ? 0 : 40};
    dyce_result r;
    if (dyce_session_set_config(s, &c, NULL) != DYCE_OK ||
        dyce_session_set_input(s, x, 16, DYCE_LAYOUT_NHWC, NULL) != DYCE_OK ||
        dyce_session_classify(s, &o, &r, NULL) != DYCE_OK) {
      CHECK(0);
      break;
    }
    answered += r.graph != 6;
  }
  CHECK(dyce_allocation_count() == before);
  CHECK(answered > 0);
  dyce_session_free(s);
  dyce_model_free(m);
}

const test_case limits_tests[] = {
    {"limits", "file_and_table_limits", file_and_table_limits},
    {"limits", "weight_count_overflow", weight_count_overflow},
    {"limits", "arena_limit", arena_limit},
    {"limits", "soak_random_switches", soak_random_switches},
    {0, 0, 0}};
