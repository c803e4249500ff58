/*
 * qs8-dwconv: depthwise convolution (any window, stride, padding,
 * dilation), one output row and 8 channels at a time with the weights of
 * up to CHUNK taps widened once per row into registers / L1. Taps go in
 * pairs: the inputs of taps t and t + 1 interleaved per channel (i16)
 * against the packed pairs (w[t][c], w[t+1][c]), one i32x4.dot_i16x8_s /
 * pmaddwd per 4 channels and 2 taps. The input zero point is not
 * subtracted per tap: each block starts from bias - zp * sum of its
 * weights, and padding taps read a row of zero points (so they add
 * zp * w, which that start takes back). The integers are exact, so this
 * equals the reference's sum of (q - zp) * w.
 * Packed: [ceil(C / 8)][taps][8], taps paired as the dense panels (q8.h).
 */
#include <string.h>

#include "q8.h"

#define CR 8
#define CHUNK 26 /* taps per pass (even): 13 weight pairs */

typedef struct wpair {
  dyce__vh lo, hi; /* channels 0-3 and 4-7 */
} wpair;

static size_t round8(size_t n) { return (n + 7) & ~(size_t)7; }
static size_t taps_of(const dyce__window *g) { return (size_t)g->kh * g->kw; }

size_t dyce__q8_dwconv_packed_bytes(const dyce__window *g) {
  return dyce__q8_bytes(round8(g->packed_out_c), g->kh, g->kw);
}

void dyce__q8_pack_dwconv(const dyce__window *g, const int8_t *ohwi,
                          int8_t *dst) {
  size_t taps = taps_of(g), c = g->packed_out_c;
  for (size_t b = 0; b < round8(c); b += CR)
    for (size_t t = 0; t < taps; t++) {
      int8_t *d = dst + b * taps;
      for (size_t j = 0; j < CR; j++) {
        int8_t v = b + j < c ? ohwi[(b + j) * taps + t] : 0;
        if (t % 2) d[(t - 1) * CR + 2 * j + 1] = v;
        else if (t + 1 < taps) d[t * CR + 2 * j] = v;
        else d[t * CR + j] = v;
      }
    }
}

static size_t zero_bytes(const dyce__window *g) {
  return ((size_t)g->packed_in_c + 15) & ~(size_t)15;
}

/* Windows the row kernel takes (q8_dwconv_rows.c); the others make
 * passes of CHUNK taps here. */
static int by_rows(const dyce__window *g) {
  return g->kh <= 16 && dyce__q8_dw_row_pairs(g->kh, g->kw) <= DYCE__Q8_DW_ROW_PAIRS;
}

/* By rows: dyce__q8_dwconv_rows_scratch. Else a row of zero points,
 * then (windows over CHUNK taps) the accumulators of one output row's 8
 * channels between passes. */
size_t dyce__q8_dwconv_scratch_bytes(const dyce__window *g) {
  if (by_rows(g)) return dyce__q8_dwconv_rows_scratch(g);
  uint64_t part = taps_of(g) > CHUNK ? (uint64_t)g->out_w * CR * 4 : 0;
  uint64_t bytes = zero_bytes(g) + part;
  return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

static inline wpair load_pair(const int8_t *w, int alone) {
  wpair p;
  if (alone) {
    dyce__vh v = dyce__vh_load8(w), z = dyce__vh_splat(0);
    p.lo = dyce__vh_zip_lo(v, z), p.hi = dyce__vh_zip_hi(v, z);
  } else {
    dyce__vb v = dyce__vb_load(w);
    p.lo = dyce__vh_widen_lo(v), p.hi = dyce__vh_widen_hi(v);
  }
  return p;
}

static inline dyce__vh load_x(const int8_t *p, size_t lanes) {
  return lanes == CR ? dyce__vh_load8(p) : dyce__vh_load8_partial(p, lanes, 0);
}

/* One pixel's taps tp[0 .. 2 * pairs + alone) into a0 / a1. Inlined with
 * constant pairs / lanes for 3x3 and 5x5. */
static inline __attribute__((always_inline)) void pixel(
    const int8_t *const *tp, const wpair *w, size_t pairs, int alone,
    size_t lanes, dyce__vi *a0, dyce__vi *a1) {
  dyce__vi s0 = *a0, s1 = *a1;
  for (size_t j = 0; j < pairs; j++) {
    dyce__vh x0 = load_x(tp[2 * j], lanes), x1 = load_x(tp[2 * j + 1], lanes);
    s0 += dyce__vi_dot(dyce__vh_zip_lo(x0, x1), w[j].lo);
    s1 += dyce__vi_dot(dyce__vh_zip_hi(x0, x1), w[j].hi);
  }
  if (alone) {
    dyce__vh x0 = load_x(tp[2 * pairs], lanes);
    s0 += dyce__vi_dot(dyce__vh_zip_lo(x0, x0), w[pairs].lo);
    s1 += dyce__vi_dot(dyce__vh_zip_hi(x0, x0), w[pairs].hi);
  }
  *a0 = s0, *a1 = s1;
}

/* What one pass over an output row shares. */
typedef struct pass {
  const dyce__window *g;
  const int8_t *in, *zrow; /* zrow: zero points, offset by c0 */
  size_t c, c0, lanes, oy, t0, nt;
  size_t lo, hi;           /* columns whose taps are all inside */
  int rows_inside, first, last;
  ptrdiff_t off[CHUNK];    /* tap offsets from the window's first input */
  dyce__vi init0, init1;
  dyce__vf m0, m1;
  dyce__q8_stage st;
  int32_t *part;
  int8_t *out;             /* the output row at c0 */
} pass;

static void tap_pointers(const pass *p, size_t ox, const int8_t **tp) {
  const dyce__window *g = p->g;
  long iy0 = (long)p->oy * g->sh - (long)g->pad_t;
  long ix0 = (long)ox * g->sw - (long)g->pad_l;
  if (p->rows_inside && ox >= p->lo && ox < p->hi) {
    const int8_t *base = p->in + ((size_t)iy0 * g->in_w + (size_t)ix0) * p->c + p->c0;
    for (size_t t = 0; t < p->nt; t++) tp[t] = base + p->off[t];
    return;
  }
  for (size_t t = 0; t < p->nt; t++) {
    size_t tt = p->t0 + t;
    long iy = iy0 + (long)(tt / g->kw) * g->dh;
    long ix = ix0 + (long)(tt % g->kw) * g->dw;
    int inside = iy >= 0 && iy < (long)g->in_h && ix >= 0 && ix < (long)g->in_w;
    tp[t] = inside ? p->in + ((size_t)iy * g->in_w + (size_t)ix) * p->c + p->c0
                   : p->zrow;
  }
}

static inline __attribute__((always_inline)) void run_row(
    const pass *p, const wpair *w, size_t pairs, int alone, size_t lanes) {
  const int8_t *tp[CHUNK];
  for (size_t ox = 0; ox < p->g->out_w; ox++) {
    dyce__vi a0 = p->init0, a1 = p->init1;
    if (!p->first) {
      a0 = dyce__vi_load_n(p->part + ox * CR, 4);
      a1 = dyce__vi_load_n(p->part + ox * CR + 4, 4);
    }
    tap_pointers(p, ox, tp);
    pixel(tp, w, pairs, alone, lanes, &a0, &a1);
    if (p->last) {
      dyce__vi_store8(p->out + ox * p->c, dyce__vi_requant(a0, p->m0, &p->st),
                      dyce__vi_requant(a1, p->m1, &p->st), lanes);
    } else {
      memcpy(p->part + ox * CR, &a0, sizeof a0);
      memcpy(p->part + ox * CR + 4, &a1, sizeof a1);
    }
  }
}

/* One pass: the chunk's weights widened once, then the row. */
static void run_pass(const pass *p, const int8_t *wb) {
  wpair w[CHUNK / 2];
  size_t pairs = p->nt / 2, taps = taps_of(p->g);
  int alone = p->nt % 2;
  for (size_t j = 0; j < pairs + (size_t)alone; j++) {
    size_t t = p->t0 + 2 * j;
    w[j] = load_pair(wb + t * CR, t + 1 == taps);
  }
  if (p->lanes == CR && p->nt == 9) run_row(p, w, 4, 1, CR);
  else if (p->lanes == CR && p->nt == 25) run_row(p, w, 12, 1, CR);
  else if (p->lanes == CR) run_row(p, w, pairs, alone, CR);
  else run_row(p, w, pairs, alone, p->lanes);
}

/* bias - zp * (sum of the block's weights), per channel. */
static void block_start(pass *p, const int8_t *wb, const int32_t *bias,
                        int32_t zp) {
  size_t taps = taps_of(p->g), n = p->lanes, n1 = n > 4 ? n - 4 : 0;
  const dyce__vh one = dyce__vh_splat(1);
  dyce__vi s0 = dyce__vi_splat(0), s1 = s0;
  for (size_t t = 0; t < taps; t += 2) {
    wpair w = load_pair(wb + t * CR, t + 1 == taps);
    s0 += dyce__vi_dot(one, w.lo), s1 += dyce__vi_dot(one, w.hi);
  }
  const dyce__vi z = dyce__vi_splat(zp);
  p->init0 = dyce__vi_load_n(bias + p->c0, n < 4 ? n : 4) - s0 * z;
  p->init1 = dyce__vi_load_n(bias + p->c0 + 4, n1) - s1 * z;
}

static void run_block(pass *p, const int8_t *packed, const int32_t *bias,
                      int32_t zp, const dyce__q8_out *o) {
  const dyce__window *g = p->g;
  size_t taps = taps_of(g), n = p->lanes, n1 = n > 4 ? n - 4 : 0;
  const int8_t *wb = packed + p->c0 * taps;
  block_start(p, wb, bias, zp);
  p->m0 = dyce__vf_load_upto4(o->mult + p->c0, n < 4 ? n : 4);
  p->m1 = n1 ? dyce__vf_load_upto4(o->mult + p->c0 + 4, n1) : dyce__vf_zero();
  for (p->t0 = 0; p->t0 < taps; p->t0 += CHUNK) {
    p->nt = taps - p->t0 < CHUNK ? taps - p->t0 : CHUNK;
    p->first = p->t0 == 0, p->last = p->t0 + p->nt == taps;
    for (size_t t = 0; t < p->nt; t++) {
      size_t tt = p->t0 + t;
      p->off[t] = (ptrdiff_t)(((tt / g->kw) * g->dh * g->in_w +
                               (tt % g->kw) * g->dw) * p->c);
    }
    run_pass(p, wb);
  }
}

void dyce__q8_dwconv(const dyce__window *g, const int8_t *in, int32_t in_zp,
                     const int8_t *packed, const int32_t *bias,
                     const dyce__q8_out *o, int8_t *out, void *scratch) {
  int8_t *zrow = scratch;
  if (by_rows(g)) {
    dyce__q8_dwconv_rows(g, in, in_zp, packed, bias, o, out, scratch);
    return;
  }
  pass p;
  p.g = g, p.in = in, p.c = g->in_c;
  p.part = (int32_t *)(void *)(zrow + zero_bytes(g));
  p.st = dyce__q8_stage_of(o->zp, o->qmin, o->qmax);
  memset(zrow, (int8_t)in_zp, round8(p.c));
  /* Interior columns: ox * sw >= pad_l, ox * sw - pad_l + span <= in_w. */
  size_t span = (size_t)(g->kw - 1) * g->dw + 1;
  p.lo = (g->pad_l + g->sw - 1) / g->sw;
  p.hi = g->in_w + g->pad_l >= span ? (g->in_w + g->pad_l - span) / g->sw + 1 : 0;
  if (p.hi > g->out_w) p.hi = g->out_w;
  for (p.oy = 0; p.oy < g->out_h; p.oy++) {
    long iy0 = (long)p.oy * g->sh - (long)g->pad_t;
    p.rows_inside = iy0 >= 0 && iy0 + (long)((g->kh - 1) * g->dh) < (long)g->in_h;
    for (p.c0 = 0; p.c0 < p.c; p.c0 += CR) {
      p.lanes = p.c - p.c0 < CR ? p.c - p.c0 : CR;
      p.zrow = zrow + p.c0;
      p.out = out + (size_t)p.oy * g->out_w * p.c + p.c0;
      run_block(&p, packed, bias, in_zp, o);
    }
  }
}
