/* Loader tests: a valid package loads; every kind of damage is refused
 * with a message that says what is wrong, and nothing crashes (the ASan
 * build runs these too). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "test.h"

/* Loads `bytes` and expects `want`; the message must contain `needle`. */
static void expect_load(const uint8_t *bytes, size_t size, dyce_status want,
                        const char *needle) {
  dyce_model *m = (dyce_model *)1;
  dyce_error err;
  dyce_status s = dyce_model_load(bytes, size, &m, &err);
  CHECK_MSG(s == want, "got %s (%s), want %s", dyce_status_name(s),
            err.message, dyce_status_name(want));
  CHECK(err.status == s);
  if (want != DYCE_OK) {
    CHECK(m == NULL);
    CHECK_MSG(strstr(err.message, needle) != NULL, "message '%s' lacks '%s'",
              err.message, needle);
  }
  dyce_model_free(s == DYCE_OK ? m : NULL);
}

static void valid_package_loads(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  dyce_model *m = NULL;
  dyce_error err;
  CHECK(dyce_model_load(bytes, size, &m, &err) == DYCE_OK);
  free(bytes); /* the model must not need the bytes any more */
  CHECK(dyce_model_graph_count(m) == 2);
  size_t head = 99;
  CHECK(dyce_model_find_graph(m, "head", &head, &err) == DYCE_OK && head == 1);
  CHECK(dyce_model_find_graph(m, "nope", &head, &err) == DYCE_NOT_FOUND);
  CHECK(strstr(err.message, "nope") != NULL);
  dyce_graph_info gi;
  CHECK(dyce_model_graph_info(m, 1, &gi, &err) == DYCE_OK);
  CHECK(strcmp(gi.name, "head") == 0 && gi.source == 0 && gi.macs == 12);
  CHECK(gi.output_dims[3] == 3);
  CHECK(dyce_model_path_macs(m, 1) == 12 + 6 * 6 * 4 * 9 * 2);
  CHECK(dyce_model_label_count(m) == 3);
  CHECK(strcmp(dyce_model_label(m, 2), "two") == 0);
  CHECK(dyce_model_label(m, 3) == NULL);
  CHECK(dyce_model_weight_bytes(m) >= (72 + 4 + 12 + 3) * sizeof(float));
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  CHECK(in.height == 6 && in.width == 6 && in.channels == 2);
  CHECK(in.std[1] == 0.25f);
  dyce_model_free(m);
}

static void null_arguments_are_errors(void) {
  dyce_model *m;
  dyce_error err;
  CHECK(dyce_model_load(NULL, 10, &m, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(dyce_model_load("x", 1, NULL, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(dyce_model_load("x", 1, &m, NULL) == DYCE_BAD_FORMAT);
  dyce_model_free(NULL);
  dyce_session_free(NULL);
  CHECK(strcmp(dyce_status_name(DYCE_BAD_FORMAT), "DYCE_BAD_FORMAT") == 0);
  CHECK(strcmp(dyce_status_name((dyce_status)999), "DYCE_UNKNOWN_STATUS") == 0);
}

static void every_truncation_is_refused(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  for (size_t n = 0; n < size; n++) {
    uint8_t *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
    memcpy(copy, bytes, n);
    expect_load(copy, n, DYCE_BAD_FORMAT,
                n < 64 ? "shorter than the 64-byte header" : "truncated");
    free(copy);
  }
  free(bytes);
}

/* Flipping any bit either still loads (a weight changed) or fails with a
 * message; a loaded model must also run. */
static void every_bit_flip_is_safe(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  uint8_t *copy = malloc(size);
  float input[72];
  for (int i = 0; i < 72; i++) input[i] = test_randf();
  int loaded = 0, refused = 0;
  for (size_t at = 0; at < size; at++)
    for (int bit = 0; bit < 8; bit++) {
      memcpy(copy, bytes, size);
      copy[at] ^= (uint8_t)(1u << bit);
      dyce_model *m = NULL;
      dyce_error err;
      if (dyce_model_load(copy, size, &m, &err) != DYCE_OK) {
        CHECK(err.message[0] != '\0' && m == NULL);
        refused++;
        continue;
      }
      loaded++;
      dyce_session *s = NULL;
      if (dyce_session_create(m, &s, &err) == DYCE_OK) {
        size_t g = dyce_model_graph_count(m) - 1;
        CHECK(dyce_session_set_input(s, input, 72, DYCE_LAYOUT_NHWC, &err) ==
              DYCE_OK);
        CHECK(dyce_session_run(s, g, &err) == DYCE_OK);
      }
      dyce_session_free(s);
      dyce_model_free(m);
    }
  CHECK(refused > 0 && loaded > 0);
  free(copy);
  free(bytes);
}

static void wrong_magic_and_version(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  bytes[0] = 'X';
  expect_load(bytes, size, DYCE_BAD_FORMAT, "magic");
  bytes[0] = 'D';
  tb_put_u32(bytes + 4, 3);
  expect_load(bytes, size, DYCE_UNSUPPORTED, "version 3");
  /* Version 2 (int8 tensors) needs its tensor types. */
  tb_put_u32(bytes + 4, 2);
  expect_load(bytes, size, DYCE_BAD_FORMAT, "no 'QTEN' section");
  tb_put_u32(bytes + 4, 1);
  expect_load(bytes, size, DYCE_OK, "");
  free(bytes);
}

static void out_of_range_offsets(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  /* Section entry 0 (STRS): move it past the end of the file. */
  uint8_t *entry = bytes + 64;
  uint8_t saved[8];
  memcpy(saved, entry + 8, 8);
  tb_put_u32(entry + 8, (uint32_t)((size + 15) & ~(size_t)15));
  expect_load(bytes, size, DYCE_BAD_FORMAT, "runs past the end");
  tb_put_u32(entry + 8, 0xFFFFFFF0u);
  tb_put_u32(entry + 12, 0xFFFFFFFFu); /* offset near 2^64: no wrap-around */
  expect_load(bytes, size, DYCE_BAD_FORMAT, "runs past the end");
  memcpy(entry + 8, saved, 8);
  /* Misaligned section. */
  tb_put_u32(entry + 8, saved[0] + 4u);
  expect_load(bytes, size, DYCE_BAD_FORMAT, "aligned");
  memcpy(entry + 8, saved, 8);
  /* A weight offset beyond the weight section. */
  size_t node = tb_section_offset(bytes, "NODE");
  tb_put_u32(bytes + node + 32, 1u << 20);
  expect_load(bytes, size, DYCE_BAD_FORMAT, "outside the");
  free(bytes);
}

static void absurd_shapes(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  size_t tens = tb_section_offset(bytes, "TENS");
  const uint32_t bad[][2] = {{4, 0}, {4, 70000}, {12, 1u << 25}, {0, 2}};
  const char *why[] = {"breaks the limits", "breaks the limits",
                       "breaks the limits", "batch 2"};
  for (int i = 0; i < 4; i++) {
    uint8_t *copy = malloc(size);
    memcpy(copy, bytes, size);
    tb_put_u32(copy + tens + bad[i][0], bad[i][1]);
    expect_load(copy, size, i == 3 ? DYCE_UNSUPPORTED : DYCE_LIMIT, why[i]);
    free(copy);
  }
  /* A consistent but wrong output shape: conv says 6x6x4, file says 5x6x4. */
  tb_put_u32(bytes + tens + 16 + 4, 5);
  expect_load(bytes, size, DYCE_BAD_FORMAT, "but the op gives");
  free(bytes);
}

static void node_rules(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  size_t node = tb_section_offset(bytes, "NODE");
  size_t grph = tb_section_offset(bytes, "GRPH");
  struct { size_t at; uint32_t value; dyce_status want; const char *why; } cases[] = {
      {node + 0, 99, DYCE_UNSUPPORTED, "unknown op code 99"},
      {node + 4, 42, DYCE_UNSUPPORTED, "unknown activation code 42 (a package made by a newer dyce, or a damaged file)"},
      {node + 36, 71, DYCE_BAD_FORMAT, "node 0 (conv2d): has 71 weights"},
      {node + 48 + 4 * 10, 3, DYCE_BAD_FORMAT, "groups 3 must divide"},
      {node + 48 + 4 * 2, 0, DYCE_BAD_FORMAT, "stride height 0"},
      {node + 16, 7, DYCE_BAD_FORMAT, "tensor index out of range"},
      {node + 96 + 16, 2, DYCE_BAD_FORMAT, "no earlier node produced"},
      {grph + 16 + 32, 5, DYCE_BAD_FORMAT, "MACs"},
      {grph + 16 + 4, 0, DYCE_BAD_FORMAT, "not an earlier graph"},
      {grph + 16 + 64 + 4, DYCE__NONE, DYCE_BAD_FORMAT, "but its source gives"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    uint8_t *copy = malloc(size);
    memcpy(copy, bytes, size);
    tb_put_u32(copy + cases[i].at, cases[i].value);
    expect_load(copy, size, cases[i].want, cases[i].why);
    free(copy);
  }
  free(bytes);
}

static void non_finite_weights(void) {
  size_t size;
  uint8_t *bytes = tb_small_model(&size);
  size_t w = tb_section_offset(bytes, "WGHT");
  float nan = NAN;
  memcpy(bytes + w + 8, &nan, 4);
  expect_load(bytes, size, DYCE_BAD_FORMAT, "not finite");
  free(bytes);
}

const test_case format_tests[] = {
    {"format", "valid_package_loads", valid_package_loads},
    {"format", "null_arguments_are_errors", null_arguments_are_errors},
    {"format", "every_truncation_is_refused", every_truncation_is_refused},
    {"format", "every_bit_flip_is_safe", every_bit_flip_is_safe},
    {"format", "wrong_magic_and_version", wrong_magic_and_version},
    {"format", "out_of_range_offsets", out_of_range_offsets},
    {"format", "absurd_shapes", absurd_shapes},
    {"format", "node_rules", node_rules},
    {"format", "non_finite_weights", non_finite_weights},
    {0, 0, 0}};
