/* Fuzz target: the package loader (copying, then in place), then whatever
 * a loaded package allows — a session, every graph run on a fixed input,
 * the cascade under every shipped configuration, every width level. Any
 * crash, leak, overflow or UB is a bug. */
#include <stdint.h>
#include <stdlib.h>

#include "dyce.h"

static void exercise(dyce_model *m) {
  dyce_session *s = NULL;
  if (dyce_session_create(m, &s, NULL) != DYCE_OK) return;
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  size_t n = (size_t)in.height * in.width * in.channels;
  uint64_t macs = 0;
  for (size_t g = 0; g < dyce_model_graph_count(m); g++) macs += dyce_model_path_macs(m, g);
  /* Running is exercised on small models so that each run stays fast;
   * large ones (seeds from the shipped packages) still test the loader. */
  if (n <= (1u << 16) && macs <= (1u << 18)) {
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++) x[i] = (float)(i % 7) - 3.0f;
    if (x && dyce_session_set_input(s, x, n, DYCE_LAYOUT_NCHW, NULL) == DYCE_OK) {
      for (size_t g = 0; g < dyce_model_graph_count(m); g++) dyce_session_run(s, g, NULL);
      dyce_cascade_info ci;
      dyce_result r;
      if (dyce_model_cascade(m, &ci, NULL) == DYCE_OK) {
        dyce_session_classify(s, NULL, &r, NULL);
        for (size_t c = 0; c < ci.config_count && c < 8; c++)
          if (dyce_session_use_config(s, c, NULL) == DYCE_OK)
            dyce_session_classify(s, NULL, &r, NULL);
        for (size_t l = 1; l < dyce_model_level_count(m) && l < 8; l++) {
          dyce_config cfg;
          dyce_config_backbone(m, &cfg);
          cfg.level = l;
          if (dyce_session_set_config(s, &cfg, NULL) == DYCE_OK)
            dyce_session_classify(s, NULL, &r, NULL);
        }
      }
    }
    free(x);
  }
  dyce_session_free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  dyce_model *m = NULL;
  dyce_error err;
  if (dyce_model_load(data, size, &m, &err) == DYCE_OK) exercise(m);
  dyce_model_free(m);
  /* In place: the model owns the copy on success, we do on failure. */
  uint8_t *copy = malloc(size ? size : 1);
  if (!copy) return 0;
  for (size_t i = 0; i < size; i++) copy[i] = data[i];
  m = NULL;
  if (dyce_model_load_inplace(copy, size, &m, &err) == DYCE_OK)
    exercise(m);
  else
    free(copy);
  dyce_model_free(m);
  return 0;
}
