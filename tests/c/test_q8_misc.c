/* Int8 kernel tests besides convolution (test_q8_kernels.c has the
 * overview): add / mul with every broadcast, pools, the table activation,
 * quantize / dequantize and the data moves. SIMD against the reference
 * bit-exact, the reference against the spec's formulas. */
#include <string.h>

#include "test_q8.h"

static const dyce__kernels *S(void) { return &dyce__kernels_simd; }
static const dyce__kernels *R(void) { return &dyce__kernels_ref; }

static void binary_run(dyce__op op, size_t n, size_t c, size_t b_count,
                       const dyce__q8_binary *q) {
  int8_t *a = q8_rand(n, -128, 127), *b = q8_rand(b_count, -128, 127);
  if (!a || !b) return;
  int8_t *y = malloc(n), *want = malloc(n), *spec = malloc(n);
  S()->q8_binary(op, n, c, a, b, b_count, q, y);
  R()->q8_binary(op, n, c, a, b, b_count, q, want);
  for (size_t i = 0; i < n; i++) {
    int32_t bv = b_count == n ? b[i] : (b_count == 1 ? b[0] : b[i % c]);
    float v;
    if (op == DYCE__OP_ADD) {
      float fa = (float)(a[i] - q->zp_a) * q->ma;
      float fb = (float)(bv - q->zp_b) * q->mb;
      v = fa + fb;
    } else {
      v = (float)((a[i] - q->zp_a) * (bv - q->zp_b)) * q->ma;
    }
    spec[i] = q8_spec_out(v, q->zp, q->qmin, q->qmax);
  }
  CHECK_MSG(memcmp(y, want, n) == 0, "binary %d simd != ref: n %zu c %zu b %zu "
            "zp %d %d %d m %g %g", (int)op, n, c, b_count, q->zp_a, q->zp_b,
            q->zp, (double)q->ma, (double)q->mb);
  CHECK_MSG(memcmp(want, spec, n) == 0, "binary %d ref != spec: n %zu b %zu",
            (int)op, n, b_count);
  free(a); free(b); free(y); free(want); free(spec);
}

void q8_test_binary(void) {
  static const dyce__q8_binary qs[] = {
      {0, 0, 0.5f, 0.25f, 0, -128, 127},      /* exact ties */
      {-128, 127, 0.73f, 1.31f, -128, -128, 127},
      {127, -128, 2.9f, 0.011f, 127, -128, 127}, /* saturates both ways */
      {5, -9, 0.4f, 0.6f, -20, -20, 127},     /* fused ReLU */
      {-3, 4, 0.0071f, 0.0093f, 10, -30, 60}, /* mul-sized, clip */
  };
  static const size_t cs[] = {1, 3, 8, 12, 17};
  static const size_t pixels[] = {1, 2, 7};
  for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++)
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
      for (size_t pi = 0; pi < sizeof pixels / sizeof pixels[0]; pi++) {
        size_t c = cs[ci], n = c * pixels[pi];
        for (int op = 0; op < 2; op++) {
          dyce__op o = op ? DYCE__OP_MUL : DYCE__OP_ADD;
          binary_run(o, n, c, n, &qs[qi]);
          binary_run(o, n, c, c, &qs[qi]);
          binary_run(o, n, c, 1, &qs[qi]);
        }
      }
}

static uint32_t pool_out(uint32_t in, uint32_t k, uint32_t s, uint32_t p) {
  return (in + 2 * p - k) / s + 1;
}

static void pool_run(uint32_t h, uint32_t w, uint32_t c, uint32_t k,
                     uint32_t s, uint32_t p, const dyce__q8_pool *q) {
  dyce__window g = {.in_h = h, .in_w = w, .in_c = c, .out_c = c, .kh = k,
                    .kw = k, .sh = s, .sw = s, .dh = 1, .dw = 1, .pad_t = p,
                    .pad_l = p, .groups = c, .packed_in_c = c,
                    .packed_out_c = c, .packed_groups = c};
  g.out_h = pool_out(h, k, s, p), g.out_w = pool_out(w, k, s, p);
  size_t ny = (size_t)g.out_h * g.out_w * c;
  int8_t *x = q8_rand((size_t)h * w * c, -128, 127);
  int8_t *y = malloc(ny), *want = malloc(ny), *spec = malloc(ny);
  for (int mode = 0; mode < 3; mode++) { /* max, avg, avg counting padding */
    if (mode == 0) {
      S()->q8_max_pool(&g, x, q->qmin, q->qmax, y);
      R()->q8_max_pool(&g, x, q->qmin, q->qmax, want);
    } else {
      S()->q8_avg_pool(&g, mode == 2, x, q, y);
      R()->q8_avg_pool(&g, mode == 2, x, q, want);
    }
    for (size_t oy = 0; oy < g.out_h; oy++)
      for (size_t ox = 0; ox < g.out_w; ox++)
        for (size_t ch = 0; ch < c; ch++) {
          int32_t m = -128, acc = 0, cells = 0;
          for (size_t ky = 0; ky < k; ky++)
            for (size_t kx = 0; kx < k; kx++) {
              long iy = (long)(oy * s + ky) - (long)p, ix = (long)(ox * s + kx) - (long)p;
              if (iy < 0 || iy >= (long)h || ix < 0 || ix >= (long)w) continue;
              int32_t v = x[((size_t)iy * w + ix) * c + ch];
              m = v > m ? v : m, acc += v - q->in_zp, cells++;
            }
          int8_t *o = spec + (oy * g.out_w + ox) * c + ch;
          if (mode == 0) {
            *o = (int8_t)(m < q->qmin ? q->qmin : (m > q->qmax ? q->qmax : m));
          } else {
            float mult = q->ratio / (float)(mode == 2 ? (int32_t)(k * k) : cells);
            *o = q8_spec_out((float)acc * mult, q->zp, q->qmin, q->qmax);
          }
        }
    CHECK_MSG(memcmp(y, want, ny) == 0, "pool %d simd != ref: %ux%ux%u k%u s%u p%u",
              mode, h, w, c, k, s, p);
    CHECK_MSG(memcmp(want, spec, ny) == 0, "pool %d ref != spec: %ux%ux%u k%u s%u p%u",
              mode, h, w, c, k, s, p);
  }
  free(x); free(y); free(want); free(spec);
}

static void global_run(size_t hw, size_t c, const dyce__q8_pool *q) {
  int8_t *x = q8_rand(hw * c, -128, 127);
  int8_t y[64], want[64], spec[64];
  for (int mode = 0; mode < 2; mode++) {
    if (mode == 0) {
      S()->q8_global_max_pool(hw, c, x, q->qmin, q->qmax, y);
      R()->q8_global_max_pool(hw, c, x, q->qmin, q->qmax, want);
    } else {
      S()->q8_global_avg_pool(hw, c, x, q, y);
      R()->q8_global_avg_pool(hw, c, x, q, want);
    }
    for (size_t ch = 0; ch < c; ch++) {
      int32_t m = -128, acc = 0;
      for (size_t i = 0; i < hw; i++) {
        int32_t v = x[i * c + ch];
        m = v > m ? v : m, acc += v - q->in_zp;
      }
      spec[ch] = mode == 0 ? (int8_t)(m < q->qmin ? q->qmin : (m > q->qmax ? q->qmax : m))
                           : q8_spec_out((float)acc * (q->ratio / (float)hw), q->zp,
                                         q->qmin, q->qmax);
    }
    CHECK_MSG(memcmp(y, want, c) == 0, "global pool %d simd != ref: %zu x %zu", mode, hw, c);
    CHECK_MSG(memcmp(want, spec, c) == 0, "global pool %d ref != spec: %zu x %zu", mode, hw, c);
  }
  free(x);
}

void q8_test_pools(void) {
  static const dyce__q8_pool qs[] = {
      {0, 1.0f, 0, -128, 127},       /* ratio 1: ties at count 2, 4 */
      {-128, 0.77f, -128, -128, 127},
      {127, 1.9f, 127, -128, 127},   /* saturates */
      {-5, 1.0f, -20, -20, 127},     /* fused ReLU */
      {3, 0.5f, 10, -30, 60}};       /* clip */
  static const uint32_t cs[] = {1, 7, 8, 15, 16, 17, 40};
  for (size_t qi = 0; qi < sizeof qs / sizeof qs[0]; qi++)
    for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++) {
      uint32_t c = cs[ci];
      pool_run(7, 6, c, 3, 2, 1, &qs[qi]);
      pool_run(6, 6, c, 2, 2, 0, &qs[qi]);
      pool_run(5, 7, c, 3, 1, 1, &qs[qi]);
      pool_run(4, 5, c, 5, 1, 2, &qs[qi]);
      global_run(1, c, &qs[qi]);
      global_run(7, c, &qs[qi]);
      global_run(49, c, &qs[qi]);
    }
}

void q8_test_lut_quantize_moves(void) {
  int8_t *table = q8_rand(256, -128, 127), *x = q8_rand(333, -128, 127);
  int8_t y[333], want[333], spec[333];
  for (size_t n = 0; n <= 333; n += n < 20 ? 1 : 97) {
    S()->q8_lut(n, x, table, y);
    R()->q8_lut(n, x, table, want);
    for (size_t i = 0; i < n; i++) spec[i] = table[x[i] + 128];
    CHECK_MSG(memcmp(y, want, n) == 0 && memcmp(want, spec, n) == 0, "lut n %zu", n);
  }
  float f[333], fy[333], fwant[333];
  for (size_t i = 0; i < 333; i++) f[i] = test_randf() * 200.0f;
  for (size_t i = 0; i < 40; i++) f[i] = (float)((int)i - 20) + 0.5f; /* ties */
  f[40] = 1e30f, f[41] = -1e30f, f[42] = 128.5f, f[43] = -129.5f;
  static const float invs[] = {1.0f, 0.37f, 2.5f};
  static const int32_t zps[] = {-128, 0, 127, 9};
  for (size_t a = 0; a < 3; a++)
    for (size_t b = 0; b < 4; b++)
      for (size_t n = 1; n <= 333; n += n < 20 ? 1 : 104) {
        S()->quantize(n, f, invs[a], zps[b], y);
        R()->quantize(n, f, invs[a], zps[b], want);
        for (size_t i = 0; i < n; i++) spec[i] = q8_spec_out(f[i] * invs[a], zps[b], -128, 127);
        CHECK_MSG(memcmp(y, want, n) == 0, "quantize simd != ref: n %zu inv %g zp %d",
                  n, (double)invs[a], zps[b]);
        CHECK_MSG(memcmp(want, spec, n) == 0, "quantize ref != spec: n %zu", n);
        S()->dequantize(n, x, invs[a], zps[b], fy);
        R()->dequantize(n, x, invs[a], zps[b], fwant);
        int ok = memcmp(fy, fwant, n * sizeof(float)) == 0;
        for (size_t i = 0; i < n; i++) ok &= fwant[i] == (float)(x[i] - zps[b]) * invs[a];
        CHECK_MSG(ok, "dequantize: n %zu", n);
      }
  /* Data moves: concat of 1, 8 and 17 channels over 5 pixels; flatten. */
  size_t cs[3] = {1, 8, 17};
  const int8_t *ins[3] = {x, x + 5, x + 45};
  S()->q8_concat_channels(5, 3, cs, ins, y);
  R()->q8_concat_channels(5, 3, cs, ins, want);
  size_t at = 0;
  for (size_t p = 0; p < 5; p++)
    for (size_t t = 0; t < 3; t++)
      for (size_t k = 0; k < cs[t]; k++) spec[at++] = ins[t][p * cs[t] + k];
  CHECK(memcmp(y, want, at) == 0 && memcmp(want, spec, at) == 0);
  S()->q8_flatten_chw(3, 5, 7, x, y);
  R()->q8_flatten_chw(3, 5, 7, x, want);
  for (size_t p = 0; p < 15; p++)
    for (size_t k = 0; k < 7; k++) spec[k * 15 + p] = x[p * 7 + k];
  CHECK(memcmp(y, want, 105) == 0 && memcmp(want, spec, 105) == 0);
  free(table); free(x);
}
