/* Microbenchmark of the SIMD convolution kernels alone, at the shapes of
 * the benchmark models: best of N runs (the least disturbed by other
 * processes), ms and GFLOP/s. Built for WebAssembly by kernels.sh; it
 * builds natively too, with the sources of src/kernels/simd and ref.
 * `kernel_bench q8`: the int8 convolutions (docs/INT8.md) next to the
 * float ones at MobileNetV2-like shapes, in GOP/s (2 ops per MAC);
 * `kernel_bench mobilenet_v2 q8`: MobileNetV2's convolutions in int8;
 * `kernel_bench resnet18 q8`: ResNet-18's, float next to int8;
 * `kernel_bench dw`: MobileNetV2's depthwise ones, float next to int8. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kernels/kernels.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static double bench(const char *name, dyce__window g, int reps) {
  const dyce__kernels *k = &dyce__kernels_simd;
  size_t nx = (size_t)g.in_h * g.in_w * g.in_c;
  size_t ny = (size_t)g.out_h * g.out_w * g.out_c;
  size_t taps = (size_t)g.kh * g.kw * (g.in_c / g.groups);
  float *x = malloc(nx * 4), *w = malloc(g.out_c * taps * 4);
  float *b = malloc(g.out_c * 4), *y = malloc(ny * 4);
  float *packed = malloc(k->conv2d_packed_floats(&g) * 4);
  void *scratch = malloc(k->conv2d_scratch_bytes(&g) + 1);
  for (size_t i = 0; i < nx; i++) x[i] = (float)(i % 7) * 0.1f;
  for (size_t i = 0; i < g.out_c * taps; i++) w[i] = (float)(i % 5) * 0.01f;
  for (size_t i = 0; i < g.out_c; i++) b[i] = 0.1f;
  k->pack_conv2d(&g, w, packed);
  dyce__activation relu = {DYCE__ACT_RELU, 0.0f, 0.0f};
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    k->conv2d(&g, x, packed, b, relu, y, scratch);
    double t = now_ms() - t0;
    if (t < best) best = t;
  }
  if (name)
    printf("%-30s %8.3f ms %7.2f GFLOP/s\n", name, best,
           2.0 * (double)ny * taps / best / 1e6);
  free(x); free(w); free(b); free(y); free(packed); free(scratch);
  return best;
}

/* The int8 convolution of the SIMD table on shape g, best of reps. */
static double bench_q8(dyce__window g, int reps) {
  const dyce__kernels *k = &dyce__kernels_simd;
  size_t nx = (size_t)g.in_h * g.in_w * g.in_c;
  size_t ny = (size_t)g.out_h * g.out_w * g.out_c;
  size_t taps = (size_t)g.kh * g.kw * (g.in_c / g.groups);
  int8_t *x = malloc(nx), *w = malloc(g.out_c * taps), *y = malloc(ny);
  int32_t *b = malloc(g.out_c * sizeof(int32_t));
  float *mult = malloc(g.out_c * sizeof(float));
  void *packed = malloc(k->q8_conv2d_packed_bytes(&g));
  void *scratch = malloc(k->q8_conv2d_scratch_bytes(&g) + 1);
  for (size_t i = 0; i < nx; i++) x[i] = (int8_t)(i % 251 - 125);
  for (size_t i = 0; i < g.out_c * taps; i++) w[i] = (int8_t)(i % 23 - 11);
  for (size_t i = 0; i < g.out_c; i++) b[i] = 100, mult[i] = 1e-3f;
  k->pack_q8_conv2d(&g, w, packed);
  dyce__q8_out o = {mult, -3, -3, 127}; /* a fused ReLU */
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    double t0 = now_ms();
    k->q8_conv2d(&g, x, 5, packed, b, &o, y, scratch);
    double t = now_ms() - t0;
    if (t < best) best = t;
  }
  free(x); free(w); free(y); free(b); free(mult); free(packed); free(scratch);
  return best;
}

/* One row: float and int8 on the same shape, each after 3 untimed runs
 * (V8 compiles wasm functions again, optimised, after their first runs:
 * the first row timed the baseline code of the int8 kernels); their
 * times, for the modes that sum them. */
typedef struct f32_q8 { double f, q; } f32_q8;
static f32_q8 compare_q8(const char *name, dyce__window g, int reps) {
  double ops = 2.0 * g.out_h * g.out_w * g.out_c * g.kh * g.kw *
               (g.in_c / g.groups);
  bench(NULL, g, 3);
  bench_q8(g, 3);
  double f = bench(NULL, g, reps), q = bench_q8(g, reps);
  printf("%-30s f32 %8.3f ms %6.2f GOP/s  int8 %8.3f ms %6.2f GOP/s  x%.2f\n",
         name, f, ops / f / 1e6, q, ops / q / 1e6, f / q);
  return (f32_q8){f, q};
}

#define CONV(ih, iw, ic, oc, k, s, p, groups)                               \
  ((dyce__window){ih, iw, ic, (ih + 2 * p - k) / s + 1,                     \
                  (iw + 2 * p - k) / s + 1, oc, k, k, s, s, 1, 1, p, p,     \
                  groups, ic, oc, groups})

/* Every convolution of MobileNetV2-224 (the benchmark model), timed alone
 * (best of 20) and summed by kind: where its time goes. */
static double run_conv(int q8, dyce__window g, int reps) {
  return q8 ? bench_q8(g, reps) : bench(NULL, g, reps);
}

/* q8: the int8 kernels (`kernel_bench mobilenet_v2 q8`). */
static void mobilenet_v2(int q8) {
  static const int blocks[][4] = {/* t, c, n, s */
      {1, 16, 1, 1}, {6, 24, 2, 2}, {6, 32, 3, 2}, {6, 64, 4, 2},
      {6, 96, 3, 1}, {6, 160, 3, 2}, {6, 320, 1, 1}};
  double ms[4] = {0}, macs[4] = {0};
  const char *kinds[4] = {"stem 3x3/2", "1x1 expand", "depthwise 3x3",
                          "1x1 project/last"};
  int h = 112, c = 32;
  dyce__window g = CONV(224, 224, 3, 32, 3, 2, 1, 1);
  g.pad_t = g.pad_l = 1;
  ms[0] += run_conv(q8, g, 20);
  macs[0] += (double)g.out_h * g.out_w * g.out_c * 27;
  for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
    for (int r = 0; r < blocks[b][2]; r++) {
      int s = r == 0 ? blocks[b][3] : 1, e = c * blocks[b][0];
      int o = (h + 2 - 3) / s + 1;
      if (e != c) {
        g = CONV(h, h, c, e, 1, 1, 0, 1);
        ms[1] += run_conv(q8, g, 20);
        macs[1] += (double)h * h * c * e;
      }
      g = CONV(h, h, e, e, 3, s, 1, e);
      ms[2] += run_conv(q8, g, 20);
      macs[2] += (double)o * o * e * 9;
      g = CONV(o, o, e, blocks[b][1], 1, 1, 0, 1);
      ms[3] += run_conv(q8, g, 20);
      macs[3] += (double)o * o * e * blocks[b][1];
      h = o, c = blocks[b][1];
    }
  g = CONV(7, 7, 320, 1280, 1, 1, 0, 1);
  ms[3] += run_conv(q8, g, 20);
  macs[3] += 7.0 * 7 * 320 * 1280;
  double total = 0;
  for (int i = 0; i < 4; i++) total += ms[i];
  for (int i = 0; i < 4; i++)
    printf("mobilenet_v2 %s %-18s %7.3f ms %5.1f %% %7.2f GOP/s\n",
           q8 ? "int8" : "f32 ", kinds[i],
           ms[i], 100 * ms[i] / total, 2 * macs[i] / ms[i] / 1e6);
  printf("mobilenet_v2 %s convolutions      %7.3f ms\n", q8 ? "int8" : "f32 ",
         total);
}

/* Every distinct convolution of ResNet-18-224 (the int8 benchmark model),
 * float next to int8, times its count in the network, and the totals:
 * where the int8 model's time goes and how it compares with float's. */
static void resnet18(void) {
  static const struct { const char *name; int h, c, oc, k, s, p, n; } rows[] = {
      {"stem 7x7/2 224x224x3->64", 224, 3, 64, 7, 2, 3, 1},
      {"3x3 56x56x64->64 (x4)", 56, 64, 64, 3, 1, 1, 4},
      {"3x3/2 56x56x64->128", 56, 64, 128, 3, 2, 1, 1},
      {"1x1/2 56x56x64->128", 56, 64, 128, 1, 2, 0, 1},
      {"3x3 28x28x128->128 (x3)", 28, 128, 128, 3, 1, 1, 3},
      {"3x3/2 28x28x128->256", 28, 128, 256, 3, 2, 1, 1},
      {"1x1/2 28x28x128->256", 28, 128, 256, 1, 2, 0, 1},
      {"3x3 14x14x256->256 (x3)", 14, 256, 256, 3, 1, 1, 3},
      {"3x3/2 14x14x256->512", 14, 256, 512, 3, 2, 1, 1},
      {"1x1/2 14x14x256->512", 14, 256, 512, 1, 2, 0, 1},
      {"3x3 7x7x512->512 (x3)", 7, 512, 512, 3, 1, 1, 3}};
  printf("kernel table %s: ResNet-18 convolutions, ms per layer\n",
         dyce__kernels_simd.name);
  double ft = 0, qt = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    dyce__window g = CONV(rows[i].h, rows[i].h, rows[i].c, rows[i].oc,
                          rows[i].k, rows[i].s, rows[i].p, 1);
    double ops = 2.0 * g.out_h * g.out_w * g.out_c * g.kh * g.kw * g.in_c;
    f32_q8 t = compare_q8(rows[i].name, g, ops > 4e8 ? 10 : 20);
    ft += t.f * rows[i].n, qt += t.q * rows[i].n;
  }
  printf("resnet18 convolutions       f32 %8.3f ms  int8 %8.3f ms  x%.2f\n",
         ft, qt, ft / qt);
}

/* MobileNetV2's depthwise convolutions (`kernel_bench dw`), float next to
 * int8, times their count in the network, and the totals. */
static void depthwise(void) {
  static const struct { int h, c, s, n; } rows[] = {
      {112, 32, 1, 1}, {112, 96, 2, 1}, {56, 144, 1, 1}, {56, 144, 2, 1},
      {28, 192, 1, 2}, {28, 192, 2, 1}, {14, 384, 1, 4}, {14, 576, 1, 2},
      {14, 576, 2, 1}, {7, 960, 1, 3}};
  double ft = 0, qt = 0;
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    char name[48];
    snprintf(name, sizeof name, "dw 3x3/%d %dx%dx%d (x%d)", rows[i].s,
             rows[i].h, rows[i].h, rows[i].c, rows[i].n);
    f32_q8 t = compare_q8(name, CONV(rows[i].h, rows[i].h, rows[i].c, rows[i].c,
                                     3, rows[i].s, 1, rows[i].c), 30);
    ft += t.f * rows[i].n, qt += t.q * rows[i].n;
  }
  printf("mobilenet_v2 depthwise      f32 %7.3f ms  int8 %7.3f ms  x%.2f\n",
         ft, qt, ft / qt);
}

/* A standalone activation pass over n floats (in place): the exp-based
 * ones are the dearest, EfficientNet runs SiLU after most convolutions. */
static void bench_activation(const char *name, dyce__act a, size_t n) {
  float *x = malloc(n * 4);
  for (size_t i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.05f - 2.0f;
  dyce__activation act = {a, 0.0f, 0.0f};
  double best = 1e30;
  for (int r = 0; r < 30; r++) {
    double t0 = now_ms();
    dyce__kernels_simd.activation(n, x, act, x);
    double t = now_ms() - t0;
    if (t < best) best = t;
    for (size_t i = 0; i < n; i++) x[i] = (float)(i % 97) * 0.05f - 2.0f;
  }
  printf("%-30s %8.3f ms %7.2f ns per float\n", name, best, best * 1e6 / (double)n);
  free(x);
}

/* Int8 against float, MobileNetV2's kinds of convolution. */
static void q8_rows(void) {
  printf("kernel table %s: float vs int8\n", dyce__kernels_simd.name);
  compare_q8("stem 3x3/2 224x224x3->32", CONV(224, 224, 3, 32, 3, 2, 1, 1), 10);
  compare_q8("1x1 56x56x24->144", CONV(56, 56, 24, 144, 1, 1, 0, 1), 30);
  compare_q8("1x1 28x28x32->192", CONV(28, 28, 32, 192, 1, 1, 0, 1), 30);
  compare_q8("1x1 28x28x128->128", CONV(28, 28, 128, 128, 1, 1, 0, 1), 30);
  compare_q8("1x1 14x14x96->576", CONV(14, 14, 96, 576, 1, 1, 0, 1), 30);
  compare_q8("1x1 14x14x576->96", CONV(14, 14, 576, 96, 1, 1, 0, 1), 30);
  compare_q8("1x1 7x7x320->1280", CONV(7, 7, 320, 1280, 1, 1, 0, 1), 30);
  compare_q8("3x3 28x28x1->16 (fmnist)", CONV(28, 28, 1, 16, 3, 1, 1, 1), 50);
  compare_q8("3x3 28x28x16->16 (fmnist)", CONV(28, 28, 16, 16, 3, 1, 1, 1), 50);
  compare_q8("3x3/2 28x28x16->32 (fmnist)", CONV(28, 28, 16, 32, 3, 2, 1, 1), 50);
  compare_q8("3x3 14x14x32->32 (fmnist)", CONV(14, 14, 32, 32, 3, 1, 1, 1), 50);
  compare_q8("3x3 7x7x64->64 (fmnist)", CONV(7, 7, 64, 64, 3, 1, 1, 1), 50);
  compare_q8("3x3 56x56x64->64", CONV(56, 56, 64, 64, 3, 1, 1, 1), 10);
  compare_q8("3x3 28x28x128->128", CONV(28, 28, 128, 128, 3, 1, 1, 1), 20);
  compare_q8("3x3 14x14x256->256", CONV(14, 14, 256, 256, 3, 1, 1, 1), 20);
  compare_q8("3x3 7x7x448->448", CONV(7, 7, 448, 448, 3, 1, 1, 1), 20);
  compare_q8("dw 3x3 112x112x32", CONV(112, 112, 32, 32, 3, 1, 1, 32), 20);
  compare_q8("dw 3x3 56x56x144", CONV(56, 56, 144, 144, 3, 1, 1, 144), 30);
  compare_q8("dw 3x3/2 112x112x96", CONV(112, 112, 96, 96, 3, 2, 1, 96), 30);
  compare_q8("dw 3x3 14x14x576", CONV(14, 14, 576, 576, 3, 1, 1, 576), 30);
  compare_q8("dw 5x5 14x14x480", CONV(14, 14, 480, 480, 5, 1, 2, 480), 30);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "q8")) {
    q8_rows();
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "dw")) {
    depthwise();
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "resnet18")) {
    resnet18();
    return 0;
  }
  if (argc > 1 && !strcmp(argv[1], "mobilenet_v2")) {
    mobilenet_v2(argc > 2 && !strcmp(argv[2], "q8"));
    return 0;
  }
  if (argc > 2) {
    int a[8];
    for (int i = 0; i < 8; i++) a[i] = atoi(argv[i + 1]);
    bench("custom", CONV(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]), 50);
    return 0;
  }
  printf("kernel table %s\n", dyce__kernels_simd.name);
  /* 3x3 stride 1 with 8-128 input channels runs by Winograd (GFLOP/s
   * counted as direct multiply-adds); 256 channels run the direct GEMM. */
  bench("conv 3x3 56x56x64->64", CONV(56, 56, 64, 64, 3, 1, 1, 1), 30);
  bench("conv 3x3 14x14x256->256 direct", CONV(14, 14, 256, 256, 3, 1, 1, 1), 30);
  bench("conv 7x7/2 224x224x3->64", CONV(224, 224, 3, 64, 7, 2, 3, 1), 10);
  bench("conv 3x3 28x28x128->128", CONV(28, 28, 128, 128, 3, 1, 1, 1), 30);
  bench("conv 3x3 7x7x512->512", CONV(7, 7, 512, 512, 3, 1, 1, 1), 20);
  bench("conv 1x1 28x28x128->128", CONV(28, 28, 128, 128, 1, 1, 0, 1), 50);
  bench("conv 1x1 14x14x96->576", CONV(14, 14, 96, 576, 1, 1, 0, 1), 50);
  bench("dwconv 3x3 56x56x144", CONV(56, 56, 144, 144, 3, 1, 1, 144), 50);
  bench("dwconv 3x3/2 112x112x96", CONV(112, 112, 96, 96, 3, 2, 1, 96), 50);
  bench("dwconv 5x5 14x14x480", CONV(14, 14, 480, 480, 5, 1, 2, 480), 50);
  bench_activation("silu 1M floats", DYCE__ACT_SILU, 1 << 20);
  bench_activation("relu6 1M floats", DYCE__ACT_CLIP, 1 << 20);
  return 0;
}
