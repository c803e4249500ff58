/* Monotonic time for deadlines and the timings reported in results. */
#include <time.h>

#include "internal.h"

double dyce__now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
