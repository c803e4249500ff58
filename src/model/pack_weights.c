/*
 * Weight packing, the last step of dyce_model_load: every node's file
 * weights laid out for the kernels (ops' pack functions) into one block
 * owned by the model, or, for dyce_model_load_inplace, where they are in
 * the file the model now owns when no other node shares their floats.
 * Biases are copied, or used in place from an owned file. Float16 weights
 * and biases are decoded into a temporary block node by node and packed
 * from there.
 */
#include <stdlib.h>
#include <string.h>

#include "../core/reader.h"
#include "../ops/ops.h"
#include "loader.h"

static size_t round4(size_t n) { return (n + 3) & ~(size_t)3; }

/* Floats of the file a node's weights take (int8: bytes, f16: halves). */
static size_t file_floats(const dyce__node *n, size_t count) {
  return n->q8 ? (count + 3) / 4 : n->f16 ? (count + 1) / 2 : count;
}

static void decode_f16(const float *halves, size_t count, float *out) {
  const uint8_t *p = (const uint8_t *)halves;
  for (size_t i = 0; i < count; i++) out[i] = dyce__rd_f16(p + 2 * i);
}

/* A node's weights or bias as a range of WGHT floats. */
typedef struct weight_span {
  size_t start, end;
  dyce__node *node;         /* NULL for a bias */
  const dyce__graph *graph;
} weight_span;

static int by_start(const void *a, const void *b) {
  const weight_span *x = a, *y = b;
  return (x->start > y->start) - (x->start < y->start);
}

/* In-place loads: packs every node whose weights share no float with
 * another node's weights or bias, where the op and the kernel table allow
 * it; sets n->weights for those (n->bias stays in the file too). Nodes
 * left over are packed into the model's block by dyce__pack_weights. */
static dyce_status pack_in_place(dyce__loader *ld) {
  dyce_model *m = ld->model;
  const dyce__kernels *k = dyce__kernels_default();
  size_t spans = 0, temp_floats = 0;
  weight_span *span = dyce__malloc(sizeof(weight_span) * (2 * m->node_total + 1));
  if (!span) return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY, "cannot plan the weights");
  for (size_t gi = 0; gi < m->graph_count; gi++)
    for (uint32_t j = 0; j < m->graphs[gi].node_count; j++) {
      const dyce__graph *g = &m->graphs[gi];
      dyce__node *n = &g->nodes[j];
      if (n->weight_count) {
        size_t w = (size_t)(n->file_weights - ld->weights);
        span[spans++] =
            (weight_span){w, w + file_floats(n, n->weight_count), n, g};
      }
      if (n->bias_count) {
        size_t b = (size_t)(n->file_bias - ld->weights);
        span[spans++] = (weight_span){
            b, b + (n->q8 ? n->bias_count : file_floats(n, n->bias_count)),
            NULL, g};
      }
      size_t t = dyce__row_floats(n) * k->pack_block_rows;
      if (t > temp_floats) temp_floats = t;
    }
  qsort(span, spans, sizeof *span, by_start);
  float *temp = dyce__malloc(sizeof(float) * (temp_floats + 1));
  if (!temp) {
    dyce__free(span);
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY, "cannot allocate %zu floats to pack weights", temp_floats);
  }
  size_t reach = 0; /* furthest end of the spans before i */
  for (size_t i = 0; i < spans; i++) {
    int shared = span[i].start < reach ||
                 (i + 1 < spans && span[i + 1].start < span[i].end);
    if (span[i].end > reach) reach = span[i].end;
    dyce__node *n = span[i].node;
    if (!n || shared || n->f16 || !n->def->pack_in_place) continue;
    float *w = (float *)(uintptr_t)n->file_weights; /* the owned file */
    if (n->def->pack_in_place(n, span[i].graph->tensors, k, w, temp))
      n->weights = w;
  }
  dyce__free(temp);
  dyce__free(span);
  return DYCE_OK;
}

dyce_status dyce__pack_weights(dyce__loader *ld) {
  dyce_model *m = ld->model;
  const dyce__kernels *k = dyce__kernels_default();
  if (ld->in_place) {
    dyce_status s = pack_in_place(ld);
    if (s) return s;
  }
  uint64_t total = 0, in_place = 0, used = 0; /* block floats, in file, all */
  size_t f16_floats = 0; /* the largest float16 node, decoded */
  for (size_t gi = 0; gi < m->graph_count; gi++)
    for (uint32_t j = 0; j < m->graphs[gi].node_count; j++) {
      const dyce__node *n = &m->graphs[gi].nodes[j];
      if (n->weights) in_place += n->packed_count;
      else total += round4(n->packed_count);
      if (!ld->in_place || n->f16) total += round4(n->bias_count);
      used += n->packed_count + n->bias_count;
      if (n->f16 && n->weight_count + n->bias_count > f16_floats)
        f16_floats = (size_t)n->weight_count + n->bias_count;
    }
  if (total + in_place > DYCE__MAX_ELEMS)
    return dyce__fail(ld->err, DYCE_LIMIT,
                      "packed weights need %llu floats; the limit is 2^28",
                      (unsigned long long)(total + in_place));
  m->weights = dyce__malloc(sizeof(float) * (size_t)(total ? total : 1));
  if (!m->weights)
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate %llu bytes of packed weights",
                      (unsigned long long)total * 4);
  m->weight_floats = (size_t)used; /* the same however they were packed */
  float *decoded = f16_floats ? dyce__malloc(sizeof(float) * f16_floats) : NULL;
  if (f16_floats && !decoded)
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate %zu floats to decode float16 weights",
                      f16_floats);
  float *at = m->weights;
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    dyce__graph *g = &m->graphs[gi];
    for (uint32_t j = 0; j < g->node_count; j++) {
      dyce__node *n = &g->nodes[j];
      if (n->f16) { /* pack from float32 copies, as for a float file */
        if (n->weight_count) decode_f16(n->file_weights, n->weight_count, decoded);
        if (n->bias_count)
          decode_f16(n->file_bias, n->bias_count, decoded + n->weight_count);
        n->file_weights = n->weight_count ? decoded : NULL;
        n->file_bias = n->bias_count ? decoded + n->weight_count : NULL;
      }
      if (n->packed_count && !n->weights) {
        if (n->def->pack)
          n->def->pack(n, g->tensors, k, at);
        else
          memcpy(at, n->file_weights, sizeof(float) * n->packed_count);
        n->weights = at;
        at += round4(n->packed_count);
      }
      if (n->bias_count && ld->in_place && !n->f16) {
        n->bias = n->file_bias; /* the model owns the file */
      } else if (n->bias_count) {
        memcpy(at, n->file_bias, sizeof(float) * n->bias_count);
        n->bias = at;
        at += round4(n->bias_count);
      }
      n->file_weights = n->file_bias = NULL; /* the file may go away now */
    }
  }
  dyce__free(decoded);
  return DYCE_OK;
}

void dyce__release_weights(dyce_model *m) {
  const dyce__kernels *k = dyce__kernels_default();
  if (!k->release_conv2d || !m->graphs) return;
  /* After a failed load a graph may have a count but no nodes yet; a
   * node has packed weights only once dyce__pack_weights reached it. */
  for (size_t gi = 0; gi < m->graph_count; gi++)
    for (uint32_t j = 0; m->graphs[gi].nodes && j < m->graphs[gi].node_count;
         j++) {
      const dyce__node *n = &m->graphs[gi].nodes[j];
      if (n->op == DYCE__OP_CONV2D && n->weights) k->release_conv2d(n->weights);
    }
}
