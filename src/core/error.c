/* Status names and the error-reporting helper. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

static const char *const status_names[] = {
#define DYCE__NAME(name, text) "DYCE_" #name,
    DYCE_STATUS_MAP(DYCE__NAME)
#undef DYCE__NAME
};

static const char *const status_texts[] = {
#define DYCE__TEXT(name, text) text,
    DYCE_STATUS_MAP(DYCE__TEXT)
#undef DYCE__TEXT
};

const char *dyce_status_name(dyce_status status) {
  if ((unsigned)status >= DYCE_STATUS_COUNT) return "DYCE_UNKNOWN_STATUS";
  return status_names[status];
}

const char *dyce_status_str(dyce_status status) {
  if ((unsigned)status >= DYCE_STATUS_COUNT) return "unknown status";
  return status_texts[status];
}

dyce_status dyce__fail(dyce_error *err, dyce_status status, const char *fmt,
                       ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    err->status = status;
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
  }
  return status;
}

dyce_status dyce__ok(dyce_error *err) {
  if (err) {
    err->status = DYCE_OK;
    err->message[0] = '\0';
  }
  return DYCE_OK;
}
