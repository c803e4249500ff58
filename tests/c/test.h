/* A minimal test harness: CHECK records a failure and carries on. */
#ifndef DYCE_TEST_H
#define DYCE_TEST_H

#include <stdio.h>

extern int test_failures, test_checks;

#define CHECK(cond)                                                   \
  do {                                                                \
    test_checks++;                                                    \
    if (!(cond)) {                                                    \
      test_failures++;                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, \
              #cond);                                                 \
    }                                                                 \
  } while (0)

#define CHECK_MSG(cond, ...)                                          \
  do {                                                                \
    test_checks++;                                                    \
    if (!(cond)) {                                                    \
      test_failures++;                                                \
      fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, \
              #cond);                                                 \
      fprintf(stderr, __VA_ARGS__);                                   \
      fputc('\n', stderr);                                            \
    }                                                                 \
  } while (0)

typedef struct test_case {
  const char *group, *name;
  void (*fn)(void);
} test_case;

/* Each test file defines an array of cases ending in {0}. */
extern const test_case format_tests[], ops_tests[], plan_tests[],
    session_tests[], kernels_tests[], cascade_tests[], search_tests[],
    limits_tests[], levels_tests[], sizes_tests[], concat_tests[],
    threads_tests[], chains_tests[], q8_package_tests[], f16_tests[], q8_tests[], norm_tests[],
    gather_tests[], resize_tests[], broadcast_tests[], reduce_tests[],
    matmul_tests[], view_tests[], attention_kernel_tests[], elementwise_tests[];

/* Deterministic pseudo-random numbers for tests. */
unsigned test_rand(void);
float test_randf(void); /* uniform in [-1, 1) */
void test_seed(unsigned seed);

#endif
