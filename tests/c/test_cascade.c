/* Cascade tests on builder.c's seven-graph cascade: roles, the exit rule,
 * MAC accounting, budgets, configuration checks and CONF round trips, and
 * that switching configurations between inferences allocates nothing. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "cli/package_edit.h"
#include "dyce.h"
#include "test.h"

enum { SAVER = 0, STAGE1 = 1, EXIT1A = 2, EXIT1B = 3, STAGE2 = 4, EXIT2A = 5, HEAD = 6 };

typedef struct fixture {
  dyce_model *m;
  dyce_session *s;
  float x[16];
} fixture;

static fixture open_cascade(void) {
  fixture f = {0};
  size_t size;
  uint8_t *bytes = tb_cascade_model(&size);
  dyce_error err;
  CHECK_MSG(dyce_model_load(bytes, size, &f.m, &err) == DYCE_OK, "%s", err.message);
  free(bytes);
  CHECK(dyce_session_create(f.m, &f.s, NULL) == DYCE_OK);
  for (int i = 0; i < 16; i++) f.x[i] = test_randf();
  CHECK(dyce_session_set_input(f.s, f.x, 16, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK);
  return f;
}

static void close_cascade(fixture f) {
  dyce_session_free(f.s);
  dyce_model_free(f.m);
}

/* Max softmax of a graph's output, computed here independently. */
static float max_softmax(fixture *f, size_t graph, size_t *top) {
  const float *y;
  size_t n;
  dyce_session_run(f->s, graph, NULL);
  dyce_session_output(f->s, graph, &y, &n, NULL);
  size_t best = 0;
  for (size_t i = 1; i < n; i++)
    if (y[i] > y[best]) best = i;
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += exp((double)y[i] - y[best]);
  *top = best;
  return (float)(1.0 / sum);
}

static void roles_come_from_names(void) {
  fixture f = open_cascade();
  dyce_cascade_info ci;
  CHECK(dyce_model_cascade(f.m, &ci, NULL) == DYCE_OK);
  CHECK(ci.stage_count == 2 && ci.saver_count == 1 && ci.head == HEAD);
  CHECK(dyce_model_stage(f.m, 1) == STAGE1 && dyce_model_stage(f.m, 2) == STAGE2);
  CHECK(dyce_model_stage(f.m, 3) == DYCE_NO_GRAPH);
  CHECK(dyce_model_exit_count(f.m, 1) == 2 && dyce_model_exit_count(f.m, 2) == 1);
  CHECK(dyce_model_exit(f.m, 1, 1) == EXIT1B && dyce_model_exit(f.m, 2, 0) == EXIT2A);
  CHECK(dyce_model_saver(f.m, 0) == SAVER);
  close_cascade(f);
}

static dyce_result classify(fixture *f, const dyce_config *c,
                            const dyce_classify_options *o) {
  dyce_result r;
  dyce_error err;
  CHECK(dyce_session_set_input(f->s, f->x, 16, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK);
  CHECK_MSG(dyce_session_set_config(f->s, c, &err) == DYCE_OK, "%s", err.message);
  CHECK_MSG(dyce_session_classify(f->s, o, &r, &err) == DYCE_OK, "%s", err.message);
  return r;
}

static void exit_rule_and_macs(void) {
  fixture f = open_cascade();
  dyce_config c;
  dyce_config_backbone(f.m, &c);
  dyce_result r = classify(&f, &c, NULL);
  size_t top;
  float conf = max_softmax(&f, HEAD, &top);
  CHECK(r.graph == HEAD && r.position == 3 && r.macs == 32 + 64 + 6);
  CHECK(r.index == top && fabsf(r.score - conf) < 1e-6f && !r.budget_exhausted);

  c.saver = SAVER;
  c.saver_threshold = -1.0f; /* always */
  r = classify(&f, &c, NULL);
  CHECK(r.graph == SAVER && r.position == 0 && r.macs == 3);

  c.saver = DYCE_NO_GRAPH;
  c.exit[0] = EXIT1A;
  conf = max_softmax(&f, EXIT1A, &top);
  c.threshold[0] = nextafterf(conf, 0.0f); /* conf > t: answers */
  r = classify(&f, &c, NULL);
  CHECK(r.graph == EXIT1A && r.position == 1 && r.macs == 32 + 6 && r.index == top);
  c.threshold[0] = conf; /* strictly greater is required: goes on */
  c.exit[1] = EXIT2A;
  c.threshold[1] = 1.0f; /* never */
  r = classify(&f, &c, NULL);
  CHECK(r.graph == HEAD && r.macs == 32 + 6 + 64 + 6 + 6);
  close_cascade(f);
}

static void confidence_measures(void) {
  fixture f = open_cascade();
  dyce_config c;
  dyce_config_backbone(f.m, &c);
  float values[3];
  for (int k = 0; k < 3; k++) {
    c.confidence = (dyce_confidence)k;
    dyce_result r = classify(&f, &c, NULL);
    values[k] = r.confidence;
    CHECK(r.confidence >= 0.0f && r.confidence <= 1.0f);
  }
  CHECK(values[1] <= values[0]); /* margin = p1 - p2 <= p1 */
  c.confidence = (dyce_confidence)3;
  CHECK(dyce_session_set_config(f.s, &c, NULL) == DYCE_INVALID_ARGUMENT);
  close_cascade(f);
}

static void budgets_stop_at_the_latest_answer(void) {
  fixture f = open_cascade();
  dyce_config c;
  dyce_config_backbone(f.m, &c);
  c.exit[0] = EXIT1A;
  c.threshold[0] = 1.0f; /* never exits by itself */
  dyce_classify_options o = {0, 40};
  dyce_result r = classify(&f, &c, &o);
  /* stage1 + exit1_a = 38 MACs; stage2 (64) would pass 40. */
  CHECK(r.graph == EXIT1A && r.macs == 38 && r.budget_exhausted);
  o.mac_budget = 1; /* the first answer is always computed */
  r = classify(&f, &c, &o);
  CHECK(r.graph == EXIT1A && r.macs == 38 && r.budget_exhausted);
  o.mac_budget = 1000;
  r = classify(&f, &c, &o);
  CHECK(r.graph == HEAD && !r.budget_exhausted);
  o.mac_budget = 0;
  o.deadline_ms = -1;
  dyce_result bad;
  CHECK(dyce_session_classify(f.s, &o, &bad, NULL) == DYCE_INVALID_ARGUMENT);
  close_cascade(f);
}

static void configurations_are_checked(void) {
  fixture f = open_cascade();
  dyce_config c;
  dyce_error err;
  dyce_config_backbone(f.m, &c);
  c.exit[0] = EXIT2A; /* an exit of position 2 at position 1 */
  CHECK(dyce_session_set_config(f.s, &c, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "not an exit at position 1") != NULL);
  dyce_config_backbone(f.m, &c);
  c.saver = HEAD;
  CHECK(dyce_session_set_config(f.s, &c, &err) == DYCE_INVALID_ARGUMENT);
  dyce_config_backbone(f.m, &c);
  c.threshold[1] = NAN;
  CHECK(dyce_session_set_config(f.s, &c, &err) == DYCE_INVALID_ARGUMENT);
  dyce_config_backbone(f.m, &c);
  c.exit[5] = EXIT1A; /* the cascade has two positions */
  CHECK(dyce_session_set_config(f.s, &c, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(dyce_session_use_config(f.s, 0, &err) == DYCE_NOT_FOUND);
  close_cascade(f);
}

static void switching_allocates_nothing(void) {
  fixture f = open_cascade();
  dyce_config configs[3];
  dyce_config_backbone(f.m, &configs[0]);
  configs[1] = configs[0];
  configs[1].saver = SAVER;
  configs[1].saver_threshold = 0.5f;
  configs[2] = configs[0];
  configs[2].exit[0] = EXIT1B;
  configs[2].threshold[0] = 0.4f;
  configs[2].exit[1] = EXIT2A;
  configs[2].threshold[1] = 0.6f;
  uint64_t before = dyce_allocation_count();
  size_t answered[7] = {0};
  for (int i = 0; i < 10000; i++) {
    for (int k = 0; k < 16; k++) f.x[k] = test_randf();
    dyce_result r;
    CHECK(dyce_session_set_config(f.s, &configs[i % 3], NULL) == DYCE_OK);
    CHECK(dyce_session_set_input(f.s, f.x, 16, DYCE_LAYOUT_NHWC, NULL) == DYCE_OK);
    CHECK(dyce_session_classify(f.s, NULL, &r, NULL) == DYCE_OK);
    answered[r.graph]++;
  }
  CHECK(dyce_allocation_count() == before);
  CHECK(answered[HEAD] > 0 && answered[SAVER] + answered[EXIT1B] + answered[EXIT2A] > 0);
  close_cascade(f);
}

static void shipped_configurations_round_trip(void) {
  size_t size, out_size;
  uint8_t *bytes = tb_cascade_model(&size);
  dyce_model *m = NULL, *m2 = NULL;
  CHECK(dyce_model_load(bytes, size, &m, NULL) == DYCE_OK);
  named_config nc[2];
  memset(nc, 0, sizeof nc);
  strcpy(nc[0].name, "fast");
  dyce_config_backbone(m, &nc[0].config);
  nc[0].config.saver = SAVER;
  nc[0].config.saver_threshold = 0.25f;
  nc[0].accuracy = 0.5;
  nc[0].mean_macs = 12.5;
  strcpy(nc[1].name, "full");
  dyce_config_backbone(m, &nc[1].config);
  nc[1].accuracy = nc[1].mean_macs = -1;
  uint8_t *with = package_with_configs(bytes, size, m, nc, 2, &out_size);
  dyce_error err;
  CHECK_MSG(with && dyce_model_load(with, out_size, &m2, &err) == DYCE_OK, "%s", err.message);
  dyce_config got;
  dyce_config_meta meta;
  size_t index;
  CHECK(dyce_model_config(m2, 0, &got, &meta, NULL) == DYCE_OK);
  CHECK(strcmp(meta.name, "fast") == 0 && meta.accuracy == 0.5f && meta.mean_macs == 12.5);
  CHECK(got.saver == SAVER && got.saver_threshold == 0.25f && got.exit[0] == DYCE_NO_GRAPH);
  CHECK(dyce_model_find_config(m2, "full", &index, NULL) == DYCE_OK && index == 1);
  dyce_session *s;
  CHECK(dyce_session_create(m2, &s, NULL) == DYCE_OK);
  CHECK(dyce_session_use_config(s, 0, NULL) == DYCE_OK);
  CHECK(dyce_session_use_config(s, 2, NULL) == DYCE_NOT_FOUND);
  dyce_session_free(s);
  dyce_model_free(m2);
  m2 = NULL;
  /* A record naming an exit at the wrong position is refused at load. */
  nc[0].config.saver = DYCE_NO_GRAPH;
  nc[0].config.exit[0] = EXIT2A;
  free(with);
  with = package_with_configs(bytes, size, m, nc, 2, &out_size);
  CHECK(dyce_model_load(with, out_size, &m2, &err) == DYCE_BAD_FORMAT);
  CHECK(strstr(err.message, "configuration 'fast'") != NULL);
  free(with);
  free(bytes);
  dyce_model_free(m);
}

const test_case cascade_tests[] = {
    {"cascade", "roles_come_from_names", roles_come_from_names},
    {"cascade", "exit_rule_and_macs", exit_rule_and_macs},
    {"cascade", "confidence_measures", confidence_measures},
    {"cascade", "budgets_stop_at_the_latest_answer", budgets_stop_at_the_latest_answer},
    {"cascade", "configurations_are_checked", configurations_are_checked},
    {"cascade", "switching_allocates_nothing", switching_allocates_nothing},
    {"cascade", "shipped_configurations_round_trip", shipped_configurations_round_trip},
    {0, 0, 0}};
