/*
 * f32-igemm MRx8 microkernels: one template, instantiated per tile. Each
 * row has named accumulators (an array indexed in loops is not reliably
 * kept in registers by clang 14, and a spill per multiply-add halves the
 * speed). 4x8 needs 8 accumulators + 2 weight vectors + 1 broadcast = 11
 * of V8's ~15 usable SIMD registers; 5x8 would spill. Each A element is
 * a load-splat: unrolling k by 4 with one vector load per row and lane
 * shuffles keeps 4 more registers live and measured 25-40 % slower under
 * V8; unrolling by 2 gained nothing (docs/PERFORMANCE.md).
 */
#include "simd.h"

#define NR 8

#define ROWS_1(X) X(0)
#define ROWS_4(X) X(0) X(1) X(2) X(3)

/* Rows past mr repeat row mr - 1: loads stay inside the input and the
 * stores write the same values twice. */
#define DECLARE_ROW(i)                                            \
  const size_t row##i = ((i) < mr ? (i) : mr - 1);                \
  const float *const *ind##i = a + row##i * ks;                   \
  float *c##i = c + row##i * c_stride;
#define INIT_ROW(i) dyce__vf acc##i##_0 = b0, acc##i##_1 = b1;
#define LOAD_ROW(i) const float *a##i = ind##i[t];
#define MADD_ROW(i)                                               \
  {                                                               \
    dyce__vf x = dyce__vf_splat(a##i[k]);                         \
    acc##i##_0 = dyce__vf_madd(acc##i##_0, x, w0);                \
    acc##i##_1 = dyce__vf_madd(acc##i##_1, x, w1);                \
  }
#define STORE_ROW(i) store_row(c##i + n0, acc##i##_0, acc##i##_1, nc, clamp);

static inline void store_row(float *c, dyce__vf v0, dyce__vf v1, size_t nc,
                             dyce__clamp clamp) {
  v0 = dyce__clamp_apply(clamp, v0);
  v1 = dyce__clamp_apply(clamp, v1);
  if (nc == NR) {
    dyce__vf_store(c, v0);
    dyce__vf_store(c + 4, v1);
  } else if (nc >= 4) {
    dyce__vf_store(c, v0);
    dyce__vf_store_n(c + 4, v1, nc - 4);
  } else {
    dyce__vf_store_n(c, v0, nc);
  }
}

/* The bias of columns [n0, n0 + nc) as two vectors (zeros past nc). */
static inline void load_bias(const float *bias, size_t n0, size_t nc,
                             dyce__vf *b0, dyce__vf *b1) {
  *b0 = *b1 = dyce__vf_zero();
  if (!bias) return;
  *b0 = dyce__vf_load_n(bias + n0, nc < 4 ? nc : 4);
  if (nc > 4) *b1 = dyce__vf_load_n(bias + n0 + 4, nc - 4);
}

/* All n columns of mr rows, panel by panel, in one call: with the few
 * input channels of MobileNet's expand convolutions (k = 16, 24) a call
 * per 4x8 tile cost a third of the time. */
#define DYCE__DEFINE_IGEMM(MR)                                               \
  void dyce__f32_igemm_##MR##x8(size_t mr, size_t n, size_t kc,            \
                                size_t kc_packed, size_t ks,                \
                                const float *const *a, const float *w,      \
                                const float *bias, float *c,                \
                                size_t c_stride, dyce__clamp clamp) {       \
    ROWS_##MR(DECLARE_ROW)                                                  \
    for (size_t n0 = 0; n0 < n; n0 += NR) {                                 \
      const size_t nc = n - n0 < NR ? n - n0 : NR;                          \
      dyce__vf b0, b1;                                                      \
      load_bias(bias, n0, nc, &b0, &b1);                                    \
      ROWS_##MR(INIT_ROW)                                                   \
      for (size_t t = 0; t < ks; t++) {                                     \
        ROWS_##MR(LOAD_ROW)                                                 \
        for (size_t k = 0; k < kc; k++) {                                   \
          dyce__vf w0 = dyce__vf_load(w), w1 = dyce__vf_load(w + 4);        \
          w += NR;                                                          \
          ROWS_##MR(MADD_ROW)                                               \
        }                                                                   \
        w += (kc_packed - kc) * NR; /* channels a level leaves out */       \
      }                                                                     \
      ROWS_##MR(STORE_ROW)                                                  \
    }                                                                       \
  }

DYCE__DEFINE_IGEMM(1)
DYCE__DEFINE_IGEMM(4)
