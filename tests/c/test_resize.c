/* resize: nearest and bilinear against the definition computed by hand in
 * double (up and down, aligning corners or not), a package running both,
 * and every field refused with a message. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "package_checks.h"
#include "dyce.h"
#include "kernels/kernels.h"
#include "test.h"

static int32_t bits(float v) {
  int32_t b;
  memcpy(&b, &v, sizeof b);
  return b;
}

/* The definition (docs/FORMAT.md, op 18) in double. */
static double by_hand(const dyce__resize *r, const float *in, uint32_t y,
                      uint32_t x, uint32_t k) {
  double s[2], inv[2] = {r->inv_h, r->inv_w};
  uint32_t d[2] = {y, x}, n[2] = {r->in_h, r->in_w}, i0[2], i1[2];
  for (int a = 0; a < 2; a++) {
    s[a] = !r->bilinear || r->align_corners ? inv[a] * d[a] : inv[a] * (d[a] + 0.5) - 0.5;
    if (s[a] < 0) s[a] = 0;
    i0[a] = (uint32_t)floor(s[a]);
    if (i0[a] > n[a] - 1) i0[a] = n[a] - 1;
    i1[a] = i0[a] + (i0[a] < n[a] - 1);
  }
  const float *p = in;
  size_t w = r->in_w, c = r->c;
  if (!r->bilinear) return p[(i0[0] * w + i0[1]) * c + k];
  double ly = s[0] - i0[0], lx = s[1] - i0[1];
  return (1 - ly) * ((1 - lx) * p[(i0[0] * w + i0[1]) * c + k] + lx * p[(i0[0] * w + i1[1]) * c + k]) +
         ly * ((1 - lx) * p[(i1[0] * w + i0[1]) * c + k] + lx * p[(i1[0] * w + i1[1]) * c + k]);
}

static void resize_kernel(void) {
  static const uint32_t sizes[][4] = {{3, 4, 6, 8}, {5, 5, 10, 7}, {7, 6, 3, 4}, {1, 1, 3, 2}, {4, 3, 4, 3}};
  for (size_t t = 0; t < 5; t++)
    for (int mode = 0; mode < 3; mode++) {
      uint32_t ih = sizes[t][0], iw = sizes[t][1], oh = sizes[t][2], ow = sizes[t][3], c = 3;
      int align = mode == 2;
      dyce__resize r = {ih, iw, c, oh, ow, mode > 0, align,
                        align ? (oh > 1 ? (float)(ih - 1) / (float)(oh - 1) : 0.0f) : (float)ih / (float)oh,
                        align ? (ow > 1 ? (float)(iw - 1) / (float)(ow - 1) : 0.0f) : (float)iw / (float)ow};
      if (align && (oh < 2 || ow < 2)) continue;
      float *in = malloc(ih * iw * c * 4), *out = malloc(oh * ow * c * 4);
      for (size_t i = 0; i < (size_t)ih * iw * c; i++) in[i] = test_randf();
      dyce__kernels_default()->resize(&r, in, out);
      double worst = 0;
      for (uint32_t y = 0; y < oh; y++)
        for (uint32_t x = 0; x < ow; x++)
          for (uint32_t k = 0; k < c; k++) {
            double e = fabs(out[(y * ow + x) * c + k] - by_hand(&r, in, y, x, k));
            worst = e > worst ? e : worst;
          }
      CHECK_MSG(worst < 1e-6, "%ux%u -> %ux%u mode %d: error %g", ih, iw, oh, ow, mode, worst);
      free(in); free(out);
    }
}

/* input 2x3x2 -> nearest x2 (4x6x2) -> bilinear to 3x5 -> gap. */
static const uint32_t TENSORS[][3] = {{2, 3, 2}, {4, 6, 2}, {3, 5, 2}, {1, 1, 2}};
static tb_node NODES[3];

static void reset_nodes(void) {
  const tb_node n[3] = {
      {.op = DYCE__OP_RESIZE, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
       .p = {0, 0, bits(0.5f), bits(0.5f)}},
      {.op = DYCE__OP_RESIZE, .in0 = 1, .in1 = DYCE__NONE, .out = 2,
       .p = {1, 0, bits(4.0f / 3.0f), bits(6.0f / 5.0f)}},
      {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 2, .in1 = DYCE__NONE, .out = 3},
  };
  memcpy(NODES, n, sizeof n);
}

static uint8_t *build(size_t *size) {
  static const tb_graph g = {"main", DYCE__NONE, TENSORS, 4, NODES, 3, 0, 3, 0};
  tb_package pkg = {.h = 2, .w = 3, .c = 2, .graphs = &g, .graph_count = 1};
  return tb_build(&pkg, size);
}

static void resize_package_runs(void) {
  reset_nodes();
  size_t size;
  uint8_t *bytes = build(&size);
  float x[12], up[48], y[2];
  for (int i = 0; i < 12; i++) x[i] = (float)(i * 5 % 7) - 3.0f;
  if (!run_package(bytes, size, x, 12, y, 2)) return;
  dyce__resize near = {2, 3, 2, 4, 6, 0, 0, 0.5f, 0.5f};
  dyce__resize bil = {4, 6, 2, 3, 5, 1, 0, 4.0f / 3.0f, 6.0f / 5.0f};
  for (uint32_t i = 0; i < 24; i++) up[i * 2] = (float)by_hand(&near, x, i / 6, i % 6, 0),
                                    up[i * 2 + 1] = (float)by_hand(&near, x, i / 6, i % 6, 1);
  for (uint32_t k = 0; k < 2; k++) {
    double want = 0;
    for (uint32_t i = 0; i < 15; i++) want += by_hand(&bil, up, i / 5, i % 5, k) / 15;
    CHECK_MSG(fabs(y[k] - want) < 1e-5, "channel %u: %g, by hand %g", k, (double)y[k], want);
  }
}

static void expect_refused(const char *needle) {
  size_t size;
  uint8_t *bytes = build(&size);
  check_refused(bytes, size, needle);
  reset_nodes();
}

static void resize_fields_refused(void) {
  reset_nodes();
  NODES[0].p[0] = 2;
  expect_refused("graph 'main' node 0 (resize): resize: p[0] is 2, not 0 (nearest) or 1 (bilinear)");
  NODES[1].p[1] = -1;
  expect_refused("node 1 (resize): resize: p[1] is -1, not 0 (half-pixel) or 1 (align corners)");
  NODES[0].p[2] = bits(-0.5f);
  expect_refused("node 0 (resize): resize: p[2] (source step) -0.5 is not a finite number >= 0");
  NODES[1].p[3] = bits(INFINITY);
  expect_refused("node 1 (resize): resize: p[3] (source step) inf is not a finite number >= 0");
  NODES[0].p[2] = bits(1.0f);   /* row 3 of 4 would read row 3 of 2 */
  expect_refused("node 0 (resize): resize: the last output pixel reads source "
                 "position (3, 2.5) of a 2x3 input");
  NODES[1].p[3] = bits(5.5e11f);
  expect_refused("node 1 (resize): resize: the last output pixel reads source position");
  NODES[0].act = DYCE__ACT_RELU;
  expect_refused("node 0 (resize): cannot fuse an activation");
  NODES[0].in1 = 0;
  expect_refused("node 0 (resize): takes one input but names two");
}

const test_case resize_tests[] = {
    {"resize", "resize_kernel", resize_kernel},
    {"resize", "resize_package_runs", resize_package_runs},
    {"resize", "resize_fields_refused", resize_fields_refused},
    {0},
};
