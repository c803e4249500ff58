/* Convolution through the SIMD kernels: dense convolutions (groups == 1,
 * any window, stride, padding, dilation; 1x1 included) run as a GEMM over
 * row pointers built in the node's scratch each run, 3x3 stride-1 ones
 * with 8-128 input channels by Winograd (winograd.c); depthwise ones use
 * the depthwise microkernels; other grouped convolutions (and channel
 * multipliers) as a GEMM per group (conv_grouped). */
#include "../ref/ref.h"
#include "simd.h"

#define CFG dyce__simd_config_this_target

/* Decided by the packed sizes: a width level may run a depthwise
 * convolution over one channel (groups 1) with its depthwise weights. */
dyce__conv_kind dyce__simd_conv_kind(const dyce__window *g) {
  if (dyce__simd_winograd_applies(g)) return DYCE__CONV_WINOGRAD;
  if (g->packed_groups == 1) return DYCE__CONV_DENSE;
  if (g->packed_groups == g->packed_in_c && g->packed_out_c == g->packed_in_c)
    return DYCE__CONV_DEPTHWISE;
  if (g->packed_in_c % g->packed_groups == 0 && g->packed_out_c % g->packed_groups == 0)
    return DYCE__CONV_GROUPED; /* never narrowed by a width level (levels.c) */
  return DYCE__CONV_REFERENCE;
}

static size_t taps(const dyce__window *g) { return (size_t)g->kh * g->kw; }

/* The packed panels of one group: [kh*kw*in_c/groups] x out_c/groups. */
static size_t group_floats(const dyce__window *g) {
  return dyce__simd_gemm_packed_floats(taps(g) * (g->in_c / g->groups),
                                       g->out_c / g->groups, CFG.nr);
}

size_t dyce__simd_conv2d_packed_floats(const dyce__window *g) {
  switch (dyce__simd_conv_kind(g)) {
    case DYCE__CONV_WINOGRAD: return dyce__simd_winograd_packed_floats(g);
    case DYCE__CONV_DENSE:
      return dyce__simd_gemm_packed_floats(taps(g) * g->in_c, g->out_c, CFG.nr);
    case DYCE__CONV_DEPTHWISE: return dyce__simd_dwconv_packed_floats(g);
    case DYCE__CONV_GROUPED: return g->groups * group_floats(g);
    default: return dyce__ref_conv2d_packed_floats(g);
  }
}

/* OHWI is [out_c][kh*kw*in_c], the k order the indirection buffer walks
 * (grouped: [out_c][kh*kw*in_c/groups], each group's rows a matrix). */
void dyce__simd_pack_conv2d(const dyce__window *g, const float *ohwi,
                            float *dst) {
  switch (dyce__simd_conv_kind(g)) {
    case DYCE__CONV_WINOGRAD: dyce__simd_pack_winograd(g, ohwi, dst); break;
    case DYCE__CONV_DENSE:
      dyce__simd_pack_gemm(taps(g) * g->in_c, g->out_c, CFG.nr, ohwi, dst);
      break;
    case DYCE__CONV_DEPTHWISE: dyce__simd_pack_dwconv(g, ohwi, dst); break;
    case DYCE__CONV_GROUPED: {
      size_t k = taps(g) * (g->in_c / g->groups), n = g->out_c / g->groups;
      for (size_t q = 0; q < g->groups; q++)
        dyce__simd_pack_gemm(k, n, CFG.nr, ohwi + q * n * k, dst + q * group_floats(g));
      break;
    }
    default: dyce__ref_pack_conv2d(g, ohwi, dst); break;
  }
}

/* Gathered and 1x1 scratch: a zero row of in_c floats for padding taps,
 * then the pointers (and gathered rows) of the path (see below). */
static size_t zero_floats(const dyce__window *g) {
  return dyce__round4(g->in_c);
}

/* Windows larger than 1x1 with dilation 1 and every channel active (all
 * but width levels' narrowed convolutions) run by kernel rows: the kw taps
 * of a kernel row are adjacent in memory, so the microkernel takes one
 * pointer per kernel row (kw * in_c floats, read in place) and only rows
 * cut by the left/right padding are copied (with zeros) to scratch. That
 * matters most with few input channels (an RGB or grayscale stem), where
 * a pointer per tap gave the microkernel only in_c multiply-adds between
 * pointer loads: the 28x28x1 stem of the smallest Fashion-MNIST saver
 * took 3.6 us instead of 6.9, MobileNetV2's 0.79 ms instead of 1.12; with
 * 64-512 channels it measured the same as a pointer per tap. Other
 * windows larger than 1x1 gather mr whole rows of kh*kw*in_c floats first
 * (per-tile im2col, zeros for the channels a level leaves out). Both need
 * a few KiB of scratch (a pointer per pixel and tap took 2.4 MiB for
 * ResNet-18's stem); 1x1 convolutions take a pointer per pixel. */
static int by_rows(const dyce__window *g) {
  return taps(g) > 1 && g->dw == 1 && g->in_c == g->packed_in_c;
}

/* Scratch of each path. The planner sizes it with the full window, and a
 * width level that narrows in_c switches a row convolution to the gather,
 * so a row convolution reserves both. */
static size_t rows_bytes(const dyce__window *g) {
  size_t rowk = (size_t)g->kw * g->packed_in_c;
  return (dyce__round4(rowk) + CFG.mr * g->kh * rowk) *
             sizeof(float) +
         CFG.mr * (size_t)g->kh * sizeof(float *);
}
static size_t gather_bytes(const dyce__window *g) {
  return (zero_floats(g) + CFG.mr * taps(g) * g->packed_in_c) * sizeof(float) +
         taps(g) * sizeof(float *);
}

/* In 64 bits and saturated: a crafted window (2^18 pixels x 2^18 taps)
 * would wrap a 32-bit size_t, and SIZE_MAX makes the planner refuse it. */
static size_t indirection_bytes(const dyce__window *g) {
  uint64_t bytes = (uint64_t)g->out_h * g->out_w * taps(g) * sizeof(float *) +
                   zero_floats(g) * sizeof(float);
  return bytes > SIZE_MAX ? SIZE_MAX : (size_t)bytes;
}

/* Grouped: the zero pixel, then a tile's tap pointers. */
static size_t grouped_bytes(const dyce__window *g) {
  return zero_floats(g) * sizeof(float) + CFG.mr * taps(g) * sizeof(float *);
}

size_t dyce__simd_conv2d_scratch_bytes(const dyce__window *g) {
  switch (dyce__simd_conv_kind(g)) {
    case DYCE__CONV_WINOGRAD: return dyce__simd_winograd_scratch_bytes(g);
    case DYCE__CONV_DENSE: {
      if (taps(g) == 1) return indirection_bytes(g);
      size_t gather = gather_bytes(g), rows = g->dw == 1 ? rows_bytes(g) : 0;
      return rows > gather ? rows : gather;
    }
    case DYCE__CONV_DEPTHWISE: return dyce__simd_dwconv_scratch_bytes(g);
    case DYCE__CONV_GROUPED: return grouped_bytes(g);
    default: return dyce__ref_conv2d_scratch_bytes(g);
  }
}

const float **dyce__simd_pixel_taps(const dyce__window *g, const float *in,
                                    const float *zero, size_t pixel,
                                    const float **p) {
  size_t oy = pixel / g->out_w, ox = pixel % g->out_w;
  for (uint32_t ky = 0; ky < g->kh; ky++)
    for (uint32_t kx = 0; kx < g->kw; kx++) {
      long at = dyce__window_tap(g, oy, ox, ky, kx);
      *p++ = at < 0 ? zero : in + (size_t)at * g->in_c;
    }
  return p;
}

/* 1x1: a pointer per output pixel, row by row (no division per pixel:
 * MobileNetV2 builds 50 000 of them per run). */
static void conv_1x1(const dyce__window *g, const float *in,
                     const float *packed, const float *bias,
                     dyce__clamp clamp, float *out, size_t ldc, float *zero) {
  size_t pixels = (size_t)g->out_h * g->out_w;
  const float **ind = (const float **)(void *)(zero + zero_floats(g));
  const float **p = ind;
  for (uint32_t oy = 0; oy < g->out_h; oy++) {
    long iy = (long)oy * g->sh - (long)g->pad_t;
    int row_inside = iy >= 0 && iy < (long)g->in_h;
    const float *row = in + (row_inside ? (size_t)iy * g->in_w * g->in_c : 0);
    for (uint32_t ox = 0; ox < g->out_w; ox++) {
      long ix = (long)ox * g->sw - (long)g->pad_l;
      *p++ = row_inside && ix >= 0 && ix < (long)g->in_w
                 ? row + (size_t)ix * g->in_c : zero;
    }
  }
  dyce__simd_gemm_rows(pixels, g->out_c, g->in_c, g->packed_in_c, taps(g),
                       ind, packed, bias, out, ldc, clamp);
}

/* Scratch: zero row, one pixel's tap pointers, then mr gathered rows.
 * Rows follow the packed layout, [tap][packed_in_c], so channels a width
 * level leaves out are gathered as zeros. */
static void conv_gathered(const dyce__window *g, const float *in,
                          const float *packed, const float *bias,
                          dyce__clamp clamp, float *out, size_t ldc,
                          float *zero) {
  size_t pixels = (size_t)g->out_h * g->out_w, t = taps(g), c = g->in_c;
  size_t cp = g->packed_in_c, k = t * cp, mr_max = CFG.mr;
  const float **tap = (const float **)(void *)(zero + zero_floats(g));
  float *tile = (float *)(void *)(tap + t);
  const float *rows[16];
  for (size_t m0 = 0; m0 < pixels; m0 += mr_max) {
    size_t mr = pixels - m0 < mr_max ? pixels - m0 : mr_max;
    for (size_t i = 0; i < mr; i++) {
      float *row = tile + i * k;
      dyce__simd_pixel_taps(g, in, zero, m0 + i, tap);
      /* A few floats per tap: a loop, not a memcpy call per tap. */
      for (size_t j = 0; j < t; j++)
        for (size_t q = 0; q < cp; q++) row[j * cp + q] = q < c ? tap[j][q] : 0.0f;
      rows[i] = row;
    }
    dyce__simd_gemm_rows(mr, g->out_c, k, k, 1, rows, packed, bias,
                         out + m0 * ldc, ldc, clamp);
  }
}

/* Scratch: a zero kernel row (kw * in_c, rounded up so the pointers after
 * it are aligned), mr * kh row pointers, then mr * kh kernel rows for the
 * ones cut by the padding. */
static void conv_rows(const dyce__window *g, const float *in,
                      const float *packed, const float *bias,
                      dyce__clamp clamp, float *out, size_t ldc,
                      float *zero_row) {
  const size_t pixels = (size_t)g->out_h * g->out_w, c = g->in_c;
  const size_t kh = g->kh, kw = g->kw, rowk = kw * c, mr_max = CFG.mr;
  const float **rows =
      (const float **)(void *)(zero_row + dyce__round4(rowk));
  float *cut = (float *)(void *)(rows + mr_max * kh);
  memset(zero_row, 0, rowk * sizeof(float));
  for (size_t m0 = 0; m0 < pixels; m0 += mr_max) {
    size_t mr = pixels - m0 < mr_max ? pixels - m0 : mr_max;
    for (size_t i = 0; i < mr; i++) {
      size_t oy = (m0 + i) / g->out_w, ox = (m0 + i) % g->out_w;
      long ix0 = (long)ox * g->sw - (long)g->pad_l;
      int whole = ix0 >= 0 && ix0 + (long)kw <= (long)g->in_w;
      for (size_t ky = 0; ky < kh; ky++) {
        long iy = (long)oy * g->sh - (long)g->pad_t + (long)ky * g->dh;
        const float **r = rows + i * kh + ky;
        if (iy < 0 || iy >= (long)g->in_h) {
          *r = zero_row;
          continue;
        }
        const float *src = in + (size_t)iy * g->in_w * c;
        if (whole) {
          *r = src + (size_t)ix0 * c;
          continue;
        }
        float *dst = cut + (i * kh + ky) * rowk;
        for (size_t kx = 0; kx < kw; kx++) {
          long ix = ix0 + (long)kx;
          for (size_t q = 0; q < c; q++)
            dst[kx * c + q] =
                ix >= 0 && ix < (long)g->in_w ? src[(size_t)ix * c + q] : 0.0f;
        }
        *r = dst;
      }
    }
    dyce__simd_gemm_rows(mr, g->out_c, rowk, rowk, kh, rows, packed, bias,
                         out + m0 * ldc, ldc, clamp);
  }
}

/* Grouped convolutions: per tile of mr output pixels, each pixel's
 * kh*kw tap pointers (padding taps at the zero pixel, in_c floats long),
 * then for each group one indirect GEMM of kh*kw taps of in_c/groups
 * floats into its out_c/groups output channels, after which every
 * pointer moves on to the next group's channels. (They ran on the scalar
 * reference before: RegNetY-400MF took 1.9x onnxruntime-web's time.) */
static void conv_grouped(const dyce__window *g, const float *in,
                         const float *packed, const float *bias,
                         dyce__clamp clamp, float *out, size_t ldc,
                         float *zero) {
  size_t pixels = (size_t)g->out_h * g->out_w, t = taps(g);
  size_t cin = g->in_c / g->groups, cout = g->out_c / g->groups;
  size_t panels = group_floats(g), mr_max = CFG.mr;
  const float **tap = (const float **)(void *)(zero + zero_floats(g));
  for (size_t m0 = 0; m0 < pixels; m0 += mr_max) {
    size_t mr = pixels - m0 < mr_max ? pixels - m0 : mr_max;
    const float **p = tap;
    for (size_t i = 0; i < mr; i++) p = dyce__simd_pixel_taps(g, in, zero, m0 + i, p);
    dyce__igemm_fn fn = mr == 1 ? CFG.igemm_1 : CFG.igemm;
    for (size_t q = 0; q < g->groups; q++) {
      fn(mr, cout, cin, cin, t, tap, packed + q * panels,
         bias ? bias + q * cout : NULL, out + m0 * ldc + q * cout, ldc, clamp);
      for (size_t j = 0; j < mr * t; j++) tap[j] += cin;
    }
  }
}

void dyce__simd_conv2d(const dyce__window *g, const float *in,
                       const float *packed, const float *bias,
                       dyce__activation act, float *out, void *scratch) {
  dyce__conv_kind kind = dyce__simd_conv_kind(g);
  if (kind == DYCE__CONV_REFERENCE) {
    dyce__ref_conv2d(g, in, packed, bias, act, out, scratch);
    return;
  }
  int rest;
  dyce__clamp clamp = dyce__simd_clamp(act, &rest);
  size_t pixels = (size_t)g->out_h * g->out_w;
  size_t ldc = g->out_stride ? g->out_stride : g->out_c;
  float *zero = scratch;
  if (kind == DYCE__CONV_DENSE && g->out_c0) { /* panels of nr channels */
    packed += (size_t)g->out_c0 * taps(g) * g->packed_in_c;
    if (bias) bias += g->out_c0;
    out += g->out_c0;
  }
  if (kind == DYCE__CONV_DEPTHWISE) {
    dyce__simd_dwconv(g, in, packed, bias, clamp, out, scratch);
  } else if (kind == DYCE__CONV_GROUPED) {
    memset(zero, 0, sizeof(float) * zero_floats(g));
    conv_grouped(g, in, packed, bias, clamp, out, ldc, zero);
  } else if (kind == DYCE__CONV_WINOGRAD) {
    dyce__simd_conv_winograd(g, in, packed, bias, clamp, out, scratch);
  } else if (by_rows(g)) {
    conv_rows(g, in, packed, bias, clamp, out, ldc, zero);
  } else {
    memset(zero, 0, sizeof(float) * zero_floats(g));
    if (taps(g) > 1)
      conv_gathered(g, in, packed, bias, clamp, out, ldc, zero);
    else
      conv_1x1(g, in, packed, bias, clamp, out, ldc, zero);
  }
  if (rest && ldc == g->out_c) dyce__simd_activate(act, out, pixels * g->out_c);
  else if (rest)
    for (size_t p = 0; p < pixels; p++) dyce__simd_activate(act, out + p * ldc, g->out_c);
}

uint32_t dyce__simd_conv2d_row_block(const dyce__window *g) {
  return dyce__simd_conv_kind(g) == DYCE__CONV_WINOGRAD ? 2 : 1;
}

/* Dense GEMM convolutions compute each output channel alone, a panel of
 * nr at a time: a range of whole panels is a smaller call. */
uint32_t dyce__simd_conv2d_channel_block(const dyce__window *g) {
  return dyce__simd_conv_kind(g) == DYCE__CONV_DENSE ? CFG.nr : 0;
}
