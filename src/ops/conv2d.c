/* conv2d: any kernel, stride, padding, dilation and groups (depthwise
 * included), with fused bias and activation. */
#include <string.h>

#include "ops.h"

static dyce_status conv_window(const dyce__node *node,
                               const dyce__shape *tensors, dyce__window *g,
                               dyce_error *err) {
  dyce__shape in = tensors[node->in0], out = tensors[node->out];
  dyce_status s = dyce__window_from_params(node, in, 1, g, err);
  if (s) return s;
  int32_t groups = node->p[DYCE__P_GROUPS];
  if (groups < 1 || (uint32_t)groups > in.c || in.c % (uint32_t)groups ||
      out.c % (uint32_t)groups)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "groups %d must divide input channels %u and output "
                      "channels %u",
                      (int)groups, in.c, out.c);
  g->groups = g->packed_groups = (uint32_t)groups;
  g->out_c = g->packed_out_c = out.c;
  return DYCE_OK;
}

static dyce_status check(dyce__node *node, const dyce__shape *tensors,
                         const dyce__kernels *k, dyce_error *err) {
  dyce__window g;
  dyce_status s = conv_window(node, tensors, &g, err);
  if (s) return s;
  dyce__shape want = {.h = g.out_h, .w = g.out_w, .c = g.out_c};
  if ((s = dyce__expect_shape(node, tensors, want, err))) return s;
  uint64_t taps = (uint64_t)g.kh * g.kw * (g.in_c / g.groups), weights, macs;
  if (!dyce__mul_u64(taps, g.out_c, &weights) || weights > UINT32_MAX)
    return dyce__fail(err, DYCE_LIMIT, "weight count overflows");
  if ((s = dyce__expect_counts(node, (uint32_t)weights, g.out_c, 0, err)))
    return s;
  if (!dyce__mul_u64(dyce__shape_elems(want), taps, &macs))
    return dyce__fail(err, DYCE_LIMIT, "MAC count overflows");
  node->macs = macs;
  node->packed_count = k->conv2d_packed_floats(&g);
  node->scratch_bytes = k->conv2d_scratch_bytes(&g);
  return DYCE_OK;
}

static void pack(const dyce__node *node, const dyce__shape *tensors,
                 const dyce__kernels *k, float *dst) {
  dyce__window g;
  conv_window(node, tensors, &g, NULL); /* validated by check */
  if (k->prepare_conv2d) /* kernels that also take bias and clamp at load */
    k->prepare_conv2d(&g, node->file_weights, node->file_bias,
                      dyce__node_activation(node), dst);
  else
    k->pack_conv2d(&g, node->file_weights, dst);
}

void dyce__conv2d_run_window(const dyce__node *node,
                             const dyce__shape *tensors, dyce__window *g) {
  dyce__window_from_params(node, tensors[node->in0], 1, g, NULL);
  g->out_c = tensors[node->out].c;
  g->packed_in_c = node->full_in_c;
  g->packed_out_c = node->full_out_c;
  g->packed_groups = (uint32_t)node->p[DYCE__P_GROUPS];
  /* Depthwise stays depthwise over the active channels; a width level
   * narrows no other grouped convolution (model/levels.c). */
  uint32_t groups = (uint32_t)node->p[DYCE__P_GROUPS];
  g->groups = groups == node->full_in_c ? g->in_c : groups;
}

static void run(const dyce__node *node, const dyce__shape *tensors,
                const dyce__kernels *k, float *const *ptr, void *scratch) {
  dyce__window g;
  dyce__conv2d_run_window(node, tensors, &g);
  k->conv2d(&g, ptr[node->in0], node->weights, node->bias,
            dyce__node_activation(node), ptr[node->out], scratch);
}

/*
 * Threads split a convolution into bands of output rows, or, where the
 * weights outweigh the input (a small picture with many channels: the
 * 7x7 and 14x14 layers at the end of a network), into ranges of output
 * channels, so that each thread streams only its share of the weights
 * and the parts stay even however few rows there are.
 *
 * A band of rows is a
 * convolution of its own: its window starts at the first input row the
 * band reads (or keeps the top padding the band still sees), so each
 * part calls the same kernel on a smaller window. Bands start at
 * multiples of the kernel's row block, so every output is computed as in
 * one call (bit-identical results).
 */
typedef struct band {
  uint32_t y0, y1;     /* output rows */
  size_t in_row;       /* first input row of the band's window */
} band;

/* Rows per band: the row blocks shared out evenly, whole blocks each. */
static uint32_t band_rows(uint32_t total, uint32_t block, uint32_t parts) {
  uint32_t blocks = (total + block - 1) / block;
  return (blocks + parts - 1) / parts * block;
}

uint32_t dyce__bands(uint32_t total, uint32_t block, uint32_t max_parts) {
  uint32_t rows = max_parts < 2 ? total : band_rows(total, block, max_parts);
  return rows >= total ? 1 : (total + rows - 1) / rows;
}

int dyce__band(uint32_t total, uint32_t block, uint32_t part, uint32_t parts,
               uint32_t *y0, uint32_t *y1) {
  uint32_t rows = band_rows(total, block, parts);
  uint64_t first = (uint64_t)part * rows, end = first + rows;
  *y0 = first < total ? (uint32_t)first : total;
  *y1 = end < total ? (uint32_t)end : total;
  return *y0 < *y1;
}

static band band_window(const dyce__window *g, uint32_t y0, uint32_t y1,
                        dyce__window *sub) {
  *sub = *g;
  int64_t first = (int64_t)y0 * g->sh - g->pad_t;
  band b = {y0, y1, first > 0 ? (size_t)first : 0};
  sub->pad_t = first < 0 ? (uint32_t)-first : 0;
  sub->in_h = g->in_h - (uint32_t)b.in_row;
  sub->out_h = y1 - y0;
  return b;
}

/* Output channels per block when the node splits by channels, else 0.
 * Decided from the file's sizes, so every width level splits alike. */
static uint32_t channel_block(const dyce__node *node, const dyce__window *g,
                              const dyce__kernels *k) {
  uint32_t block = k->conv2d_channel_block(g);
  uint64_t input = (uint64_t)g->in_h * g->in_w * node->full_in_c;
  return block && node->weight_count >= input && node->full_out_c >= 2 * block
             ? block : 0;
}

/* Channels [*c0, *c1) of part `part`: whole blocks shared out evenly. */
static void channel_range(uint32_t out_c, uint32_t block, uint32_t part,
                          uint32_t parts, uint32_t *c0, uint32_t *c1) {
  uint32_t blocks = (out_c + block - 1) / block;
  *c0 = blocks * part / parts * block;
  *c1 = blocks * (part + 1) / parts * block;
  if (*c1 > out_c) *c1 = out_c;
}

uint32_t dyce__conv2d_band_parts(const dyce__window *g, uint32_t block,
                                 uint32_t max_parts, dyce__window *first) {
  uint32_t parts = dyce__bands(g->out_h, block, max_parts), y0, y1;
  if (parts < 2) return 1;
  /* A band must start inside the input (bottom padding taller than the
   * window would leave one without input rows: keep it whole). */
  dyce__band(g->out_h, block, parts - 1, parts, &y0, &y1);
  if ((int64_t)y0 * g->sh - g->pad_t >= (int64_t)g->in_h) return 1;
  dyce__band(g->out_h, block, 0, parts, &y0, &y1);
  band_window(g, y0, y1, first); /* the first band needs the most */
  return parts;
}

int dyce__conv2d_band(const dyce__window *g, uint32_t block, uint32_t part,
                      uint32_t parts, dyce__window *sub, size_t *in_row,
                      uint32_t *out_row) {
  uint32_t y0, y1;
  if (!dyce__band(g->out_h, block, part, parts, &y0, &y1)) return 0;
  *in_row = band_window(g, y0, y1, sub).in_row;
  *out_row = y0;
  return 1;
}

static uint32_t split(const dyce__node *node, const dyce__shape *tensors,
                      const dyce__kernels *k, uint32_t max_parts,
                      size_t *part_scratch) {
  /* Kernels with state (XNNPACK operators) are set up for their window. */
  if (k->prepare_conv2d || max_parts < 2) return 1;
  dyce__window g, sub;
  dyce__conv2d_run_window(node, tensors, &g);
  uint32_t block = channel_block(node, &g, k);
  if (block) {
    uint32_t blocks = (node->full_out_c + block - 1) / block;
    *part_scratch = k->conv2d_scratch_bytes(&g);
    return blocks < max_parts ? blocks : max_parts;
  }
  uint32_t parts =
      dyce__conv2d_band_parts(&g, k->conv2d_row_block(&g), max_parts, &sub);
  if (parts > 1) *part_scratch = k->conv2d_scratch_bytes(&sub);
  return parts;
}

static void run_part(const dyce__node *node, const dyce__shape *tensors,
                     const dyce__kernels *k, float *const *ptr, void *scratch,
                     uint32_t part, uint32_t parts) {
  dyce__window g, sub;
  dyce__conv2d_run_window(node, tensors, &g);
  uint32_t block = channel_block(node, &g, k);
  if (block) {
    sub = g;
    channel_range(g.out_c, block, part, parts, &sub.out_c0, &sub.out_c);
    if (sub.out_c0 >= sub.out_c) return;
    sub.out_c -= sub.out_c0;
    sub.out_stride = g.out_c;
    k->conv2d(&sub, ptr[node->in0], node->weights, node->bias,
              dyce__node_activation(node), ptr[node->out], scratch);
    return;
  }
  size_t in_row;
  uint32_t y0;
  if (!dyce__conv2d_band(&g, k->conv2d_row_block(&g), part, parts, &sub,
                         &in_row, &y0))
    return;
  const float *in = ptr[node->in0] + in_row * g.in_w * g.in_c;
  float *out = ptr[node->out] + (size_t)y0 * g.out_w * g.out_c;
  k->conv2d(&sub, in, node->weights, node->bias, dyce__node_activation(node),
            out, scratch);
}

/* Band `part`'s output pixels [w[0], w[1]) and the input pixels its
 * window reads [r[0], r[1]) (ops.h: part_pixels). */
static int band_pixels(const dyce__window *g, uint32_t block, uint32_t part,
                       uint32_t parts, size_t w[2], size_t r[2]) {
  dyce__window sub;
  size_t in_row;
  uint32_t y0;
  w[0] = w[1] = r[0] = r[1] = 0;
  if (!dyce__conv2d_band(g, block, part, parts, &sub, &in_row, &y0))
    return 1; /* an empty part writes and reads nothing */
  /* The rows the band's taps reach below its first input row. */
  int64_t reach = (int64_t)(sub.out_h - 1) * sub.sh +
                  (int64_t)(sub.kh - 1) * sub.dh + 1 - sub.pad_t;
  size_t rows = reach < 0 ? 0 : (size_t)reach < sub.in_h ? (size_t)reach : sub.in_h;
  w[0] = (size_t)y0 * g->out_w;
  w[1] = w[0] + (size_t)sub.out_h * g->out_w;
  r[0] = in_row * g->in_w;
  r[1] = r[0] + rows * g->in_w;
  return 1;
}

/* A part of output channels is no range of pixels. */
static int part_pixels(const dyce__node *node, const dyce__shape *tensors,
                       const dyce__kernels *k, uint32_t part, uint32_t parts,
                       uint32_t input, size_t w[2], size_t r[2]) {
  dyce__window g;
  dyce__conv2d_run_window(node, tensors, &g);
  if (input != node->in0 || channel_block(node, &g, k)) return 0;
  return band_pixels(&g, k->conv2d_row_block(&g), part, parts, w, r);
}

/* Dense and depthwise layouts of a blockwise table: block b of B output
 * channels is packed from its own rows into the same floats. */
static int pack_in_place(const dyce__node *node, const dyce__shape *tensors,
                         const dyce__kernels *k, float *w, float *temp) {
  dyce__window g;
  conv_window(node, tensors, &g, NULL);
  uint32_t b = k->pack_block_rows;
  int depthwise = g.groups == g.in_c && g.out_c == g.in_c;
  if (!b || k->prepare_conv2d || g.out_c % b ||
      (g.groups != 1 && !depthwise) ||
      node->packed_count != node->weight_count)
    return 0;
  size_t rows = dyce__row_floats(node) * b;
  dyce__window block = g;
  block.out_c = block.packed_out_c = b;
  if (depthwise) block.in_c = block.packed_in_c = block.groups = block.packed_groups = b;
  if (k->conv2d_packed_floats(&block) != rows) return 0;
  for (uint32_t o = 0; o < g.out_c; o += b) {
    memcpy(temp, w + (size_t)o / b * rows, sizeof(float) * rows);
    k->pack_conv2d(&block, temp, w + (size_t)o / b * rows);
  }
  return 1;
}

const dyce__op_def dyce__op_conv2d = {"conv2d", check, pack, run, pack_in_place,
                                      split, run_part, part_pixels};
