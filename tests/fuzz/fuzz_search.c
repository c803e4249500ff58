/* Fuzz target: the records loader on raw bytes, and the search on records
 * built from the input for the C tests' cascade model (so that names
 * match and the search itself runs on arbitrary predictions). */
#include <stdlib.h>
#include <string.h>

#include "../c/builder.h"
#include "dyce.h"

static dyce_model *model;

enum { GRAPHS = 5 };
static const char *const names[GRAPHS] = {"saver0", "exit1_a", "exit1_b", "exit2_a", "head"};

static void search_records(const uint8_t *data, size_t size) {
  /* Each sample takes 1 label byte and (1 top-1 + 1 confidence) byte per
   * graph; confidences map bytes to [0, 1]. */
  size_t per = 1 + 2 * GRAPHS, n = size / per;
  if (n < 1 || n > 128) return;
  uint16_t label[128], top1[GRAPHS][128];
  float conf[GRAPHS][128];
  /* Odd first bytes: 1 000 classes (records version 2), the three used
   * ones at 997..999, so the class indices do not fit a byte. */
  uint32_t classes = data[0] & 1 ? 1000 : 3, shift = classes - 3;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *s = data + i * per;
    label[i] = (uint16_t)(shift + s[0] % 3);
    for (int g = 0; g < GRAPHS; g++) {
      top1[g][i] = (uint16_t)(shift + s[1 + 2 * g] % 3);
      conf[g][i] = (float)s[2 + 2 * g] / 255.0f;
    }
  }
  const uint16_t *t[GRAPHS];
  const float *c[GRAPHS];
  for (int g = 0; g < GRAPHS; g++) {
    t[g] = top1[g];
    c[g] = conf[g];
  }
  static const uint64_t macs[GRAPHS] = {3, 6, 6, 6, 6};
  tb_split splits[2] = {{"train", (uint32_t)n, label, t, c}, {"val", (uint32_t)n, label, t, c}};
  size_t rsize;
  uint8_t *bytes = tb_records(names, macs, GRAPHS, splits, 2, classes, &rsize);
  dyce_records *r = NULL;
  if (dyce_records_load(bytes, rsize, &r, NULL) == DYCE_OK) {
    dyce_search_options o;
    dyce_search_defaults(&o);
    o.lambda_step = 0.1;
    o.method = (dyce_search_method)(data[0] / 2 % 4);
    o.budgets = data[0] / 8 % 4; /* the budget fill, 0..3 budgets */
    dyce_search_point *p = NULL;
    size_t count;
    if (dyce_search(model, r, &o, &p, &count, NULL) == DYCE_OK && count) {
      double acc, mm;
      dyce_search_evaluate(model, r, "val", &p[count - 1].config, &acc, &mm, NULL);
    }
    dyce_search_free_points(p);
    dyce_saver_score sc[DYCE_MAX_SAVERS];
    size_t k, best;
    dyce_search_rank_savers(model, r, "train", sc, &k, &best, NULL);
  }
  dyce_records_free(r);
  free(bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!model) {
    size_t n;
    uint8_t *bytes = tb_cascade_model(&n);
    dyce_model_load(bytes, n, &model, NULL);
    free(bytes);
  }
  dyce_records *r = NULL;
  if (dyce_records_load(data, size, &r, NULL) == DYCE_OK) dyce_records_free(r);
  search_records(data, size);
  return 0;
}
