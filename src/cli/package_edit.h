/* Writing a package with a new CONF section (the search's output). */
#ifndef DYCE_CLI_PACKAGE_EDIT_H
#define DYCE_CLI_PACKAGE_EDIT_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"

typedef struct named_config {
  char name[32];
  dyce_config config;
  double accuracy, mean_macs; /* -1 when unknown */
} named_config;

/* Returns a malloc'ed copy of the package `in` (already loaded as `m`)
 * whose CONF section holds `configs` (replacing any CONF it had). */
uint8_t *package_with_configs(const uint8_t *in, size_t size,
                              const dyce_model *m, const named_config *configs,
                              size_t count, size_t *out_size);

#endif
