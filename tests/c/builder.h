/* Builds small .dyce packages in memory for the C tests, field by field as
 * docs/FORMAT.md describes, so tests can also write wrong fields. */
#ifndef DYCE_TEST_BUILDER_H
#define DYCE_TEST_BUILDER_H

#include <stddef.h>
#include <stdint.h>

#include "format.h"

typedef struct tb_node {
  uint32_t op, act;
  float act_a, act_b;
  uint32_t in0, in1, out;
  const float *weights;
  uint32_t weight_count;
  const float *bias;
  uint32_t bias_count;
  int32_t p[DYCE__N_PARAM_COUNT];
  /* Int8 weights (docs/INT8.md): `weights` holds weight_count bytes. */
  int int8_weights;
  /* NODE weight_type; nonzero (1 = float16): `weights`, `bias` hold halves. */
  uint32_t weight_type;
} tb_node;

typedef struct tb_graph {
  const char *name;
  uint32_t source; /* DYCE__NONE for the package input */
  const uint32_t (*tensors)[3]; /* h, w, c */
  uint32_t tensor_count;
  const tb_node *nodes;
  uint32_t node_count;
  uint32_t input, output;
  uint64_t macs;
} tb_graph;

typedef struct tb_package {
  uint32_t h, w, c;
  const tb_graph *graphs;
  uint32_t graph_count;
  const char *const *labels;
  uint32_t label_count;
  /* One more section written as given (e.g. "LEVL"), when extra_bytes > 0. */
  const char *extra_tag;
  const uint8_t *extra;
  size_t extra_bytes;
} tb_package;

/* Returns a malloc'ed package and its size. */
uint8_t *tb_build(const tb_package *pkg, size_t *size);

/* Field access for corruption tests: file offset of section `tag`. */
size_t tb_section_offset(const uint8_t *file, const char *tag);
void tb_put_u32(uint8_t *p, uint32_t v);

/* A LEVL section of two width levels, "full" and "half", whose one entry
 * narrows graph 0's node `node` to `channels` output channels. */
#define TB_TWO_LEVELS_BYTES (16 + 2 * 48 + 12)
void tb_two_levels(uint8_t levl[TB_TWO_LEVELS_BYTES], uint32_t node, uint32_t channels);

/* A two-graph package used by several tests:
 *   stage1 (input 6x6x2): conv 3x3 pad 1, 2->4, relu        -> 6x6x4
 *   head   (from stage1): max_pool 2x2/2 -> gap -> fc 4->3  -> 1x1x3
 * Weights are deterministic; tb_small_weights() exposes them. */
uint8_t *tb_small_model(size_t *size);
const float *tb_small_conv_w(void);  /* [4][3][3][2] OHWI */
const float *tb_small_conv_b(void);  /* [4] */
const float *tb_small_fc_w(void);    /* [3][4] */
const float *tb_small_fc_b(void);    /* [3] */

#endif

/* A cascade on a 4x4x1 input (every classifier outputs 3 classes):
 *   saver0 : input  -> gap -> fc 1->3
 *   stage1 : input  -> conv1x1 1->2 relu         (4x4x2)
 *   exit1_a: stage1 -> gap -> fc 2->3
 *   exit1_b: stage1 -> gap -> fc 2->3 (other weights)
 *   stage2 : stage1 -> conv1x1 2->2 relu
 *   exit2_a: stage2 -> gap -> fc 2->3
 *   head   : stage2 -> gap -> fc 2->3
 * Graph indices follow that order (saver0 = 0 ... head = 6). */
uint8_t *tb_cascade_model(size_t *size);

/* A records file: `graphs` names with MACs, one split per name in
 * `splits`, each with n samples: labels[n] and, per graph, top1/conf.
 * Version 1 (classes as u8) for up to 255 classes, else version 2 (u16). */
typedef struct tb_split {
  const char *name;
  uint32_t n;
  const uint16_t *label;
  const uint16_t *const *top1; /* [graph][n] */
  const float *const *conf;   /* [graph][n] */
} tb_split;
uint8_t *tb_records(const char *const *graphs, const uint64_t *macs, uint32_t graph_count,
                    const tb_split *splits, uint32_t split_count, uint32_t classes,
                    size_t *size);
