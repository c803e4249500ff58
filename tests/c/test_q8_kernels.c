/* Int8 kernel tests (docs/INT8.md): every kernel of DYCE__KERNELS_Q8 in
 * the SIMD table (this machine's ISA; the same sources are the WASM
 * kernels) against the reference table, bit-exact (memcmp), at edge sizes:
 * k = 1 and k not a multiple of the 8-step, n and out_c not multiples of
 * 8, zero points -128 / 127, saturation both ways and exact ties, qmin /
 * qmax of a fused ReLU / clip, strides, padding, dilation, depthwise 3x3 /
 * 5x5 / 7x7 (two weight passes) / others, groups, channel multipliers,
 * width-level prefixes, broadcasts, pools with and without padding
 * counted. The reference itself is checked against the spec's formulas
 * computed directly (int64 sums, rounding half to even by hand).
 * XNNPACK as a second oracle: test_q8_xnnpack.c. */
#include <string.h>

#include "test_q8.h"

static const dyce__kernels *S(void) { return &dyce__kernels_simd; }
static const dyce__kernels *R(void) { return &dyce__kernels_ref; }

/* The spec's convolution, directly from the OHWI weights (packed sizes). */
static void spec_conv(const dyce__window *g, const int8_t *in, int32_t zp,
                      const int8_t *ohwi, const int32_t *bias,
                      const dyce__q8_out *o, int8_t *out) {
  int dw = g->packed_groups == g->packed_in_c;
  size_t cin_g = g->in_c / g->groups, cout_g = g->out_c / g->groups;
  size_t pin_g = g->packed_in_c / g->packed_groups;
  size_t pout_g = g->packed_out_c / g->packed_groups;
  for (size_t oy = 0; oy < g->out_h; oy++)
    for (size_t ox = 0; ox < g->out_w; ox++)
      for (size_t oc = 0; oc < g->out_c; oc++) {
        size_t grp = oc / cout_g;
        size_t row = dw ? oc : grp * pout_g + oc % cout_g;
        size_t c0 = dw ? oc / (g->out_c / g->in_c) : grp * cin_g;
        size_t n = dw ? 1 : cin_g;
        int64_t acc = bias[oc];
        for (size_t ky = 0; ky < g->kh; ky++)
          for (size_t kx = 0; kx < g->kw; kx++)
            for (size_t i = 0; i < n; i++) {
              long iy = (long)(oy * g->sh + ky * g->dh) - (long)g->pad_t;
              long ix = (long)(ox * g->sw + kx * g->dw) - (long)g->pad_l;
              int inside = iy >= 0 && iy < (long)g->in_h && ix >= 0 &&
                           ix < (long)g->in_w;
              int32_t x = inside ? in[((size_t)iy * g->in_w + ix) * g->in_c + c0 + i]
                                 : zp; /* the padded input is the real 0 */
              acc += (int64_t)(x - zp) *
                     ohwi[((row * g->kh + ky) * g->kw + kx) * (dw ? 1 : pin_g) + i];
            }
        CHECK(acc >= INT32_MIN && acc <= INT32_MAX);
        out[(oy * g->out_w + ox) * g->out_c + oc] =
            q8_spec_out((float)(int32_t)acc * o->mult[oc], o->zp, o->qmin, o->qmax);
      }
}

static void conv_run(q8_conv_spec s) {
  dyce__window full = q8_window(&s, 0), g = q8_window(&s, 1);
  size_t k = (size_t)s.kh * s.kw * (s.cin / s.groups);
  size_t nw = (size_t)s.cout * k, nx = (size_t)s.h * s.w * g.in_c;
  size_t ny = (size_t)g.out_h * g.out_w * g.out_c;
  int8_t *x = q8_rand(nx, -128, 127), *w = q8_rand(nw, -127, 127);
  int32_t *bias = malloc(s.cout * sizeof(int32_t));
  for (size_t i = 0; i < s.cout; i++) bias[i] = (int32_t)(test_rand() % 8001u) - 4000;
  float *mult = q8_mults(s.cout, k);
  dyce__q8_out o = {mult, s.out_zp, s.qmin, s.qmax};
  void *ps = malloc(S()->q8_conv2d_packed_bytes(&full) + 1);
  void *pr = malloc(R()->q8_conv2d_packed_bytes(&full) + 1);
  size_t sb = S()->q8_conv2d_scratch_bytes(&full);
  unsigned char *scratch = malloc(sb + 1);
  memset(scratch, 0xA5, sb); /* kernels must not rely on zeroed scratch */
  int8_t *y = malloc(ny + 1), *want = malloc(ny + 1), *spec = malloc(ny + 1);
  S()->pack_q8_conv2d(&full, w, ps);
  R()->pack_q8_conv2d(&full, w, pr);
  S()->q8_conv2d(&g, x, s.in_zp, ps, bias, &o, y, sb ? scratch : NULL);
  R()->q8_conv2d(&g, x, s.in_zp, pr, bias, &o, want, NULL);
  spec_conv(&g, x, s.in_zp, w, bias, &o, spec);
  CHECK_MSG(memcmp(y, want, ny) == 0,
            "simd != ref: %ux%ux%u->%u g%u k%ux%u s%u p%u d%u level %u->%u "
            "zp %d/%d q[%d,%d]", s.h, s.w, s.cin, s.cout, s.groups, s.kh, s.kw,
            s.stride, s.pad, s.dil, s.act_in, s.act_out, s.in_zp, s.out_zp,
            s.qmin, s.qmax);
  CHECK_MSG(memcmp(want, spec, ny) == 0, "ref != spec: %ux%ux%u->%u g%u k%ux%u",
            s.h, s.w, s.cin, s.cout, s.groups, s.kh, s.kw);
  free(x); free(w); free(bias); free(mult); free(ps); free(pr); free(scratch);
  free(y); free(want); free(spec);
}

static q8_conv_spec conv(uint32_t h, uint32_t w, uint32_t cin, uint32_t cout,
                         uint32_t groups, uint32_t kh, uint32_t kw,
                         uint32_t stride, uint32_t pad, uint32_t dil) {
  q8_conv_spec s = {h, w, cin, cout, groups, kh, kw, stride, pad, dil,
                    0, 0, 3, -5, -128, 127};
  return s;
}

/* Zero points and output ranges cycled over the cases. */
static const int32_t ZPS[][4] = {/* in_zp, out_zp, qmin, qmax */
    {3, -5, -128, 127}, {-128, -128, -128, 127}, {127, 127, -128, 127},
    {-128, 127, -128, 127}, {127, -128, -128, 127},
    {-7, -20, -20, 127},  /* fused ReLU: qmin = zp */
    {0, 10, -30, 60}};    /* fused clip */
#define N_ZPS (sizeof ZPS / sizeof ZPS[0])

static void run_zps(q8_conv_spec s, size_t i) {
  const int32_t *z = ZPS[i % N_ZPS];
  s.in_zp = z[0], s.out_zp = z[1], s.qmin = z[2], s.qmax = z[3];
  conv_run(s);
}

static void q8_conv_dense(void) {
  static const uint32_t cins[] = {1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33};
  static const uint32_t couts[] = {1, 7, 8, 9, 24};
  size_t i = 0;
  for (size_t a = 0; a < sizeof cins / sizeof cins[0]; a++)
    for (size_t b = 0; b < sizeof couts / sizeof couts[0]; b++, i++) {
      run_zps(conv(1, 1, cins[a], couts[b], 1, 1, 1, 1, 0, 1), i);
      run_zps(conv(3, 5, cins[a], couts[b], 1, 1, 1, 1, 0, 1), i + 1);
      run_zps(conv(5, 4, cins[a], couts[b], 1, 1, 1, 2, 1, 1), i + 2);
      run_zps(conv(5, 7, cins[a], couts[b], 1, 3, 3, 1, 1, 1), i + 3);
      run_zps(conv(7, 5, cins[a], couts[b], 1, 3, 3, 2, 1, 1), i + 4);
    }
  for (size_t z = 0; z < N_ZPS; z++) {
    run_zps(conv(9, 9, 5, 11, 1, 3, 3, 1, 2, 2), z);   /* dilation */
    run_zps(conv(11, 11, 6, 10, 1, 5, 5, 2, 0, 1), z); /* no padding */
    run_zps(conv(6, 9, 4, 12, 1, 1, 3, 1, 1, 1), z);   /* 1x3 */
    run_zps(conv(9, 6, 4, 12, 1, 3, 1, 1, 1, 1), z);   /* 3x1 */
    run_zps(conv(15, 13, 3, 16, 1, 7, 7, 2, 3, 1), z); /* stem */
    run_zps(conv(6, 6, 64, 40, 1, 3, 3, 1, 1, 1), z);
    run_zps(conv(4, 4, 300, 19, 1, 1, 1, 1, 0, 1), z); /* long k */
  }
}

static void q8_conv_depthwise(void) {
  static const uint32_t chans[] = {1, 3, 8, 13, 16, 24};
  static const uint32_t ks[][2] = {{3, 3}, {5, 5}, {7, 7}, {2, 2}, {1, 1},
                                   {3, 5}, {1, 4}};
  size_t i = 0;
  for (size_t a = 0; a < sizeof chans / sizeof chans[0]; a++)
    for (size_t b = 0; b < sizeof ks / sizeof ks[0]; b++, i++) {
      uint32_t c = chans[a], kh = ks[b][0], kw = ks[b][1];
      run_zps(conv(9, 11, c, c, c, kh, kw, 1, kh / 2, 1), i);
      run_zps(conv(10, 9, c, c, c, kh, kw, 2, kh / 2, 1), i + 1);
      run_zps(conv(12, 12, c, c, c, kh, kw, 1, kh - 1, 2), i + 2);
      run_zps(conv(kh + 1, kw, c, c, c, kh, kw, 1, 0, 1), i + 3);
    }
  /* Windows larger than the input (no interior column), wide rows. */
  run_zps(conv(2, 3, 16, 16, 16, 5, 5, 1, 2, 1), 0);
  run_zps(conv(3, 40, 24, 24, 24, 5, 5, 1, 2, 1), 1);
  run_zps(conv(5, 33, 40, 40, 40, 3, 3, 1, 1, 1), 2);
  /* 3x3 at stride 1 and 2 by widened input rows (q8_dwconv_rows.c's
   * dw3): output widths 1-9 (pixels 4 at a time, then one at a time),
   * even and odd input widths, no padding, padding wider than the input,
   * blocks of 1-7 channels left. */
  for (size_t z = 0; z < N_ZPS; z++) {
    static const uint32_t widths[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15};
    static const uint32_t cs[] = {4, 5, 12, 16, 21};
    for (size_t a = 0; a < sizeof widths / sizeof widths[0]; a++) {
      uint32_t c = cs[(a + z) % 5], w = widths[a];
      run_zps(conv(5, w, c, c, c, 3, 3, 1, 1, 1), z + a);
      run_zps(conv(6, w, c, c, c, 3, 3, 2, 1, 1), z + a + 1);
      if (w >= 3) run_zps(conv(4, w, c, c, c, 3, 3, 1 + a % 2, 0, 1), z + a + 2);
    }
    run_zps(conv(2, 2, 8, 8, 8, 3, 3, 1, 2, 1), z);
    run_zps(conv(3, 2, 13, 13, 13, 3, 3, 2, 2, 1), z + 1);
  }
  /* Over 25 weight pairs: passes of 26 taps with the sums kept between
   * them (q8_dwconv.c); 11x3 and 3x11 still by rows. */
  for (size_t z = 0; z < N_ZPS; z++) {
    run_zps(conv(12, 11, 13, 13, 13, 9, 9, 1, 4, 1), z);
    run_zps(conv(14, 13, 24, 24, 24, 8, 8, 2, 3, 1), z);
    run_zps(conv(9, 30, 8, 8, 8, 3, 11, 1, 5, 2), z);
    run_zps(conv(30, 9, 9, 9, 9, 11, 3, 2, 5, 1), z);
  }
}

static void q8_conv_grouped_and_levels(void) {
  for (size_t z = 0; z < N_ZPS; z++) {
    run_zps(conv(6, 7, 8, 6, 2, 3, 3, 1, 1, 1), z);  /* grouped */
    run_zps(conv(6, 7, 4, 8, 4, 3, 3, 2, 1, 1), z);  /* channel multiplier */
    /* A GEMM per group: RegNet's group width 8, ResNeXt's 4, an odd
     * width with two panels per group, 1x1 (ShuffleNet v1), dilation. */
    run_zps(conv(7, 9, 32, 32, 4, 3, 3, 1, 1, 1), z);
    run_zps(conv(8, 7, 32, 32, 8, 3, 3, 2, 1, 1), z);
    run_zps(conv(5, 6, 9, 27, 3, 3, 3, 1, 1, 1), z);
    run_zps(conv(4, 5, 24, 36, 3, 1, 1, 1, 0, 1), z);
    run_zps(conv(9, 9, 12, 12, 2, 3, 3, 1, 2, 2), z);
    q8_conv_spec s = conv(5, 6, 24, 32, 1, 1, 1, 1, 0, 1);
    s.act_in = 13, s.act_out = 21; /* 1x1 prefix */
    run_zps(s, z);
    s = conv(5, 7, 17, 11, 1, 1, 1, 1, 0, 1);
    s.act_in = 12, s.act_out = 9; /* 1x1 prefix, odd packed k */
    run_zps(s, z);
    s.act_in = 7, s.act_out = 11; /* odd k inside an odd packed k */
    run_zps(s, z);
    s = conv(6, 5, 16, 16, 1, 3, 3, 1, 1, 1);
    s.act_in = 9, s.act_out = 10; /* 3x3 prefix */
    run_zps(s, z);
    s = conv(7, 6, 17, 9, 1, 3, 3, 2, 1, 1);
    s.act_in = 16, s.act_out = 3; /* odd packed k: lone last rows */
    run_zps(s, z);
    s = conv(7, 8, 24, 24, 24, 3, 3, 1, 1, 1);
    s.act_in = s.act_out = 13; /* depthwise prefix */
    run_zps(s, z);
    s = conv(7, 8, 16, 16, 16, 5, 5, 2, 2, 1);
    s.act_in = s.act_out = 1; /* depthwise weights, one channel: groups 1 */
    run_zps(s, z);
  }
}

static void fc_run(size_t k, size_t k_packed, size_t n, size_t n_packed,
                   size_t zi) {
  const int32_t *z = ZPS[zi % N_ZPS];
  int8_t *x = q8_rand(k, -128, 127), *w = q8_rand(k_packed * n_packed, -127, 127);
  int32_t *bias = malloc(n_packed * sizeof(int32_t));
  for (size_t i = 0; i < n_packed; i++) bias[i] = (int32_t)(test_rand() % 20001u) - 10000;
  float *mult = q8_mults(n_packed, k);
  dyce__q8_out o = {mult, z[1], z[2], z[3]};
  void *ps = malloc(S()->q8_fc_packed_bytes(k_packed, n_packed));
  void *pr = malloc(R()->q8_fc_packed_bytes(k_packed, n_packed));
  S()->pack_q8_fc(k_packed, n_packed, w, ps);
  R()->pack_q8_fc(k_packed, n_packed, w, pr);
  int8_t *y = malloc(n), *want = malloc(n), *spec = malloc(n);
  S()->q8_fully_connected(k, k_packed, n, x, z[0], ps, bias, &o, y);
  R()->q8_fully_connected(k, k_packed, n, x, z[0], pr, bias, &o, want);
  for (size_t j = 0; j < n; j++) {
    int64_t acc = bias[j];
    for (size_t i = 0; i < k; i++) acc += (int64_t)(x[i] - z[0]) * w[j * k_packed + i];
    spec[j] = q8_spec_out((float)(int32_t)acc * mult[j], z[1], z[2], z[3]);
  }
  CHECK_MSG(memcmp(y, want, n) == 0, "fc simd != ref: k %zu/%zu n %zu/%zu",
            k, k_packed, n, n_packed);
  CHECK_MSG(memcmp(want, spec, n) == 0, "fc ref != spec: k %zu n %zu", k, n);
  free(x); free(w); free(bias); free(mult); free(ps); free(pr);
  free(y); free(want); free(spec);
}

static void q8_fc(void) {
  static const size_t ks[] = {1, 2, 7, 8, 9, 15, 16, 33, 256, 1281};
  static const size_t ns[] = {1, 7, 8, 9, 100};
  size_t i = 0;
  for (size_t a = 0; a < sizeof ks / sizeof ks[0]; a++)
    for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++, i++) {
      fc_run(ks[a], ks[a], ns[b], ns[b], i);
      fc_run(ks[a], ks[a] + 5, ns[b], ns[b] + 3, i + 1); /* a width level */
    }
}

/* Every table serves every int8 op. */
#define CHECK_PRESENT(p, ret, field, params) \
  CHECK_MSG(k->field != NULL, "%s has no %s", k->name, #field);
static void q8_tables_complete(void) {
  const dyce__kernels *tables[] = {
    &dyce__kernels_ref, &dyce__kernels_simd,
#if defined(DYCE_XNNPACK) || defined(DYCE_XNNPACK_ORACLE)
    &dyce__kernels_xnnpack,
#endif
  };
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    const dyce__kernels *k = tables[t];
    DYCE__KERNELS_Q8(CHECK_PRESENT, _)
  }
}
#undef CHECK_PRESENT

const test_case q8_tests[] = {
    {"q8", "tables_complete", q8_tables_complete},
    {"q8", "conv_dense", q8_conv_dense},
    {"q8", "conv_depthwise", q8_conv_depthwise},
    {"q8", "conv_grouped_and_levels", q8_conv_grouped_and_levels},
    {"q8", "winograd", q8_test_winograd},
    {"q8", "fc", q8_fc},
    {"q8", "binary", q8_test_binary},
    {"q8", "pools", q8_test_pools},
    {"q8", "lut_quantize_moves", q8_test_lut_quantize_moves},
#if defined(DYCE_XNNPACK) || defined(DYCE_XNNPACK_ORACLE)
    {"q8", "xnnpack_conv", q8_test_xnnpack_conv},
    {"q8", "xnnpack_fc", q8_test_xnnpack_fc},
#endif
    {0}};
