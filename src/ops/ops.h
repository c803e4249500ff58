/*
 * The op layer: one definition per operator, in the spirit of TFLite
 * Micro's {prepare, invoke}. `check` validates a node against its input
 * shapes and the file's output shape and fills in what the planner needs;
 * `pack` lays weights out for the kernel once, at load; `run` calls the
 * kernel. Ops never name a kernel: they go through a dyce__kernels table.
 */
#ifndef DYCE_OPS_OPS_H
#define DYCE_OPS_OPS_H

#include "../core/internal.h"
#include "../kernels/kernels.h"
#include "node.h"

struct dyce__op_def {
  const char *name;
  /* Validates parameters, inputs, weight and bias counts and the output
   * shape. Sets node->macs, node->packed_count and node->scratch_bytes. The
   * message says what is wrong; the loader prefixes graph and node. */
  dyce_status (*check)(dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, dyce_error *err);
  /* Writes node->packed_count floats to `dst`. NULL: copy file weights. */
  void (*pack)(const dyce__node *node, const dyce__shape *tensors,
               const dyce__kernels *k, float *dst);
  /* Computes the node's output; `ptr` holds every tensor's buffer. The
   * shapes are those of the session's width level (docs/FORMAT.md, LEVL):
   * the file's shapes, or the same with fewer channels, which the weights
   * serve as a prefix (node->full_in_c / full_out_c are the packed sizes). */
  void (*run)(const dyce__node *node, const dyce__shape *tensors,
              const dyce__kernels *k, float *const *ptr, void *scratch);
  /* Optional: packs the node's file weights where they are (`w`), one
   * block of k->pack_block_rows output channels at a time through `temp`
   * (dyce__row_floats(node) * pack_block_rows floats). Returns 0, touching
   * nothing, when the layout does not allow it. */
  int (*pack_in_place)(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, float *w, float *temp);
  /* Optional, for threads: into how many parts (2..max_parts) the node's
   * work divides, each part writing its own slice of the output with the
   * same results as `run`; the workspace a part needs goes to
   * *part_scratch. 1: the node runs whole. Asked at planning time with
   * the file's shapes; the parts stay the same at every width level. */
  uint32_t (*split)(const dyce__node *node, const dyce__shape *tensors,
                    const dyce__kernels *k, uint32_t max_parts,
                    size_t *part_scratch);
  /* Runs part `part` of the `parts` that `split` gave, with its own
   * workspace; parts of one node run at the same time. */
  void (*run_part)(const dyce__node *node, const dyce__shape *tensors,
                   const dyce__kernels *k, float *const *ptr, void *scratch,
                   uint32_t part, uint32_t parts);
  /* Optional, for threads that run the parts of consecutive nodes
   * without waiting in between (runtime/chains.c): part `part` of `parts`
   * writes output pixels [w[0], w[1]) (row-major, every channel) and
   * reads pixels [r[0], r[1]) of its input tensor `input`. 0 when the
   * part's output is not such a range (a part of output channels). */
  int (*part_pixels)(const dyce__node *node, const dyce__shape *tensors,
                     const dyce__kernels *k, uint32_t part, uint32_t parts,
                     uint32_t input, size_t w[2], size_t r[2]);
};

/* Floats of one output channel's weights in the file (0 without weights). */
static inline size_t dyce__row_floats(const dyce__node *node) {
  return node->full_out_c ? node->weight_count / node->full_out_c : 0;
}

/* The definition of operator `code`, or NULL when the code is unknown. */
const dyce__op_def *dyce__op_find(uint32_t code);
const char *dyce__act_name(uint32_t act);

/* Shared by the ops' check functions. */
dyce_status dyce__expect_shape(const dyce__node *node,
                               const dyce__shape *tensors, dyce__shape want,
                               dyce_error *err);
dyce_status dyce__expect_counts(const dyce__node *node, uint32_t weights,
                                uint32_t bias_max, int wants_in1,
                                dyce_error *err);
/* A node that moves or reduces data: one input, no weights or bias, no
 * fused activation, an output of shape `want`. */
dyce_status dyce__expect_plain(const dyce__node *node,
                               const dyce__shape *tensors, dyce__shape want,
                               dyce_error *err);
/* p[slot] is 0 or 1; the message names the op and what each means. */
dyce_status dyce__expect_flag(const dyce__node *node, int slot,
                              const char *op, const char *zero,
                              const char *one, dyce_error *err);
/* p[first], p[first + 1], ... p[11] are 0; the message names the op and
 * the slot. */
dyce_status dyce__expect_unused(const dyce__node *node, int first,
                                const char *op, dyce_error *err);
/* Reads kernel/stride/padding (and dilation when `dilated`) from p[] into
 * a window over `in`, computing the output size; checks ranges. */
dyce_status dyce__window_from_params(const dyce__node *node, dyce__shape in,
                                     int dilated, dyce__window *g,
                                     dyce_error *err);
dyce__activation dyce__node_activation(const dyce__node *node);
/* A convolution's window for a run at the session's width level
 * (`tensors`): active channels next to the packed ones. */
void dyce__conv2d_run_window(const dyce__node *node,
                             const dyce__shape *tensors, dyce__window *g);
/* Threads split a convolution into bands of output rows starting at
 * multiples of `block` (conv2d.c): how many parts (1: whole) and the first
 * band's window (the largest workspace); then part `part`'s window, its
 * first input row and first output row (0 when the part is empty). */
uint32_t dyce__conv2d_band_parts(const dyce__window *g, uint32_t block,
                                 uint32_t max_parts, dyce__window *first);
int dyce__conv2d_band(const dyce__window *g, uint32_t block, uint32_t part,
                      uint32_t parts, dyce__window *sub, size_t *in_row,
                      uint32_t *out_row);
/* Bands of rows, shared by convolutions and elementwise ops so that their
 * parts cover the same rows (runtime/chains.c): `total` rows in blocks of
 * `block`, whole blocks each, evenly into at most `max_parts` bands — how
 * many (1: whole) — and band `part`'s rows [*y0, *y1) (0 when empty). */
uint32_t dyce__bands(uint32_t total, uint32_t block, uint32_t max_parts);
int dyce__band(uint32_t total, uint32_t block, uint32_t part, uint32_t parts,
               uint32_t *y0, uint32_t *y1);


/* ---- int8 (docs/INT8.md; q8_*.c) ------------------------------------- */

/* The int8 form of operator `code`, or NULL when it has none. */
const dyce__op_def *dyce__op_find_q8(uint32_t code);
/* The element types of a node's tensors follow the rules of docs/INT8.md
 * (all float32 or all int8 but for quantize / dequantize; equal scale and
 * zero point where the op moves data; int8 fusing none, relu or clip). */
dyce_status dyce__check_types(const dyce__node *node,
                              const dyce__shape *tensors,
                              const dyce__kernels *k, dyce_error *err);
/* Output clamp of an int8 node: its fused relu / clip on `out`'s scale. */
void dyce__q8_clamp(const dyce__node *node, dyce__shape out, int32_t *qmin,
                    int32_t *qmax);
/* An int8 conv2d / fully connected's bias block and weights: 2 * out_c
 * words (int32 biases, f32 weight scales > 0), weights in -127..127, and
 * every int32 sum of `taps` products plus a bias in range. */
dyce_status dyce__q8_check_weights(const dyce__node *node,
                                   const dyce__shape *tensors, uint32_t out_c,
                                   uint64_t taps, dyce_error *err);
/* (in.scale * wscale) / out.scale: an output channel's requantization
 * multiplier. */
float dyce__q8_multiplier(dyce__shape in, float wscale, dyce__shape out);

extern const dyce__op_def dyce__op_conv2d, dyce__op_fully_connected,
    dyce__op_add, dyce__op_mul, dyce__op_activation, dyce__op_max_pool,
    dyce__op_avg_pool, dyce__op_global_avg_pool, dyce__op_flatten,
    dyce__op_softmax, dyce__op_channel_affine, dyce__op_concat,
    dyce__op_global_max_pool, dyce__op_quantize, dyce__op_dequantize,
    dyce__op_group_norm, dyce__op_channel_gather, dyce__op_resize,
    dyce__op_channel_reduce, dyce__op_adaptive_pool, dyce__op_matmul,
    dyce__op_view, dyce__op_max, dyce__op_min;

#endif /* DYCE_OPS_OPS_H */
