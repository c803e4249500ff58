/*
 * Convolution through Debian's XNNPACK (native builds configured with
 * -DDYCE_XNNPACK=ON): a fast path for native runs and an independent
 * oracle for the SIMD kernels in the tests.
 *
 * Packed layout: a 16-byte header holding the xnn_operator_t (which owns
 * XNNPACK's own packed copy of the weights, built at load), then the SIMD
 * table's packed weights, used if XNNPACK refuses the operator. Running
 * sets the operator up with this run's input and output, so a model must
 * not be run by two sessions at the same time with this table; the first
 * run of an operator lets XNNPACK allocate its indirection buffer. A width
 * level (fewer active channels than packed) runs the SIMD copy: XNNPACK's
 * operator has its channel counts fixed at creation.
 */
#include <string.h>
#include <xnnpack.h>

#include "../simd/simd.h"
#include "backend.h"

#define HEADER_FLOATS 4 /* room for a pointer, keeps the rest 16-byte aligned */

static xnn_operator_t op_of(const float *packed) {
  xnn_operator_t op;
  memcpy(&op, packed, sizeof op);
  return op;
}

size_t dyce__xnn_conv2d_packed_floats(const dyce__window *g) {
  return HEADER_FLOATS + dyce__simd_conv2d_packed_floats(g);
}

void dyce__xnn_pack_conv2d(const dyce__window *g, const float *ohwi,
                           float *dst) {
  xnn_operator_t none = NULL;
  memcpy(dst, &none, sizeof none);
  dyce__simd_pack_conv2d(g, ohwi, dst + HEADER_FLOATS);
}

/* Bottom/right padding that gives the window's output size (the window
 * keeps only top/left; floor mode may have dropped the rest). */
static uint32_t far_pad(uint32_t out, uint32_t stride, uint32_t dil,
                        uint32_t k, uint32_t in, uint32_t near) {
  long need = (long)(out - 1) * stride + (long)dil * (k - 1) + 1 - in - near;
  return need > 0 ? (uint32_t)need : 0;
}

void dyce__xnn_prepare_conv2d(const dyce__window *g, const float *ohwi,
                              const float *bias, dyce__activation act,
                              float *dst) {
  dyce__xnn_pack_conv2d(g, ohwi, dst);
  int rest;
  dyce__clamp clamp = dyce__simd_clamp(act, &rest);
  xnn_operator_t op = NULL;
  if (xnn_initialize(NULL) != xnn_status_success) return;
  if (xnn_create_convolution2d_nhwc_f32(
          g->pad_t, far_pad(g->out_w, g->sw, g->dw, g->kw, g->in_w, g->pad_l),
          far_pad(g->out_h, g->sh, g->dh, g->kh, g->in_h, g->pad_t), g->pad_l,
          g->kh, g->kw, g->sh, g->sw, g->dh, g->dw, g->groups,
          g->in_c / g->groups, g->out_c / g->groups, g->in_c, g->out_c, ohwi,
          bias, clamp.lo[0], clamp.hi[0], 0, &op) != xnn_status_success)
    op = NULL; /* the SIMD kernels run this node instead */
  memcpy(dst, &op, sizeof op);
}

void dyce__xnn_release_conv2d(const float *packed) {
  xnn_operator_t op = op_of(packed);
  if (op) xnn_delete_operator(op);
}

size_t dyce__xnn_conv2d_scratch_bytes(const dyce__window *g) {
  return dyce__simd_conv2d_scratch_bytes(g);
}

/* XNNPACK operators are set up for their whole window: never split
 * (ops/conv2d.c keeps kernels with state on one thread). */
uint32_t dyce__xnn_conv2d_row_block(const dyce__window *g) {
  return dyce__simd_conv2d_row_block(g);
}

uint32_t dyce__xnn_conv2d_channel_block(const dyce__window *g) {
  (void)g;
  return 0;
}

void dyce__xnn_conv2d(const dyce__window *g, const float *in,
                      const float *packed, const float *bias,
                      dyce__activation act, float *out, void *scratch) {
  xnn_operator_t op = op_of(packed);
  int narrowed = g->in_c != g->packed_in_c || g->out_c != g->packed_out_c;
  if (op && !narrowed &&
      xnn_setup_convolution2d_nhwc_f32(op, 1, g->in_h, g->in_w, in, out,
                                       NULL) == xnn_status_success &&
      xnn_run_operator(op, NULL) == xnn_status_success) {
    int rest;
    dyce__simd_clamp(act, &rest);
    if (rest) dyce__simd_activate(act, out, (size_t)g->out_h * g->out_w * g->out_c);
    return;
  }
  dyce__simd_conv2d(g, in, packed + HEADER_FLOATS, bias, act, out, scratch);
}
