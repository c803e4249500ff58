/* Fuzz target: a valid cascade package (the C tests' builder model) run
 * with fuzzed input values (NaN, infinities, huge numbers included),
 * fuzzed configurations (any graph index, any threshold, any confidence
 * kind) and fuzzed deadlines and MAC budgets. Every call must either work
 * or return an error. */
#include <stdlib.h>
#include <string.h>

#include "../c/builder.h"
#include "dyce.h"

static dyce_model *model;
static dyce_session *session;

static void setup(void) {
  size_t size;
  uint8_t *bytes = tb_cascade_model(&size);
  dyce_model_load(bytes, size, &model, NULL);
  free(bytes);
  dyce_session_create(model, &session, NULL);
}

/* Reads `n` bytes from the input, zero-padded past its end. */
static void take(const uint8_t **p, size_t *left, void *out, size_t n) {
  size_t k = n < *left ? n : *left;
  memset(out, 0, n);
  memcpy(out, *p, k);
  *p += k;
  *left -= k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!model) setup();
  float x[16];
  uint32_t graphs[1 + DYCE_MAX_POSITIONS];
  float thresholds[1 + DYCE_MAX_POSITIONS];
  uint8_t kind, layout;
  double deadline;
  uint64_t budget;
  take(&data, &size, x, sizeof x);
  take(&data, &size, &layout, 1);
  take(&data, &size, &kind, 1);
  take(&data, &size, graphs, sizeof graphs);
  take(&data, &size, thresholds, sizeof thresholds);
  take(&data, &size, &deadline, sizeof deadline);
  take(&data, &size, &budget, sizeof budget);
  dyce_config c;
  dyce_config_backbone(model, &c);
  c.confidence = (dyce_confidence)(kind % 4); /* 3 is invalid on purpose */
  /* Small values are real graph indices; 0xFF.. means "none". */
  c.saver = graphs[0] >= 0xFF000000u ? DYCE_NO_GRAPH : graphs[0] % 16;
  c.saver_threshold = thresholds[0];
  for (int p = 0; p < DYCE_MAX_POSITIONS; p++) {
    c.exit[p] = graphs[p + 1] >= 0xFF000000u ? DYCE_NO_GRAPH : graphs[p + 1] % 16;
    c.threshold[p] = thresholds[p + 1];
  }
  dyce_session_set_config(session, &c, NULL);
  dyce_classify_options o = {deadline, budget};
  dyce_result r;
  if (dyce_session_set_input(session, x, 16, (dyce_layout)(layout % 3), NULL) == DYCE_OK) {
    dyce_session_classify(session, &o, &r, NULL);
    dyce_session_classify(session, NULL, &r, NULL);
  }
  return 0;
}
