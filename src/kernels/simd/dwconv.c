/*
 * f32-dwconv microkernels: one output pixel, 8 channels per step (two
 * vectors), every tap of the window. One template; 5x5 gets the tap
 * count as a constant so the tap loop unrolls, other windows use it as a
 * run-time count. (3x3 always, and 5x5 on wide rows, use the row kernels
 * of dwconv_rows.c and dwconv_rows5.c.)
 */
#include "simd.h"

#define CR 8

static inline __attribute__((always_inline)) void dwconv_pixel(
    size_t taps, size_t channels, const float *const *in, const float *w,
    const float *bias, float *out, dyce__clamp clamp) {
  size_t c = 0;
  for (; c + CR <= channels; c += CR, w += taps * CR) {
    dyce__vf a0 = dyce__vf_load(bias + c), a1 = dyce__vf_load(bias + c + 4);
    for (size_t t = 0; t < taps; t++) {
      a0 = dyce__vf_madd(a0, dyce__vf_load(in[t] + c), dyce__vf_load(w + t * CR));
      a1 = dyce__vf_madd(a1, dyce__vf_load(in[t] + c + 4),
                         dyce__vf_load(w + t * CR + 4));
    }
    dyce__vf_store(out + c, dyce__clamp_apply(clamp, a0));
    dyce__vf_store(out + c + 4, dyce__clamp_apply(clamp, a1));
  }
  /* 1..7 channels left, in the last (zero-padded) weight block: at most
   * two vectors, loaded partially so nothing past the pixel is read. */
  for (size_t half = 0; c + half < channels; half += 4) {
    size_t n = channels - c - half < 4 ? channels - c - half : 4;
    dyce__vf a = dyce__vf_load_partial(bias + c + half, n);
    for (size_t t = 0; t < taps; t++)
      a = dyce__vf_madd(a, dyce__vf_load_partial(in[t] + c + half, n),
                        dyce__vf_load(w + t * CR + half));
    dyce__vf_store_partial(out + c + half, dyce__clamp_apply(clamp, a), n);
  }
}

void dyce__f32_dwconv_5x5_8ch(size_t channels, size_t taps,
                              const float *const *in, const float *w,
                              const float *bias, float *out,
                              dyce__clamp clamp) {
  (void)taps;
  dwconv_pixel(25, channels, in, w, bias, out, clamp);
}

void dyce__f32_dwconv_any_8ch(size_t channels, size_t taps,
                              const float *const *in, const float *w,
                              const float *bias, float *out,
                              dyce__clamp clamp) {
  dwconv_pixel(taps, channels, in, w, bias, out, clamp);
}
