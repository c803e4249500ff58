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
 */
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

/* Two adjacent interior output pixels of a 3x3 window, stride 1 and
 * dilation 1, 8 channels: their 4 input columns are loaded once and the
 * vertical pairs of kernel rows 0-1 zipped once for both (12 loads and 8
 * zips instead of 18 and 10); the same dots, in the same order per pixel
 * as pixel() (integer sums: any order gives the same bits anyway). */
static inline __attribute__((always_inline)) void pixel_pair_3x3(
    const rows_pass *p, const wpair *w, long ix0, dyce__vi *a0, dyce__vi *a1,
    dyce__vi *b0, dyce__vi *b1) {
  dyce__vh r0[4], r1[4], r2[4];
  for (long c = 0; c < 4; c++) {
    r0[c] = ld(p, 0, ix0 + c, 0, CR);
    r1[c] = ld(p, 1, ix0 + c, 0, CR);
    r2[c] = ld(p, 2, ix0 + c, 0, CR);
  }
  dyce__vi s0 = *a0, s1 = *a1, t0 = *b0, t1 = *b1;
  for (size_t c = 0; c < 4; c++) {
    dyce__vh lo = dyce__vh_zip_lo(r0[c], r1[c]), hi = dyce__vh_zip_hi(r0[c], r1[c]);
    if (c < 3) s0 += dyce__vi_dot(lo, w[c].lo), s1 += dyce__vi_dot(hi, w[c].hi);
    if (c > 0) t0 += dyce__vi_dot(lo, w[c - 1].lo), t1 += dyce__vi_dot(hi, w[c - 1].hi);
  }
  const dyce__vh z = dyce__vh_splat(0);
  s0 += dyce__vi_dot(dyce__vh_zip_lo(r2[0], r2[1]), w[3].lo);
  s1 += dyce__vi_dot(dyce__vh_zip_hi(r2[0], r2[1]), w[3].hi);
  t0 += dyce__vi_dot(dyce__vh_zip_lo(r2[1], r2[2]), w[3].lo);
  t1 += dyce__vi_dot(dyce__vh_zip_hi(r2[1], r2[2]), w[3].hi);
  s0 += dyce__vi_dot(dyce__vh_zip_lo(r2[2], z), w[4].lo);
  s1 += dyce__vi_dot(dyce__vh_zip_hi(r2[2], z), w[4].hi);
  t0 += dyce__vi_dot(dyce__vh_zip_lo(r2[3], z), w[4].lo);
  t1 += dyce__vi_dot(dyce__vh_zip_hi(r2[3], z), w[4].hi);
  *a0 = s0, *a1 = s1, *b0 = t0, *b1 = t1;
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
  const int pairs = kh == 3 && kw == 3 && lanes == CR && g->sw == 1 &&
                    g->dw == 1;
  for (size_t ox = 0; ox < g->out_w; ox++) {
    long ix0 = (long)(ox * g->sw) - (long)g->pad_l;
    dyce__vi a0 = r->init0, a1 = r->init1;
    if (pairs && ox >= r->lo && ox + 1 < r->hi) {
      dyce__vi b0 = r->init0, b1 = r->init1;
      pixel_pair_3x3(p, w, ix0, &a0, &a1, &b0, &b1);
      dyce__vi_store8(r->out + ox * p->c, dyce__vi_requant(a0, r->m0, r->st),
                      dyce__vi_requant(a1, r->m1, r->st), CR);
      dyce__vi_store8(r->out + (ox + 1) * p->c,
                      dyce__vi_requant(b0, r->m0, r->st),
                      dyce__vi_requant(b1, r->m1, r->st), CR);
      ox++;
      continue;
    }
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
