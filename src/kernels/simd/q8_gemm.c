/*
 * qs8-igemm MRx8 microkernels (q8.h): one template, instantiated per tile.
 * Each k step of 8 loads 8 inputs per row (widened to i16, minus the zero
 * point), then per pair of input channels one 16-byte weight load (the 8
 * columns' pairs, widened to two i16x8) and per row a lane broadcast and
 * two i32x4.dot_i16x8_s / pmaddwd into the row's two accumulators (4 x 2
 * accumulators + 4 input rows + 2 weight vectors + 1 broadcast = 15
 * registers). Named accumulators, as the float igemm.c, so compilers keep
 * them in registers.
 */
#include "q8.h"

#define NR DYCE__Q8_NR

#define ROWS_1(X) X(0)
#define ROWS_4(X) X(0) X(1) X(2) X(3)

typedef struct wpair {
  dyce__vh lo, hi; /* columns 0-3 and 4-7, (w[k][j], w[k+1][j]) per lane pair */
} wpair;

/* Rows k and k + 1 of a panel, interleaved by the packing. */
static inline wpair pair_full(const int8_t *w) {
  dyce__vb v = dyce__vb_load(w);
  wpair p = {dyce__vh_widen_lo(v), dyce__vh_widen_hi(v)};
  return p;
}
/* An odd tap's last row alone (8 bytes): pairs (w[k][j], 0). */
static inline wpair pair_lone(const int8_t *w) {
  dyce__vh v = dyce__vh_load8(w), z = dyce__vh_splat(0);
  wpair p = {dyce__vh_zip_lo(v, z), dyce__vh_zip_hi(v, z)};
  return p;
}

/* Four 8-lane rows of i16 transposed by channel pairs: vector p holds
 * pair p (i32 lane) of rows 0-3. */
static inline void transpose_pairs(dyce__vh r[4]) {
  const dyce__vi a = (dyce__vi)r[0], b = (dyce__vi)r[1];
  const dyce__vi c = (dyce__vi)r[2], d = (dyce__vi)r[3];
  const dyce__vi ab_lo = __builtin_shufflevector(a, b, 0, 4, 1, 5);
  const dyce__vi ab_hi = __builtin_shufflevector(a, b, 2, 6, 3, 7);
  const dyce__vi cd_lo = __builtin_shufflevector(c, d, 0, 4, 1, 5);
  const dyce__vi cd_hi = __builtin_shufflevector(c, d, 2, 6, 3, 7);
  r[0] = (dyce__vh)__builtin_shufflevector(ab_lo, cd_lo, 0, 1, 4, 5);
  r[1] = (dyce__vh)__builtin_shufflevector(ab_lo, cd_lo, 2, 3, 6, 7);
  r[2] = (dyce__vh)__builtin_shufflevector(ab_hi, cd_hi, 0, 1, 4, 5);
  r[3] = (dyce__vh)__builtin_shufflevector(ab_hi, cd_hi, 2, 3, 6, 7);
}

void dyce__q8_widen_rows(size_t mr, const int8_t *const *a, size_t kc,
                         int32_t zp, int16_t *dst) {
  const dyce__vh vzp = dyce__vh_splat((int16_t)zp);
  const int8_t *x[4];
  for (size_t i = 0; i < 4; i++) x[i] = a[i < mr ? i : mr - 1];
  size_t k = 0;
  for (; k + 8 <= kc; k += 8, dst += 32) {
    dyce__vh r[4];
    for (size_t i = 0; i < 4; i++) r[i] = dyce__vh_load8(x[i] + k) - vzp;
    transpose_pairs(r);
    for (size_t j = 0; j < 4; j++) dyce__vh_store(dst + 8 * j, r[j]);
  }
  if (k < kc) {
    dyce__vh r[4];
    for (size_t i = 0; i < 4; i++)
      r[i] = dyce__vh_load8_partial(x[i] + k, kc - k, (int8_t)zp) - vzp;
    transpose_pairs(r);
    for (size_t j = 0; j < 4; j++) dyce__vh_store(dst + 8 * j, r[j]);
  }
}

static inline void store_row(int8_t *c, dyce__vi a0, dyce__vi a1,
                             dyce__vf m0, dyce__vf m1,
                             const dyce__q8_stage *st, size_t nc) {
  dyce__vi r0 = dyce__vi_requant(a0, m0, st), r1 = dyce__vi_requant(a1, m1, st);
  dyce__vi_store8(c, r0, r1, nc);
}

#define DECLARE_ROW(i)                                      \
  const size_t row##i = ((i) < mr ? (i) : mr - 1);          \
  const int8_t *const *ind##i = a + row##i * ks;            \
  int8_t *c##i = c + row##i * c_stride;
#define INIT_ROW(i) dyce__vi acc##i##_0 = b0, acc##i##_1 = b1;
#define LOAD_ROW(i) const dyce__vh x##i = dyce__vh_load8(ind##i[t] + k) - vzp;
#define TAIL_ROW(i)                                                 \
  const dyce__vh x##i =                                             \
      (padded ? dyce__vh_load8(ind##i[t] + k)                       \
              : dyce__vh_load8_partial(ind##i[t] + k, rem, fill)) - vzp;
#define MADD_ROW(i, p)                                      \
  {                                                         \
    const dyce__vh s = DYCE__VH_PAIR(x##i, p);              \
    acc##i##_0 += dyce__vi_dot(s, wp.lo);                   \
    acc##i##_1 += dyce__vi_dot(s, wp.hi);                   \
  }
#define MADD_0(i) MADD_ROW(i, 0)
#define MADD_1(i) MADD_ROW(i, 1)
#define MADD_2(i) MADD_ROW(i, 2)
#define MADD_3(i) MADD_ROW(i, 3)
#define STORE_ROW(i) store_row(c##i + n0, acc##i##_0, acc##i##_1, m0, m1, &st, nc);
/* Pair p of a tail step: present when rem > 2p; alone when its second
 * row is past the tap's packed rows. */
#define TAIL_PAIR(MR, p)                                          \
  if (rem > 2 * (p)) {                                            \
    const wpair wp = k + 2 * (p) + 1 < kc_packed                  \
                         ? pair_full(wk + (k + 2 * (p)) * NR)     \
                         : pair_lone(wk + (k + 2 * (p)) * NR);    \
    ROWS_##MR(MADD_##p)                                           \
  }

#define DYCE__DEFINE_Q8_IGEMM(MR)                                            \
  void dyce__q8_igemm_##MR##x8(size_t mr, size_t n, size_t kc,              \
                               size_t kc_packed, size_t ks,                 \
                               const int8_t *const *a, int32_t a_zp,        \
                               const int8_t *w, const int32_t *bias,        \
                               const dyce__q8_out *o, int8_t *c,            \
                               size_t c_stride, int padded) {               \
    ROWS_##MR(DECLARE_ROW)                                                  \
    const dyce__vh vzp = dyce__vh_splat((int16_t)a_zp);                     \
    const int8_t fill = (int8_t)a_zp;                                       \
    const dyce__q8_stage st = dyce__q8_stage_of(o->zp, o->qmin, o->qmax);   \
    const size_t panel = ks * kc_packed * NR;                               \
    for (size_t n0 = 0; n0 < n; n0 += NR, w += panel) {                     \
      const size_t nc = n - n0 < NR ? n - n0 : NR;                          \
      const size_t n1 = nc > 4 ? nc - 4 : 0;                                \
      const dyce__vi b0 = dyce__vi_load_n(bias + n0, nc < 4 ? nc : 4);      \
      const dyce__vi b1 = dyce__vi_load_n(bias + n0 + 4, n1);               \
      const dyce__vf m0 = dyce__vf_load_upto4(o->mult + n0, nc < 4 ? nc : 4); \
      const dyce__vf m1 =                                                   \
          n1 ? dyce__vf_load_upto4(o->mult + n0 + 4, n1) : dyce__vf_zero(); \
      ROWS_##MR(INIT_ROW)                                                   \
      for (size_t t = 0; t < ks; t++) {                                     \
        const int8_t *wk = w + t * kc_packed * NR;                          \
        size_t k = 0;                                                       \
        for (; k + 8 <= kc; k += 8) {                                       \
          ROWS_##MR(LOAD_ROW)                                               \
          const int8_t *wq = wk + k * NR;                                   \
          wpair wp = pair_full(wq);                                         \
          ROWS_##MR(MADD_0)                                                 \
          wp = pair_full(wq + 2 * NR);                                      \
          ROWS_##MR(MADD_1)                                                 \
          wp = pair_full(wq + 4 * NR);                                      \
          ROWS_##MR(MADD_2)                                                 \
          wp = pair_full(wq + 6 * NR);                                      \
          ROWS_##MR(MADD_3)                                                 \
        }                                                                   \
        if (k < kc) { /* 1-7 channels left: the others read as a_zp */      \
          const size_t rem = kc - k;                                        \
          ROWS_##MR(TAIL_ROW)                                               \
          TAIL_PAIR(MR, 0)                                                  \
          TAIL_PAIR(MR, 1)                                                  \
          TAIL_PAIR(MR, 2)                                                  \
          TAIL_PAIR(MR, 3)                                                  \
        }                                                                   \
      }                                                                     \
      ROWS_##MR(STORE_ROW)                                                  \
    }                                                                       \
  }


void dyce__q8_pack_gemm(size_t n, size_t taps, size_t kc, const int8_t *src,
                        int8_t *dst) {
  for (size_t n0 = 0; n0 < n; n0 += NR)
    for (size_t t = 0; t < taps; t++) {
      int8_t *tap = dst + ((n0 / NR) * taps + t) * kc * NR;
      for (size_t k = 0; k < kc; k += 2) {
        int both = k + 1 < kc;
        for (size_t j = 0; j < NR; j++) {
          size_t col = n0 + j;
          size_t at = (col * taps + t) * kc + k;
          int8_t *d = tap + k * NR + (both ? 2 * j : j);
          d[0] = col < n ? src[at] : 0;
          if (both) d[1] = col < n ? src[at + 1] : 0;
        }
      }
    }
}

/* The pre-widened GEMM (q8.h): per channel pair one weight pair (two
 * v128.load8x8_s, sign-extending loads) and per row one v128.load32_splat
 * from the interleaved rows, all at constant offsets from two pointers
 * (V8 then spends no scalar instruction on addresses), one pair per
 * iteration: 8 accumulators, 2 weight and up to 4 input vectors stay in
 * registers, where a deeper unrolling let the compiler hoist every
 * weight load and V8 spilled accumulators to the stack. */
#define W_DECLARE_ROW(i)                                    \
  const size_t row##i = ((i) < mr ? (i) : mr - 1);          \
  int8_t *c##i = c + row##i * c_stride;
#define W_MADD_ROW(i)                                       \
  {                                                         \
    const dyce__vh s = dyce__vh_load_pair(x + 2 * (i));     \
    acc##i##_0 += dyce__vi_dot(s, wp.lo);                   \
    acc##i##_1 += dyce__vi_dot(s, wp.hi);                   \
  }

/* Rows k and k + 1 of a panel, each half sign-extended by its load. */
static inline wpair pair_load8(const int8_t *w) {
  wpair p = {dyce__vh_load8(w), dyce__vh_load8(w + 8)};
  return p;
}

#define DYCE__DEFINE_Q8_GEMM16(MR)                                           \
  void dyce__q8_gemm16_##MR##x8(size_t mr, size_t n, size_t kc,             \
                                size_t kc_packed, const int16_t *a,         \
                                const int8_t *w, const int32_t *bias,       \
                                const dyce__q8_out *o, int8_t *c,           \
                                size_t c_stride) {                          \
    ROWS_##MR(W_DECLARE_ROW)                                                \
    const dyce__q8_stage st = dyce__q8_stage_of(o->zp, o->qmin, o->qmax);   \
    const size_t pairs = (kc + 1) / 2;                                      \
    const size_t full = pairs < kc_packed / 2 ? pairs : kc_packed / 2;      \
    for (size_t n0 = 0; n0 < n; n0 += NR, w += kc_packed * NR) {            \
      const size_t nc = n - n0 < NR ? n - n0 : NR;                          \
      const size_t n1 = nc > 4 ? nc - 4 : 0;                                \
      const dyce__vi b0 = dyce__vi_load_n(bias + n0, nc < 4 ? nc : 4);      \
      const dyce__vi b1 = dyce__vi_load_n(bias + n0 + 4, n1);               \
      ROWS_##MR(INIT_ROW)                                                   \
      const int16_t *x = a;                                                 \
      const int8_t *wq = w;                                                 \
      DYCE__NO_UNROLL                                                       \
      for (size_t p = 0; p < full; p++, wq += 2 * NR, x += 8) {             \
        const wpair wp = pair_load8(wq);                                    \
        ROWS_##MR(W_MADD_ROW)                                               \
      }                                                                     \
      if (full < pairs) { /* an odd packed k's last row */                  \
        const wpair wp = pair_lone(wq);                                     \
        ROWS_##MR(W_MADD_ROW)                                               \
      }                                                                     \
      const dyce__vf m0 = dyce__vf_load_upto4(o->mult + n0, nc < 4 ? nc : 4); \
      const dyce__vf m1 =                                                   \
          n1 ? dyce__vf_load_upto4(o->mult + n0 + 4, n1) : dyce__vf_zero(); \
      ROWS_##MR(STORE_ROW)                                                  \
    }                                                                       \
  }

DYCE__DEFINE_Q8_IGEMM(1)
DYCE__DEFINE_Q8_IGEMM(4)
DYCE__DEFINE_Q8_GEMM16(1)
DYCE__DEFINE_Q8_GEMM16(4)
