/* resize: nearest or bilinear resampling of height and width, the form of
 * F.interpolate / nn.Upsample (docs/FORMAT.md, op 18). */
#include <math.h>
#include <string.h>

#include "ops.h"

static float param_f32(const dyce__node *node, int slot) {
  float v;
  memcpy(&v, &node->p[slot], sizeof v);
  return v;
}

static void resize_of(const dyce__node *node, const dyce__shape *tensors,
                      dyce__resize *r) {
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  *r = (dyce__resize){in.h, in.w, in.c, out.h, out.w,
                      node->p[DYCE__P_RESIZE_MODE], node->p[DYCE__P_RESIZE_ALIGN],
                      param_f32(node, DYCE__P_RESIZE_INV_H),
                      param_f32(node, DYCE__P_RESIZE_INV_W)};
}

static dyce_status check_resize(dyce__node *node, const dyce__shape *tensors,
                                const dyce__kernels *k, dyce_error *err) {
  (void)k;
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  dyce__shape want = {.h = out.h, .w = out.w, .c = in.c};
  dyce_status s = dyce__expect_plain(node, tensors, want, err);
  if (s || (s = dyce__expect_flag(node, DYCE__P_RESIZE_MODE, "resize", "nearest",
                                  "bilinear", err)) ||
      (s = dyce__expect_flag(node, DYCE__P_RESIZE_ALIGN, "resize", "half-pixel",
                             "align corners", err)))
    return s;
  for (int slot = DYCE__P_RESIZE_INV_H; slot <= DYCE__P_RESIZE_INV_W; slot++) {
    float v = param_f32(node, slot);
    if (!(v >= 0.0f) || !isfinite(v))
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "resize: p[%d] (source step) %g is not a finite number >= 0",
                        slot, (double)v);
  }
  /* The last output row and column read inside the input (F.interpolate's
   * steps always do). */
  dyce__resize r;
  resize_of(node, tensors, &r);
  float last_y = dyce__resize_source(&r, r.inv_h, r.out_h - 1);
  float last_x = dyce__resize_source(&r, r.inv_w, r.out_w - 1);
  if (!(last_y < (float)in.h) || !(last_x < (float)in.w))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "resize: the last output pixel reads source position "
                      "(%g, %g) of a %ux%u input", (double)last_y,
                      (double)last_x, in.h, in.w);
  return DYCE_OK;
}

static void run_resize(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *const *ptr,
                       void *scratch) {
  (void)scratch;
  dyce__resize r;
  resize_of(node, tensors, &r);
  k->resize(&r, ptr[node->in0], ptr[node->out]);
}

const dyce__op_def dyce__op_resize = {"resize", check_resize, NULL, run_resize,
                                      NULL, NULL, NULL, NULL};
