/* Checks shared by the tests that build a package in memory (builder.h)
 * and load it through the public API. */
#ifndef DYCE_TEST_PACKAGE_CHECKS_H
#define DYCE_TEST_PACKAGE_CHECKS_H

#include <stddef.h>
#include <stdint.h>

/* Loads the package (and frees `bytes`): it must be refused, with a
 * message that contains `needle`. */
void check_refused(uint8_t *bytes, size_t size, const char *needle);
/* The same, and the status must be `status` (a dyce_status). */
void check_refused_as(uint8_t *bytes, size_t size, int status,
                      const char *needle);

/* Loads the package (and frees `bytes`), runs its first graph on the NHWC
 * input `x` (n floats) and copies its output, which must have `want`
 * floats, to `y`. Returns 1 when all of that worked (each step a CHECK). */
int run_package(uint8_t *bytes, size_t size, const float *x, size_t n,
                float *y, size_t want);

#endif
