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
  dyce__vf acc##i##_0 = b0, acc##i##_1 = b1;                      \
  const size_t row##i = ((i) < mr ? (i) : mr - 1);                \
  const float *const *ind##i = a + row##i * ks;                   \
  float *c##i = c + row##i * c_stride;
#define LOAD_ROW(i) const float *a##i = ind##i[t];
#define MADD_ROW(i)                                               \
  {                                                               \
    dyce__vf x = dyce__vf_splat(a##i[k]);                         \
    acc##i##_0 = dyce__vf_madd(acc##i##_0, x, w0);                \
    acc##i##_1 = dyce__vf_madd(acc##i##_1, x, w1);                \
  }
#define STORE_ROW(i) store_row(c##i, acc##i##_0, acc##i##_1, nc, clamp);

static inline void store_row(float *c, dyce__vf v0, dyce__vf v1, size_t nc,
                             dyce__clamp clamp) {
  v0 = dyce__clamp_apply(clamp, v0);
  v1 = dyce__clamp_apply(clamp, v1);
  if (nc == NR) {
    dyce__vf_store(c, v0);
    dyce__vf_store(c + 4, v1);
  } else if (nc >= 4) {
    dyce__vf_store(c, v0);
    dyce__vf_store_partial(c + 4, v1, nc - 4);
  } else {
    dyce__vf_store_partial(c, v0, nc);
  }
}

#define DYCE__DEFINE_IGEMM(MR)                                               \
  void dyce__f32_igemm_##MR##x8(size_t mr, size_t nc, size_t kc,           \
                                size_t kc_packed, size_t ks,                \
                                const float *const *a, const float *w,      \
                                const float *bias, float *c,                \
                                size_t c_stride, dyce__clamp clamp) {       \
    dyce__vf b0 = dyce__vf_load(bias), b1 = dyce__vf_load(bias + 4);        \
    ROWS_##MR(DECLARE_ROW)                                                  \
    for (size_t t = 0; t < ks; t++) {                                       \
      ROWS_##MR(LOAD_ROW)                                                   \
      for (size_t k = 0; k < kc; k++) {                                     \
        dyce__vf w0 = dyce__vf_load(w), w1 = dyce__vf_load(w + 4);          \
        w += NR;                                                            \
        ROWS_##MR(MADD_ROW)                                                 \
      }                                                                     \
      w += (kc_packed - kc) * NR; /* rows of channels a level leaves out */ \
    }                                                                       \
    ROWS_##MR(STORE_ROW)                                                    \
  }

DYCE__DEFINE_IGEMM(1)
DYCE__DEFINE_IGEMM(4)
