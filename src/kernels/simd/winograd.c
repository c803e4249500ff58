/*
 * f32-conv-3x3-winograd-f2: 3x3 stride-1 dense convolutions by Winograd's
 * F(2x2, 3x3) (Lavin & Gray, "Fast Algorithms for Convolutional Neural
 * Networks"). Each 2x2 block of output pixels comes from a 4x4 input
 * window: the window is transformed (V = B' d B), multiplied channel by
 * channel with the transformed weights (U = G g G', packed at load) as 16
 * independent GEMMs over the input channels, and transformed back
 * (Y = A' M A). 16 multiplies per 4 outputs instead of 36: 2.25x fewer
 * multiply-adds, run by the same igemm microkernel as every other GEMM.
 *
 * Used for 8 to 128 input channels. Fewer, and the transforms cost more
 * than the multiplies they save. More, and the transformed weights (16/9
 * of the direct ones) cost more memory than the layer gains: such layers
 * sit deep in a network, with few pixels left to share each transformed
 * weight (ResNet-18's 256- and 512-channel convolutions would add 26 MiB).
 * The rule reads only the input channels, so a block of output channels
 * (the loader's in-place packing) is decided like its whole layer.
 * Rounding differs from the direct sum by a few ulps of the operands
 * (the transforms only add, subtract and halve).
 */
#include "simd.h"

#define CFG dyce__simd_config_this_target
#define TILES 16 /* 2x2 output blocks transformed and multiplied together */

int dyce__simd_winograd_applies(const dyce__window *g) {
  return g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
         g->dh == 1 && g->dw == 1 && g->packed_groups == 1 &&
         g->packed_in_c >= 8 && g->packed_in_c <= 128;
}

/* One of the 16 GEMM weight matrices, in the panels of dyce__simd_pack_gemm. */
static size_t matrix_floats(const dyce__window *g) {
  return dyce__simd_gemm_packed_floats(g->packed_in_c, g->packed_out_c, CFG.nr);
}

size_t dyce__simd_winograd_packed_floats(const dyce__window *g) {
  return 16 * matrix_floats(g);
}

/* OHWI [out_c][3][3][in_c] -> 16 matrices U[e][in_c][out_c] (panels of nr
 * output channels), U = G g G' per (out, in) pair, e = 4 * row + column.
 * Four input channels at a time (adjacent in OHWI): this runs at load,
 * before a browser has optimised the module, where each scalar operation
 * costs several; the same operations in the same order per lane as a
 * scalar loop, so the packed weights are the same bits. */
void dyce__simd_pack_winograd(const dyce__window *g, const float *ohwi,
                              float *dst) {
  const size_t ic = g->packed_in_c, oc = g->packed_out_c, nr = CFG.nr;
  const size_t mf = matrix_floats(g);
  const dyce__vf half = dyce__vf_splat(0.5f);
  memset(dst, 0, 16 * mf * sizeof(float)); /* panel columns past out_c */
  for (size_t o = 0; o < oc; o++) {
    const float *w = ohwi + o * 9 * ic;
    float *panel = dst + (o / nr) * ic * nr + o % nr;
    for (size_t i = 0; i < ic; i += DYCE__VF_LANES) {
      const size_t n = ic - i < DYCE__VF_LANES ? ic - i : DYCE__VF_LANES;
      dyce__vf t[4][3], u[16];
      for (size_t kx = 0; kx < 3; kx++) { /* G g */
        dyce__vf w0 = dyce__vf_load_partial(w + kx * ic + i, n);
        dyce__vf w1 = dyce__vf_load_partial(w + (3 + kx) * ic + i, n);
        dyce__vf w2 = dyce__vf_load_partial(w + (6 + kx) * ic + i, n);
        t[0][kx] = w0;
        t[1][kx] = half * (w0 + w1 + w2);
        t[2][kx] = half * (w0 - w1 + w2);
        t[3][kx] = w2;
      }
      for (size_t r = 0; r < 4; r++) { /* (G g) G' */
        u[4 * r + 0] = t[r][0];
        u[4 * r + 1] = half * (t[r][0] + t[r][1] + t[r][2]);
        u[4 * r + 2] = half * (t[r][0] - t[r][1] + t[r][2]);
        u[4 * r + 3] = t[r][2];
      }
      for (size_t e = 0; e < 16; e++)
        for (size_t l = 0; l < n; l++) panel[e * mf + (i + l) * nr] = u[e][l];
    }
  }
}

/* Row lengths of the transformed inputs (V) and products (M): whole
 * vectors, so the transforms never need a partial load or store. */
static size_t v_len(const dyce__window *g) { return dyce__round4(g->packed_in_c); }
static size_t m_len(const dyce__window *g) { return dyce__round4(g->packed_out_c); }

/* Scratch: a zero row (padding), V[16][TILES][v_len], M[16][TILES][m_len],
 * then TILES row pointers. */
size_t dyce__simd_winograd_scratch_bytes(const dyce__window *g) {
  return (v_len(g) + 16 * TILES * (v_len(g) + m_len(g))) * sizeof(float) +
         TILES * sizeof(float *);
}

/* V = B' d B for the 4x4 input window at (iy0, ix0), every channel; the 16
 * results go `stride` floats apart. */
static void input_tile(const dyce__window *g, const float *in,
                       const float *zero, long iy0, long ix0, float *v,
                       size_t stride) {
  const float *p[4][4];
  for (long r = 0; r < 4; r++)
    for (long c = 0; c < 4; c++) {
      long iy = iy0 + r, ix = ix0 + c;
      int inside = iy >= 0 && iy < (long)g->in_h && ix >= 0 && ix < (long)g->in_w;
      p[r][c] = inside ? in + ((size_t)iy * g->in_w + (size_t)ix) * g->in_c : zero;
    }
  const size_t ic = g->in_c;
  for (size_t c0 = 0; c0 < ic; c0 += 4) {
    const size_t n = ic - c0 < 4 ? ic - c0 : 4;
    dyce__vf d[4][4];
    for (size_t r = 0; r < 4; r++)
      for (size_t c = 0; c < 4; c++)
        d[r][c] = dyce__vf_load_n(p[r][c] + c0, n);
    for (size_t c = 0; c < 4; c++) { /* B' d: rows */
      dyce__vf a0 = d[0][c] - d[2][c], a1 = d[1][c] + d[2][c];
      dyce__vf a2 = d[2][c] - d[1][c], a3 = d[1][c] - d[3][c];
      d[0][c] = a0, d[1][c] = a1, d[2][c] = a2, d[3][c] = a3;
    }
    for (size_t r = 0; r < 4; r++) { /* (B' d) B: columns */
      float *o = v + 4 * r * stride + c0;
      dyce__vf_store(o, d[r][0] - d[r][2]);
      dyce__vf_store(o + stride, d[r][1] + d[r][2]);
      dyce__vf_store(o + 2 * stride, d[r][2] - d[r][1]);
      dyce__vf_store(o + 3 * stride, d[r][1] - d[r][3]);
    }
  }
}

/* Y = A' M A + bias, clamped, for the 2x2 output block at (oy0, ox0): the
 * 16 products of one block are `stride` floats apart. */
static void output_tile(const dyce__window *g, const float *m, size_t stride,
                        const float *bias, dyce__clamp clamp, float *out,
                        size_t oy0, size_t ox0) {
  const size_t oc = g->out_c;
  const size_t rows = g->out_h - oy0 < 2 ? 1 : 2, cols = g->out_w - ox0 < 2 ? 1 : 2;
  float *y = out + (oy0 * g->out_w + ox0) * oc;
  for (size_t o0 = 0; o0 < oc; o0 += 4) {
    const size_t n = oc - o0 < 4 ? oc - o0 : 4;
    dyce__vf s0[4], s1[4];
    for (size_t r = 0; r < 4; r++) { /* M A: per row */
      const float *q = m + 4 * r * stride + o0;
      dyce__vf m0 = dyce__vf_load(q), m1 = dyce__vf_load(q + stride);
      dyce__vf m2 = dyce__vf_load(q + 2 * stride), m3 = dyce__vf_load(q + 3 * stride);
      s0[r] = m0 + m1 + m2;
      s1[r] = m1 - m2 - m3;
    }
    dyce__vf b = bias ? dyce__vf_load_n(bias + o0, n) : dyce__vf_zero();
    dyce__vf v[2][2] = {{s0[0] + s0[1] + s0[2] + b, s1[0] + s1[1] + s1[2] + b},
                        {s0[1] - s0[2] - s0[3] + b, s1[1] - s1[2] - s1[3] + b}};
    for (size_t i = 0; i < rows; i++)
      for (size_t j = 0; j < cols; j++) {
        dyce__vf_store_n(y + (i * g->out_w + j) * oc + o0,
                dyce__clamp_apply(clamp, v[i][j]), n);
      }
  }
}

void dyce__simd_conv_winograd(const dyce__window *g, const float *in,
                              const float *packed, const float *bias,
                              dyce__clamp clamp, float *out, void *scratch) {
  const size_t vl = v_len(g), ml = m_len(g), mf = matrix_floats(g);
  float *zero = scratch, *v = zero + vl, *m = v + 16 * TILES * vl;
  const float **rows = (const float **)(void *)(m + 16 * TILES * ml);
  memset(zero, 0, vl * sizeof(float));
  int rest;
  const dyce__clamp none = dyce__simd_clamp((dyce__activation){DYCE__ACT_NONE, 0, 0}, &rest);
  const size_t tw = (g->out_w + 1) / 2, tiles = (g->out_h + 1) / 2 * tw;
  for (size_t t0 = 0; t0 < tiles; t0 += TILES) {
    const size_t nt = tiles - t0 < TILES ? tiles - t0 : TILES;
    for (size_t t = 0; t < nt; t++) {
      size_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
      input_tile(g, in, zero, (long)ty * 2 - (long)g->pad_t,
                 (long)tx * 2 - (long)g->pad_l, v + t * vl, TILES * vl);
    }
    for (size_t e = 0; e < 16; e++) {
      for (size_t t = 0; t < nt; t++) rows[t] = v + (e * TILES + t) * vl;
      dyce__simd_gemm_rows(nt, g->out_c, g->in_c, g->packed_in_c, 1, rows,
                           packed + e * mf, NULL, m + e * TILES * ml, ml, none);
    }
    for (size_t t = 0; t < nt; t++) {
      size_t ty = (t0 + t) / tw, tx = (t0 + t) % tw;
      output_tile(g, m + t * ml, TILES * ml, bias, clamp, out, ty * 2, tx * 2);
    }
  }
}
