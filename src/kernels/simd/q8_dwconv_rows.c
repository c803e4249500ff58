/*
 * qs8-dwconv by output rows for windows of up to DYCE__Q8_DW_ROW_PAIRS
 * weight pairs (3x3, 5x5, 7x7, ...): the taps of kernel rows 2i and
 * 2i + 1 pair vertically (same column), an odd last row pairs its
 * columns, so a pixel's inputs are read in place, without a pointer per
 * tap (q8_dwconv.c's generic pass), and 8 channels of a pixel cost one
 * widening load per tap, a zip per two taps and one dot per 4 channels
 * and two taps. The weights of every block are re-paired from the packed
 * layout once per call, into scratch (re-pairing them per output row cost
 * a third of the time at 14x14). Columns outside the input read the
 * zero point (edge pixels only); rows outside read a row of zero points.
 * Same start (bias - zp * sum of weights) as q8_dwconv.c.
 * 3x3 windows at stride 1 or 2 without dilation take dyce__q8_dw3 (at
 * the end): their input rows widened once into horizontal tap pairs.
 */
#include <limits.h>
#include <string.h>

#include "q8.h"

#define CR 8
#define MAXK 16 /* kernel rows held; the pair limit binds first */

typedef uint16_t dyce__vuh __attribute__((vector_size(16)));

typedef struct wpair {
  dyce__vh lo, hi;
} wpair;

size_t dyce__q8_dw_row_pairs(uint32_t kh, uint32_t kw) {
  return (size_t)(kh / 2) * kw + (size_t)(kh % 2) * ((kw + 1) / 2);
}

/* The 8 weights of tap t from the packed pairs (q8.h), as i16. */
static dyce__vh tap_weights(const int8_t *wb, size_t t, size_t taps) {
  if (t % 2 == 0 && t + 1 == taps) return dyce__vh_load8(wb + t * CR);
  dyce__vh v = (dyce__vh)dyce__vb_load(wb + (t - t % 2) * CR);
  /* Byte 2j (tap t even) or 2j + 1 (odd) of each i16 lane, sign-extended
   * (the left shift unsigned: no signed overflow). */
  return t % 2 ? v >> 8 : (dyce__vh)((dyce__vuh)v << 8) >> 8;
}

static wpair zip(dyce__vh a, dyce__vh b) {
  wpair p = {dyce__vh_zip_lo(a, b), dyce__vh_zip_hi(a, b)};
  return p;
}

/* The pairs in the order pixel() uses them. */
static void pair_weights(const int8_t *wb, size_t kh, size_t kw, wpair *w) {
  size_t taps = kh * kw;
  const dyce__vh z = dyce__vh_splat(0);
  for (size_t ky = 0; ky + 1 < kh; ky += 2)
    for (size_t kx = 0; kx < kw; kx++)
      *w++ = zip(tap_weights(wb, ky * kw + kx, taps),
                 tap_weights(wb, (ky + 1) * kw + kx, taps));
  if (kh % 2)
    for (size_t kx = 0; kx < kw; kx += 2) {
      size_t t = (kh - 1) * kw + kx;
      *w++ = zip(tap_weights(wb, t, taps),
                 kx + 1 < kw ? tap_weights(wb, t + 1, taps) : z);
    }
}

typedef struct rows_pass {
  const int8_t *row[MAXK]; /* kernel rows at channel c0 (zero-point rows outside) */
  size_t c, dw, lanes;
  long in_w;
  dyce__vh vzp;
} rows_pass;

static inline __attribute__((always_inline)) dyce__vh ld(
    const rows_pass *p, size_t ky, long ix, int check, size_t lanes) {
  if (check && (ix < 0 || ix >= p->in_w)) return p->vzp;
  const int8_t *q = p->row[ky] + (size_t)ix * p->c;
  return lanes == CR ? dyce__vh_load8(q) : dyce__vh_load8_partial(q, lanes, 0);
}

#define MADD(a, b, wp)                                  \
  s0 += dyce__vi_dot(dyce__vh_zip_lo(a, b), (wp).lo);   \
  s1 += dyce__vi_dot(dyce__vh_zip_hi(a, b), (wp).hi);

/* One output pixel whose first column is ix0 (check: some columns may be
 * outside). Inlined with constant kh, kw, lanes for 3x3 and 5x5. */
static inline __attribute__((always_inline)) void pixel(
    const rows_pass *p, const wpair *w, size_t kh, size_t kw, long ix0,
    int check, size_t lanes, dyce__vi *a0, dyce__vi *a1) {
  dyce__vi s0 = *a0, s1 = *a1;
  const long d = (long)p->dw;
  for (size_t ky = 0; ky + 1 < kh; ky += 2)
    for (size_t kx = 0; kx < kw; kx++, w++) {
      dyce__vh a = ld(p, ky, ix0 + (long)kx * d, check, lanes);
      dyce__vh b = ld(p, ky + 1, ix0 + (long)kx * d, check, lanes);
      MADD(a, b, *w)
    }
  if (kh % 2)
    for (size_t kx = 0; kx < kw; kx += 2, w++) {
      dyce__vh a = ld(p, kh - 1, ix0 + (long)kx * d, check, lanes);
      dyce__vh b = kx + 1 < kw ? ld(p, kh - 1, ix0 + (long)(kx + 1) * d, check, lanes) : a;
      MADD(a, b, *w)
    }
  *a0 = s0, *a1 = s1;
}

typedef struct row_out {
  const dyce__window *g;
  dyce__vi init0, init1;
  dyce__vf m0, m1;
  const dyce__q8_stage *st;
  size_t lo, hi;
  int8_t *out;
} row_out;

static inline __attribute__((always_inline)) void run_row(
    const rows_pass *p, const row_out *r, const wpair *w, size_t kh,
    size_t kw, size_t lanes) {
  const dyce__window *g = r->g;
  for (size_t ox = 0; ox < g->out_w; ox++) {
    long ix0 = (long)(ox * g->sw) - (long)g->pad_l;
    dyce__vi a0 = r->init0, a1 = r->init1;
    if (ox >= r->lo && ox < r->hi)
      pixel(p, w, kh, kw, ix0, 0, lanes, &a0, &a1);
    else
      pixel(p, w, kh, kw, ix0, 1, lanes, &a0, &a1);
    dyce__vi_store8(r->out + ox * p->c, dyce__vi_requant(a0, r->m0, r->st),
                    dyce__vi_requant(a1, r->m1, r->st), lanes);
  }
}

/* A block's start, bias - zp * (sum of its weights), in the pair slot
 * after its weights (lo: channels 0-3, hi: 4-7, as i32). */
static void block_start(wpair *w, size_t pairs, const int32_t *bias,
                        int32_t zp, size_t lanes) {
  size_t n0 = lanes < 4 ? lanes : 4, n1 = lanes > 4 ? lanes - 4 : 0;
  const dyce__vh one = dyce__vh_splat(1);
  dyce__vi s0 = dyce__vi_splat(0), s1 = s0;
  for (size_t j = 0; j < pairs; j++)
    s0 += dyce__vi_dot(one, w[j].lo), s1 += dyce__vi_dot(one, w[j].hi);
  const dyce__vi z = dyce__vi_splat(zp);
  w[pairs].lo = (dyce__vh)(dyce__vi_load_n(bias, n0) - s0 * z);
  w[pairs].hi = (dyce__vh)(dyce__vi_load_n(bias + 4, n1) - s1 * z);
}

size_t dyce__q8_dwconv_rows_scratch(const dyce__window *g) {
  if (dyce__q8_dw3_applies(g)) return dyce__q8_dw3_scratch(g);
  uint64_t zeros = ((uint64_t)g->in_w * g->packed_in_c + 16 + 15) & ~(uint64_t)15;
  uint64_t blocks = ((uint64_t)g->packed_in_c + CR - 1) / CR;
  uint64_t bytes = 16 + zeros + blocks * (dyce__q8_dw_row_pairs(g->kh, g->kw) + 1) *
                                    sizeof(wpair);
  return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

/* Scratch (16 bytes into it, aligned): in_w * in_c zero points (the rows
 * above and below the input), then every block's weight pairs and start,
 * made once per call. */
void dyce__q8_dwconv_rows(const dyce__window *g, const int8_t *in,
                          int32_t in_zp, const int8_t *packed,
                          const int32_t *bias, const dyce__q8_out *o,
                          int8_t *out, void *scratch) {
  const size_t c = g->in_c, kh = g->kh, kw = g->kw, taps = kh * kw;
  const size_t pairs = dyce__q8_dw_row_pairs(g->kh, g->kw);
  if (dyce__q8_dw3_applies(g)) {
    dyce__q8_dw3(g, in, in_zp, packed, bias, o, out, scratch);
    return;
  }
  const dyce__q8_stage st = dyce__q8_stage_of(o->zp, o->qmin, o->qmax);
  int8_t *zrow = (int8_t *)(((uintptr_t)scratch + 15) & ~(uintptr_t)15);
  const size_t zeros = ((size_t)g->in_w * c + 16 + 15) & ~(size_t)15;
  wpair *wall = (wpair *)(void *)(zrow + zeros);
  memset(zrow, (int8_t)in_zp, (size_t)g->in_w * c + 16);
  for (size_t c0 = 0; c0 < c; c0 += CR) {
    wpair *w = wall + (c0 / CR) * (pairs + 1);
    pair_weights(packed + c0 * taps, kh, kw, w);
    block_start(w, pairs, bias + c0, in_zp, c - c0 < CR ? c - c0 : CR);
  }
  rows_pass p = {.c = c, .dw = g->dw, .in_w = (long)g->in_w,
                 .vzp = dyce__vh_splat((int16_t)in_zp)};
  row_out r = {.g = g, .st = &st};
  /* Interior columns: ox * sw >= pad_l, ox * sw - pad_l + span <= in_w. */
  size_t span = (size_t)(kw - 1) * g->dw + 1;
  r.lo = (g->pad_l + g->sw - 1) / g->sw;
  r.hi = g->in_w + g->pad_l >= span ? (g->in_w + g->pad_l - span) / g->sw + 1 : 0;
  if (r.hi > g->out_w) r.hi = g->out_w;
  for (uint32_t oy = 0; oy < g->out_h; oy++)
    for (size_t c0 = 0; c0 < c; c0 += CR) {
      size_t lanes = c - c0 < CR ? c - c0 : CR;
      for (size_t ky = 0; ky < kh; ky++) {
        long iy = (long)oy * g->sh - (long)g->pad_t + (long)(ky * g->dh);
        p.row[ky] = (iy >= 0 && iy < (long)g->in_h
                         ? in + (size_t)iy * g->in_w * c : zrow) + c0;
      }
      const wpair *w = wall + (c0 / CR) * (pairs + 1);
      size_t n0 = lanes < 4 ? lanes : 4, n1 = lanes > 4 ? lanes - 4 : 0;
      r.init0 = (dyce__vi)w[pairs].lo, r.init1 = (dyce__vi)w[pairs].hi;
      r.m0 = dyce__vf_load_upto4(o->mult + c0, n0);
      r.m1 = n1 ? dyce__vf_load_upto4(o->mult + c0 + 4, n1) : dyce__vf_zero();
      r.out = out + (size_t)oy * g->out_w * c + c0;
      if (lanes == CR && kh == 3 && kw == 3) run_row(&p, &r, w, 3, 3, CR);
      else if (lanes == CR && kh == 5 && kw == 5) run_row(&p, &r, w, 5, 5, CR);
      else if (lanes == CR) run_row(&p, &r, w, kh, kw, CR);
      else run_row(&p, &r, w, kh, kw, lanes);
    }
}

/*
 * 3x3 windows, stride 1 or 2 across, no dilation. Per block of 8
 * channels (the outer loop), each input row is widened once into
 * horizontal tap pairs H[j] = (E[X], E[X + 1]) interleaved per channel
 * (X = j * sw - pad_l, E the 8 channels at column X as i16, the zero
 * point outside), in a ring of 3 rows that the next output rows reuse.
 * An output pixel is then 12 plain loads and 12 dots (kernel row ky:
 * H[ox] against (w[ky][0], w[ky][1]), H[ox + 2 / sw] against
 * (w[ky][2], 0)), with no widening or lane shuffle in the pixel loop
 * (those ran on one x64 port and bounded the row kernel above).
 */
int dyce__q8_dw3_applies(const dyce__window *g) {
  return g->kh == 3 && g->kw == 3 && g->dh == 1 && g->dw == 1 &&
         (g->sw == 1 || g->sw == 2);
}

/* Pairs per row: out_w + 2 / sw, stored every sw-th slot. */
static size_t dw3_pairs(const dyce__window *g) {
  return (size_t)g->out_w + 2 / g->sw;
}

/* 16 bytes of alignment, then the ring: 3 rows of pairs. */
size_t dyce__q8_dw3_scratch(const dyce__window *g) {
  uint64_t bytes = 16 + 3 * (uint64_t)dw3_pairs(g) * g->sw * sizeof(wpair);
  return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

/* E[X] of one input row (row at channel c0), X inside the row. */
static inline __attribute__((always_inline)) dyce__vh dw3_load(
    const int8_t *row, long x, size_t c, size_t lanes) {
  const int8_t *q = row + (size_t)x * c;
  return lanes == CR ? dyce__vh_load8(q) : dyce__vh_load8_partial(q, lanes, 0);
}

/* E[X], the zero point outside the row. */
static inline __attribute__((always_inline)) dyce__vh dw3_col(
    const int8_t *row, long x, long in_w, size_t c, size_t lanes,
    dyce__vh vzp) {
  return x < 0 || x >= in_w ? vzp : dw3_load(row, x, c, lanes);
}

/* Pair j of the row (every sw-th slot), columns x0 + j * sw and one on:
 * checked at the edges, read directly between them (the checks per
 * column cost this pass a third of its time). */
static inline __attribute__((always_inline)) void dw3_widen(
    const int8_t *row, long x0, size_t sw, size_t n, long in_w, size_t c,
    size_t lanes, dyce__vh vzp, wpair *h) {
  size_t j = 0;
  long x = x0;
  for (; j < n && x < 0; j++, x += (long)sw)
    h[j * sw] = zip(dw3_col(row, x, in_w, c, lanes, vzp),
                    dw3_col(row, x + 1, in_w, c, lanes, vzp));
  if (j < n && x + 1 < in_w) {
    dyce__vh a = dw3_load(row, x, c, lanes);
    for (; j < n && x + 1 < in_w; j++, x += (long)sw) {
      dyce__vh b = dw3_load(row, x + 1, c, lanes);
      h[j * sw] = zip(a, b);
      /* The next pair's first column: b at stride 1, else read (it is
       * inside whenever the loop goes on). */
      if (sw == 1) a = b;
      else if (j + 1 < n && x + 2 + 1 < in_w) a = dw3_load(row, x + 2, c, lanes);
    }
  }
  for (; j < n; j++, x += (long)sw)
    h[j * sw] = zip(dw3_col(row, x, in_w, c, lanes, vzp),
                    dw3_col(row, x + 1, in_w, c, lanes, vzp));
}

/* One input row's pairs (zero points for rows outside: row NULL). */
static void dw3_row(const int8_t *row, long x0, size_t sw, size_t n,
                    long in_w, size_t c, size_t lanes, dyce__vh vzp,
                    wpair *h) {
  if (!row) {
    for (size_t j = 0; j < n * sw; j++) h[j] = zip(vzp, vzp);
  } else if (lanes == CR && sw == 1) {
    dw3_widen(row, x0, 1, n, in_w, c, CR, vzp, h);
  } else if (lanes == CR) {
    dw3_widen(row, x0, 2, n, in_w, c, CR, vzp, h);
  } else {
    dw3_widen(row, x0, sw, n, in_w, c, lanes, vzp, h);
  }
}

/* A block's weights as horizontal pairs, w[2 ky] = (w[ky][0], w[ky][1]),
 * w[2 ky + 1] = (w[ky][2], 0), then its start in w[6] (as block_start). */
static void dw3_weights(const int8_t *wb, const int32_t *bias, int32_t zp,
                        size_t lanes, wpair *w) {
  const dyce__vh z = dyce__vh_splat(0);
  for (size_t ky = 0; ky < 3; ky++) {
    w[2 * ky] = zip(tap_weights(wb, 3 * ky, 9), tap_weights(wb, 3 * ky + 1, 9));
    w[2 * ky + 1] = zip(tap_weights(wb, 3 * ky + 2, 9), z);
  }
  block_start(w, 6, bias, zp, lanes);
}

/* What the blocks of one call share. */
typedef struct dw3_call {
  const dyce__window *g;
  const int8_t *in, *packed;
  const int32_t *bias;
  const dyce__q8_out *o;
  int8_t *out;
  int32_t zp;
  dyce__q8_stage st;
  wpair *ring; /* 3 rows of n pairs, every sw-th slot */
  size_t n;
} dw3_call;

/* One half (4 channels) of a block's output stage. */
typedef struct dw3_out {
  dyce__vf m;
  const dyce__q8_stage *st;
  size_t c, lanes; /* lanes of this half, 1-4 */
} dw3_out;

static inline void dw3_store2(const dw3_out *r, int8_t *p, int8_t *q,
                              dyce__vi a, dyce__vi b) {
  dyce__vi_store4x2(p, q, dyce__vi_requant(a, r->m, r->st),
                    dyce__vi_requant(b, r->m, r->st), r->lanes);
}

/* Pixel p's two dots of kernel row ky (pairs h[p * step] and 2 pairs on,
 * one half: vectors of i16 at stride 2 per pair). */
#define DW3_DOTS(acc, p) \
  acc += dyce__vi_dot(h[2 * (p) * step], wa) + dyce__vi_dot(h[2 * (p) * step + 4], wb);

/* One half (channels 0-3 or 4-7) of one output row of one block: ring
 * slot s (rs vectors apart) against wr[4 s] (first pair) and wr[4 s + 2]
 * (third tap), the weights of the kernel row that slot holds. Pixels 4
 * at a time, one slot per iteration of a loop kept rolled: V8 schedules
 * a loop body's loads first, so the body stays small (4 sums, 2 weights,
 * at most 6 pairs: no spill; unrolled, it spilled and ran 10 % slower).
 * At stride 2 the pairs are stored every other slot, so the offsets are
 * constants. */
static inline __attribute__((always_inline)) void dw3_half(
    const dyce__vh *ring, const dyce__vh *wr, size_t rs, size_t n,
    size_t step, const dw3_out *r, int8_t *out) {
  const dyce__vi init = (dyce__vi)wr[12];
  const size_t c = r->c;
  size_t ox = 0;
  DYCE__NO_UNROLL
  for (; ox + 4 <= n; ox += 4, out += 4 * c) {
    dyce__vi a = init, b = init, d = init, e = init;
    const dyce__vh *h = ring + 2 * ox * step, *w = wr;
    DYCE__NO_UNROLL
    for (size_t s = 0; s < 3; s++, h += rs, w += 4) {
      const dyce__vh wa = w[0], wb = w[2];
      DW3_DOTS(a, 0) DW3_DOTS(b, 1) DW3_DOTS(d, 2) DW3_DOTS(e, 3)
    }
    dw3_store2(r, out, out + c, a, b);
    dw3_store2(r, out + 2 * c, out + 3 * c, d, e);
  }
  DYCE__NO_UNROLL
  for (; ox < n; ox++, out += c) {
    dyce__vi a = init;
    const dyce__vh *h = ring + 2 * ox * step, *w = wr;
    DYCE__NO_UNROLL
    for (size_t s = 0; s < 3; s++, h += rs, w += 4) {
      const dyce__vh wa = w[0], wb = w[2];
      DW3_DOTS(a, 0)
    }
    dw3_store2(r, out, out, a, a);
  }
}

/* The input row each ring slot holds: iy mod 3. */
static size_t dw3_slot(long iy) { return (size_t)(((iy % 3) + 3) % 3); }

/* One block of 8 (or the last `lanes`) channels at c0: its weights in
 * the 3 rotations of the ring (wr[rot]: slot s holds kernel row
 * (s - rot) mod 3), then output rows over the ring of widened input rows
 * (rows outside the input: zero points). Called from two places:
 * wasm-opt inlines a function called once into its caller, and V8
 * allocates registers worse in the larger function (q8_gemm.c). */
static void dw3_block(const dw3_call *k, size_t c0, size_t lanes) {
  const dyce__window *g = k->g;
  const size_t c = g->in_c, sw = g->sw, n = k->n, rs = n * sw;
  const dyce__vh vzp = dyce__vh_splat((int16_t)k->zp);
  size_t n0 = lanes < 4 ? lanes : 4, n1 = lanes > 4 ? lanes - 4 : 0;
  wpair w[7], wr[3][7];
  dw3_weights(k->packed + c0 * 9, k->bias + c0, k->zp, lanes, w);
  for (size_t rot = 0; rot < 3; rot++) {
    for (size_t sl = 0; sl < 3; sl++) {
      size_t ky = (sl + 3 - rot) % 3;
      wr[rot][2 * sl] = w[2 * ky], wr[rot][2 * sl + 1] = w[2 * ky + 1];
    }
    wr[rot][6] = w[6];
  }
  dw3_out r0 = {dyce__vf_load_upto4(k->o->mult + c0, n0), &k->st, c, n0};
  dw3_out r1 = {n1 ? dyce__vf_load_upto4(k->o->mult + c0 + 4, n1) : dyce__vf_zero(),
                &k->st, c, n1};
  long held[3] = {LONG_MIN, LONG_MIN, LONG_MIN};
  for (uint32_t oy = 0; oy < g->out_h; oy++) {
    const long iy0 = (long)oy * g->sh - (long)g->pad_t;
    for (long iy = iy0; iy < iy0 + 3; iy++) {
      size_t slot = dw3_slot(iy);
      if (held[slot] == iy) continue;
      int inside = iy >= 0 && iy < (long)g->in_h;
      dw3_row(inside ? k->in + (size_t)iy * g->in_w * c + c0 : NULL,
              -(long)g->pad_l, sw, n, (long)g->in_w, c, lanes, vzp,
              k->ring + slot * rs);
      held[slot] = iy;
    }
    const wpair *wq = wr[dw3_slot(iy0)];
    const dyce__vh *h = &k->ring->lo;
    int8_t *dst = k->out + (size_t)oy * g->out_w * c + c0;
    if (sw == 1) {
      dw3_half(h, &wq->lo, 2 * rs, g->out_w, 1, &r0, dst);
      if (n1) dw3_half(h + 1, &wq->hi, 2 * rs, g->out_w, 1, &r1, dst + 4);
    } else {
      dw3_half(h, &wq->lo, 2 * rs, g->out_w, 2, &r0, dst);
      if (n1) dw3_half(h + 1, &wq->hi, 2 * rs, g->out_w, 2, &r1, dst + 4);
    }
  }
}

void dyce__q8_dw3(const dyce__window *g, const int8_t *in, int32_t in_zp,
                  const int8_t *packed, const int32_t *bias,
                  const dyce__q8_out *o, int8_t *out, void *scratch) {
  const size_t c = g->in_c;
  dw3_call k = {.g = g, .in = in, .packed = packed, .bias = bias, .o = o,
                .out = out, .zp = in_zp,
                .st = dyce__q8_stage_of(o->zp, o->qmin, o->qmax),
                .ring = (wpair *)(((uintptr_t)scratch + 15) & ~(uintptr_t)15),
                .n = dw3_pairs(g)};
  size_t c0 = 0;
  for (; c0 + CR <= c; c0 += CR) dw3_block(&k, c0, CR);
  if (c0 < c) dw3_block(&k, c0, c - c0);
}
