/* Checks shared by the tests that build a package in memory. */
#include "package_checks.h"

#include <stdlib.h>
#include <string.h>

#include "dyce.h"
#include "test.h"

/* status < 0: any refusal. */
static void refused(uint8_t *bytes, size_t size, int status, const char *needle) {
  dyce_model *m = NULL;
  dyce_error err;
  dyce_status st = dyce_model_load(bytes, size, &m, &err);
  CHECK_MSG(st != DYCE_OK && m == NULL, "loaded; wanted '%s'", needle);
  CHECK_MSG(st == DYCE_OK || strstr(err.message, needle), "message '%s' lacks '%s'",
            err.message, needle);
  CHECK_MSG(st == DYCE_OK || status < 0 || (int)st == status,
            "status %s, wanted %s ('%s')", dyce_status_name(st),
            dyce_status_name((dyce_status)status), err.message);
  dyce_model_free(m);
  free(bytes);
}

void check_refused(uint8_t *bytes, size_t size, const char *needle) {
  refused(bytes, size, -1, needle);
}

void check_refused_as(uint8_t *bytes, size_t size, int status,
                      const char *needle) {
  refused(bytes, size, status, needle);
}

int run_package(uint8_t *bytes, size_t size, const float *x, size_t n,
                float *y, size_t want) {
  dyce_model *m = NULL;
  dyce_session *s = NULL;
  dyce_error err;
  int ok = 0;
  CHECK_MSG(dyce_model_load(bytes, size, &m, &err) == DYCE_OK, "%s", err.message);
  free(bytes);
  if (m && dyce_session_create(m, &s, &err) == DYCE_OK &&
      dyce_session_set_input(s, x, n, DYCE_LAYOUT_NHWC, &err) == DYCE_OK &&
      dyce_session_run(s, 0, &err) == DYCE_OK) {
    const float *out;
    size_t count;
    if (dyce_session_output(s, 0, &out, &count, &err) == DYCE_OK && count == want) {
      memcpy(y, out, want * sizeof *y);
      ok = 1;
    }
  }
  CHECK_MSG(!m || ok, "the package did not run: %s", err.message);
  dyce_session_free(s);
  dyce_model_free(m);
  return ok;
}
