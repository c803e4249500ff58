/* Runs the C test groups: `dyce_tests [GROUP]`. Prints "N passed, N failed". */
#include <string.h>

#include "test.h"

int test_failures, test_checks;
static unsigned rng_state = 12345u;

void test_seed(unsigned seed) { rng_state = seed ? seed : 1u; }
unsigned test_rand(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 17;
  rng_state ^= rng_state << 5;
  return rng_state;
}
float test_randf(void) { return (float)(test_rand() % 2000001u) / 1e6f - 1.0f; }

int main(int argc, char **argv) {
  const test_case *groups[] = {format_tests, ops_tests, plan_tests,
                               session_tests, kernels_tests, cascade_tests,
                               search_tests, limits_tests, levels_tests,
                               sizes_tests, concat_tests, threads_tests, chains_tests,
                               q8_package_tests, f16_tests, q8_tests,
                               norm_tests, gather_tests, resize_tests,
                               broadcast_tests, reduce_tests, matmul_tests,
                               view_tests, attention_kernel_tests,
                               elementwise_tests};
  int passed = 0, failed = 0;
  for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++)
    for (const test_case *t = groups[g]; t->fn; t++) {
      if (argc > 1 && strcmp(argv[1], t->group) != 0) continue;
      int before = test_failures;
      test_seed(12345u);
      t->fn();
      if (test_failures == before) {
        passed++;
      } else {
        failed++;
        fprintf(stderr, "FAILED %s/%s\n", t->group, t->name);
      }
    }
  printf("%d checks; %d passed, %d failed\n", test_checks, passed, failed);
  return failed ? 1 : (passed ? 0 : 1);
}
