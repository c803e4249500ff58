/*
 * What the depthwise row kernels (dwconv_rows.c, dwconv_rows5.c) share:
 * the columns of an output row whose k taps are all inside the input.
 */
#ifndef DYCE_KERNELS_SIMD_DWCONV_ROWS_H
#define DYCE_KERNELS_SIMD_DWCONV_ROWS_H

#include "simd.h"

typedef struct dyce__dw_rows {
  size_t out_w, c, sw, dw, pad_l, in_w;
  size_t lo, hi; /* output columns whose k taps are all inside */
} dyce__dw_rows;

static inline dyce__dw_rows dyce__dw_rows_of(const dyce__window *g, size_t k) {
  dyce__dw_rows r = {g->out_w, g->in_c, g->sw, g->dw, g->pad_l, g->in_w, 0, 0};
  /* Interior: ox * sw >= pad_l and ox * sw - pad_l + (k - 1) * dw < in_w. */
  r.lo = (r.pad_l + r.sw - 1) / r.sw;
  size_t span = (k - 1) * r.dw + 1;
  r.hi = r.in_w + r.pad_l >= span ? (r.in_w + r.pad_l - span) / r.sw + 1 : 0;
  if (r.hi > r.out_w) r.hi = r.out_w;
  if (r.lo > r.hi) r.lo = r.hi;
  return r;
}

#endif /* DYCE_KERNELS_SIMD_DWCONV_ROWS_H */
