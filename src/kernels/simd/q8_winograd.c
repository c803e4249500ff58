/*
 * qs8-conv-3x3-winograd-f2: int8 3x3 stride-1 dense convolutions by
 * Winograd's F(2x2, 3x3) in integers, EXACT: every output has the same
 * bits as the direct int8 convolution (q8_conv.c's igemm, the reference).
 *
 * Each 2x2 block of outputs comes from a 4x4 input window d. In integers:
 *
 *   V  = B' (d - zp) B         B' = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   U' = G' g G''              G' = 2 G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2]
 *   M  = sum over input channels of V .* U'   (16 GEMMs, i16 x i16 -> i32)
 *   Y' = A' M A                A' = [1 1 1 0; 0 1 -1 -1]
 *
 * Y' = 4 * (the direct sum over the 3x3 taps and the input channels):
 * U' = 4 U with U = G g G' (Lavin & Gray), and every step is exact integer
 * arithmetic (no rounding, no division until the end). Y' >> 2 (an exact
 * division: Y' is a multiple of 4; >> of a negative int is an arithmetic
 * shift under GCC and clang) is the direct sum itself; the bias is added
 * after it and the requantization is the direct path's (dyce__vi_requant),
 * so the output bits are the direct path's.
 *
 * Ranges (checked by tests/c/test_q8_winograd.c at the limit):
 *   d - zp: an input minus its zero point, or 0 (padding, and channels a
 *     width level leaves out): in [a, a + 255] for some a in -255..0
 *     (int8 data, zp in -128..127); 0 is in every such box.
 *   V: each entry adds / subtracts 4 of those (B' and B have 0 / +-1 and
 *     two nonzeros per row): |V| <= 1020 (int16). Tighter: V[1][1] (all
 *     signs +) <= 1020, every other entry has two + and two - signs, so
 *     it is a sum of two differences within the box: |V| <= 510.
 *   U': |U'[i][j]| <= r_i * r_j * 127 with r = (2, 3, 3, 2) the rows' sums
 *     of |G'|: <= 1143 (int16), packed once at load.
 *   M, and every partial sum of it: <= C * max|V| * max|U'| per entry.
 *   Y' and every partial sum of the output transform: the sum of the 9
 *     |M| it adds, <= C * 127 * sum(r_i r_j |V|max) = C * 4728210, where
 *     C is the number of input channels summed. That fits int32 for C <=
 *     454 (DYCE__Q8_WINOGRAD_MAX_C bounds the packed input channels, so a
 *     width level's prefix is within it too); past it the direct path runs.
 *   i32x4.dot_i16x8_s: 2 * 1020 * 1143 per lane, far inside int32.
 * Nothing wraps, so no operation depends on modular arithmetic; the bias
 * add wraps exactly as the direct path's does (the loader's accumulation
 * check is the direct path's).
 *
 * The rule reads only the window's shape and packed channel counts, so a
 * band of output rows (threads) or a width level (a prefix of the input
 * and output channels: the GEMMs run the first round8(in_c) rows and the
 * first out_c columns of the same packed matrices; the transformed inputs
 * are 0 past in_c) runs the layout it was packed with. Any split of the
 * output rows gives the same bits: the result is exact whichever 2x2
 * blocks tile it.
 *
 * Packed: 16 matrices (e = 4 * row + column of U'), each in panels of 8
 * output channels, [ceil(oc / 8)][round8(packed_in_c) / 2][8][2] int16:
 * the channel pair (k, k + 1) of the 8 columns, 32 bytes, the operands of
 * two i32x4.dot_i16x8_s; rows past packed_in_c and columns past
 * packed_out_c are zeros.
 */
#include <string.h>

#include "q8.h"

#define TILES 16 /* 2x2 output blocks transformed and multiplied together */
#define MR 4     /* blocks per GEMM microkernel call */

typedef int16_t dyce__vh_mem __attribute__((vector_size(16), aligned(1), may_alias));

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }

int dyce__q8_winograd_applies(const dyce__window *g) {
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
         g->dh == 1 && g->dw == 1 && g->packed_groups == 1 &&
         g->packed_in_c >= DYCE__Q8_WINOGRAD_MIN_C &&
         g->packed_in_c <= DYCE__Q8_WINOGRAD_MAX_C;
}

/* int16 elements of one of the 16 matrices. */
static size_t matrix_elems(const dyce__window *g) {
  return (size_t)(g->packed_out_c + 7) / 8 * round8(g->packed_in_c) * 8;
}

size_t dyce__q8_winograd_packed_bytes(const dyce__window *g) {
  return dyce__q8_bytes(16, matrix_elems(g), sizeof(int16_t));
}

/* U' = G' g G'' per (output, input) channel pair, in integers. */
void dyce__q8_pack_winograd(const dyce__window *g, const int8_t *ohwi,
                            int16_t *dst) {
  const size_t ic = g->packed_in_c, oc = g->packed_out_c, k8 = round8(ic);
  const size_t me = matrix_elems(g);
  memset(dst, 0, 16 * me * sizeof(int16_t));
  for (size_t o = 0; o < oc; o++)
    for (size_t i = 0; i < ic; i++) {
      const int8_t *w = ohwi + o * 9 * ic + i;
      int32_t t[4][3], u[16];
      for (size_t kx = 0; kx < 3; kx++) { /* G' g */
        int32_t w0 = w[kx * ic], w1 = w[(3 + kx) * ic], w2 = w[(6 + kx) * ic];
        t[0][kx] = 2 * w0;
        t[1][kx] = w0 + w1 + w2;
        t[2][kx] = w0 - w1 + w2;
        t[3][kx] = 2 * w2;
      }
      for (size_t r = 0; r < 4; r++) { /* (G' g) G'' */
        u[4 * r + 0] = 2 * t[r][0];
        u[4 * r + 1] = t[r][0] + t[r][1] + t[r][2];
        u[4 * r + 2] = t[r][0] - t[r][1] + t[r][2];
        u[4 * r + 3] = 2 * t[r][2];
      }
      size_t at = (o / 8) * k8 * 8 + (i / 2) * 16 + (o % 8) * 2 + i % 2;
      for (size_t e = 0; e < 16; e++) dst[e * me + at] = (int16_t)u[e];
    }
}

/* Scratch: V[16][TILES / MR][round8(packed_in_c) / 2][MR][2] int16 (per
 * matrix, groups of MR tiles interleaved by channel pairs), then one
 * panel's products M[16][TILES][8] int32. */
static size_t v_elems(const dyce__window *g) {
  return 16 * TILES * round8(g->packed_in_c);
}

size_t dyce__q8_winograd_scratch_bytes(const dyce__window *g) {
  return v_elems(g) * sizeof(int16_t) + 16 * TILES * 8 * sizeof(int32_t);
}

static inline dyce__vh ld16(const int16_t *p) {
  return *(const dyce__vh_mem *)(const void *)p;
}
/* The 4 channel pairs of v (i32 lanes) to p, p + 8, p + 16, p + 24: one
 * tile's slots in the interleaved rows of gemm_4x8. */
static inline void st_pairs(int16_t *p, dyce__vh v) {
#if defined(__wasm_simd128__)
  wasm_v128_store32_lane(p, (v128_t)v, 0);
  wasm_v128_store32_lane(p + 8, (v128_t)v, 1);
  wasm_v128_store32_lane(p + 16, (v128_t)v, 2);
  wasm_v128_store32_lane(p + 24, (v128_t)v, 3);
#else
  for (size_t j = 0; j < 4; j++) memcpy(p + 8 * j, (const int16_t *)&v + 2 * j, 4);
#endif
}

/* 8 channels from c0 of a pixel (NULL: padding) minus zp; lanes past
 * in_c are 0. */
static inline dyce__vh pixel8(const int8_t *p, size_t c0, size_t in_c,
                              dyce__vh vzp, int8_t fill) {
  if (!p) return dyce__vh_splat(0);
  if (c0 + 8 <= in_c) return dyce__vh_load8(p + c0) - vzp;
  return dyce__vh_load8_partial(p + c0, in_c - c0, fill) - vzp;
}

/* V = B' (d - zp) B for the 4x4 input window at (iy0, ix0), every channel
 * up to round8(in_c), to the tile's slots at v (channel pair p at v + 8p,
 * the other 3 tiles of its group between); the 16 results go `stride`
 * int16 apart. */
static void input_tile(const dyce__window *g, const int8_t *in, int32_t zp,
                       long iy0, long ix0, int16_t *v, size_t stride) {
  const int8_t *p[4][4];
  for (long r = 0; r < 4; r++)
    for (long c = 0; c < 4; c++) {
      long iy = iy0 + r, ix = ix0 + c;
      int inside = iy >= 0 && iy < (long)g->in_h && ix >= 0 && ix < (long)g->in_w;
      p[r][c] = inside ? in + ((size_t)iy * g->in_w + (size_t)ix) * g->in_c : NULL;
    }
  const size_t ic = g->in_c, k8 = round8(ic);
  const dyce__vh vzp = dyce__vh_splat((int16_t)zp);
  for (size_t c0 = 0; c0 < k8; c0 += 8) {
    dyce__vh d[4][4];
    for (size_t r = 0; r < 4; r++)
      for (size_t c = 0; c < 4; c++)
        d[r][c] = pixel8(p[r][c], c0, ic, vzp, (int8_t)zp);
    for (size_t c = 0; c < 4; c++) { /* B' d: rows */
      dyce__vh a0 = d[0][c] - d[2][c], a1 = d[1][c] + d[2][c];
      dyce__vh a2 = d[2][c] - d[1][c], a3 = d[1][c] - d[3][c];
      d[0][c] = a0, d[1][c] = a1, d[2][c] = a2, d[3][c] = a3;
    }
    for (size_t r = 0; r < 4; r++) { /* (B' d) B: columns */
      int16_t *o = v + 4 * r * stride + 4 * c0;
      st_pairs(o, d[r][0] - d[r][2]);
      st_pairs(o + stride, d[r][1] + d[r][2]);
      st_pairs(o + 2 * stride, d[r][2] - d[r][1]);
      st_pairs(o + 3 * stride, d[r][1] - d[r][3]);
    }
  }
}

#define ROWS(X) X(0) X(1) X(2) X(3)
#define DECLARE_ROW(i) \
  dyce__vi acc##i##_0 = dyce__vi_splat(0), acc##i##_1 = dyce__vi_splat(0);
#define MADD_ROW(i)                                     \
  {                                                     \
    const dyce__vh s = dyce__vh_load_pair(a + 2 * (i)); \
    acc##i##_0 += dyce__vi_dot(s, w0);                  \
    acc##i##_1 += dyce__vi_dot(s, w1);                  \
  }
#define STORE_ROW(i)                                               \
  if ((i) < mr) {                                                  \
    *(dyce__vi_mem *)(void *)(m + (i) * 8) = acc##i##_0;           \
    *(dyce__vi_mem *)(void *)(m + (i) * 8 + 4) = acc##i##_1;       \
  }

/* M rows [mr][8] = 4 tiles' rows, interleaved by channel pairs (pair p
 * of tile i at a + 8p + 2i, k8 / 2 pairs), times one panel (k8 / 2 pairs
 * of 8 columns); rows past mr are computed, not stored. Two pointers, one
 * pair per iteration (DYCE__NO_UNROLL), and out of line: inlined into
 * the convolution (clang, then wasm-opt for a function called once),
 * V8 spilled the accumulators to the stack in every iteration. */
__attribute__((noinline)) static void gemm_4x8(size_t mr, size_t k8,
                                               const int16_t *a,
                                               const int16_t *w, int32_t *m) {
  ROWS(DECLARE_ROW)
  DYCE__NO_UNROLL
  for (size_t p = 0; p < k8 / 2; p++, a += 8, w += 16) {
    const dyce__vh w0 = ld16(w), w1 = ld16(w + 8);
    ROWS(MADD_ROW)
  }
  ROWS(STORE_ROW)
}

/* Y = (A' M A) >> 2 + bias, requantized, for the 2x2 output block at
 * (oy0, ox0) and output channels [n0, n0 + nc): the 16 products of the
 * block are `stride` int32 apart, 8 channels each. */
static void output_tile(const dyce__window *g, const int32_t *m,
                        size_t stride, dyce__vi b[2], dyce__vf mult[2],
                        const dyce__q8_stage *st, int8_t *out, size_t oy0,
                        size_t ox0, size_t n0, size_t nc) {
  const size_t oc = g->out_c;
  const size_t rows = g->out_h - oy0 < 2 ? 1 : 2, cols = g->out_w - ox0 < 2 ? 1 : 2;
  dyce__vi y[2][2][2];
  for (size_t h = 0; h < 2; h++) {
    dyce__vi s0[4], s1[4];
    for (size_t r = 0; r < 4; r++) { /* M A: per row */
      const int32_t *q = m + 4 * r * stride + 4 * h;
      dyce__vi m0 = *(const dyce__vi_mem *)(const void *)q;
      dyce__vi m1 = *(const dyce__vi_mem *)(const void *)(q + stride);
      dyce__vi m2 = *(const dyce__vi_mem *)(const void *)(q + 2 * stride);
      dyce__vi m3 = *(const dyce__vi_mem *)(const void *)(q + 3 * stride);
      s0[r] = m0 + m1 + m2;
      s1[r] = m1 - m2 - m3;
    }
    y[0][0][h] = ((s0[0] + s0[1] + s0[2]) >> 2) + b[h];
    y[0][1][h] = ((s1[0] + s1[1] + s1[2]) >> 2) + b[h];
    y[1][0][h] = ((s0[1] - s0[2] - s0[3]) >> 2) + b[h];
    y[1][1][h] = ((s1[1] - s1[2] - s1[3]) >> 2) + b[h];
  }
  int8_t *base = out + (oy0 * g->out_w + ox0) * oc + n0;
  for (size_t i = 0; i < rows; i++)
    for (size_t j = 0; j < cols; j++)
      dyce__vi_store8(base + (i * g->out_w + j) * oc,
                      dyce__vi_requant(y[i][j][0], mult[0], st),
                      dyce__vi_requant(y[i][j][1], mult[1], st), nc);
}

/* Per block of TILES 2x2 output blocks: the input transforms, then per
 * panel of 8 output channels the 16 GEMMs and the output transforms. */
void dyce__q8_conv_winograd(const dyce__window *g, const int8_t *in,
                            int32_t in_zp, const int16_t *packed,
                            const int32_t *bias, const dyce__q8_out *o,
                            int8_t *out, void *scratch) {
  const size_t vl = round8(g->in_c), me = matrix_elems(g);
  const size_t kp = round8(g->packed_in_c);
  int16_t *v = scratch;
  int32_t *m = (int32_t *)(void *)(v + v_elems(g));
  const dyce__q8_stage st = dyce__q8_stage_of(o->zp, o->qmin, o->qmax);
  const size_t tw = (g->out_w + 1) / 2, tiles = (g->out_h + 1) / 2 * tw;
  for (size_t t0 = 0; t0 < tiles; t0 += TILES) {
    const size_t nt = tiles - t0 < TILES ? tiles - t0 : TILES;
    /* Tiles to a multiple of MR (the last one again): the GEMM reads
     * whole groups of interleaved rows. */
    for (size_t t = 0; t < (nt + MR - 1) / MR * MR; t++) {
      size_t u = t0 + (t < nt ? t : nt - 1), ty = u / tw, tx = u % tw;
      input_tile(g, in, in_zp, (long)ty * 2 - (long)g->pad_t,
                 (long)tx * 2 - (long)g->pad_l,
                 v + t / MR * MR * vl + t % MR * 2, TILES * vl);
    }
    for (size_t n0 = 0; n0 < g->out_c; n0 += 8) {
      const size_t nc = g->out_c - n0 < 8 ? g->out_c - n0 : 8;
      const size_t n1 = nc > 4 ? nc - 4 : 0;
      const int16_t *panel = packed + (n0 / 8) * kp * 8;
      for (size_t e = 0; e < 16; e++) {
        size_t t = 0;
        for (; t + MR <= nt; t += MR)
          gemm_4x8(MR, vl, v + (e * TILES + t) * vl, panel + e * me,
                   m + (e * TILES + t) * 8);
        if (t < nt) /* a second call site: kept out of line (see gemm_4x8) */
          gemm_4x8(nt - t, vl, v + (e * TILES + t) * vl, panel + e * me,
                   m + (e * TILES + t) * 8);
      }
      dyce__vi b[2] = {dyce__vi_load_n(bias + n0, nc < 4 ? nc : 4),
                       dyce__vi_load_n(bias + n0 + 4, n1)};
      dyce__vf mult[2] = {
          dyce__vf_load_upto4(o->mult + n0, nc < 4 ? nc : 4),
          n1 ? dyce__vf_load_upto4(o->mult + n0 + 4, n1) : dyce__vf_zero()};
      for (size_t t = 0; t < nt; t++) {
        size_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
        output_tile(g, m + t * 8, TILES * 8, b, mult, &st, out, ty * 2,
                    tx * 2, n0, nc);
      }
    }
  }
}
