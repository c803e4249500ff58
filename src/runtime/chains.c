/*
 * Chains: consecutive split nodes whose parts run one after another on
 * the thread that claimed the part, with no wait between the nodes.
 *
 * Node j joins the chain of the nodes before it when it splits into the
 * same parts and its part p reads, of every tensor an earlier node of the
 * chain writes, only the pixels that node's part p wrote (ops.h:
 * part_pixels): a 1x1 convolution, an add or an activation after a band
 * of rows, never a 3x3 convolution, which reads rows of the neighbouring
 * bands. MobileNetV2's inverted residual block (depthwise 3x3, project
 * 1x1, add, the next block's expand 1x1) then hands over once, before its
 * depthwise layer, instead of four times, and a band's rows are still in
 * its thread's cache when the next node reads them. A node joins whatever
 * its size: the floor that keeps small nodes whole (threads.c) is about
 * the hand-over, which a joined node does not have. Each node still
 * computes each output as it does alone: the same bits.
 *
 * Every tensor and workspace a chain uses lives through all of it in the
 * arena plan, since one thread may still run an earlier node's part while
 * another writes a later node's output.
 */
#include "../core/internal.h"
#include "../ops/ops.h"
#include "plan.h"
#include "session_state.h"

/* Whether every part p of `reader` reads, of tensor `t` written by
 * `writer`, only pixels the writer's part p wrote. */
static int reads_own_rows(const dyce_session *s, const dyce__graph *g,
                          const dyce__node *reader, const dyce__node *writer,
                          uint32_t t, uint32_t parts) {
  for (uint32_t p = 0; p < parts; p++) {
    size_t w[2], r[2], ww[2], wr[2];
    if (!reader->def->part_pixels(reader, g->tensors, s->kernels, p, parts, t, w, r) ||
        !writer->def->part_pixels(writer, g->tensors, s->kernels, p, parts,
                                  writer->in0, ww, wr))
      return 0;
    if (r[0] < r[1] && (r[0] < ww[0] || r[1] > ww[1])) return 0;
  }
  return 1;
}

/* Whether node j can run in the parts of the chain [head, j); its part
 * workspace goes to *part_bytes. */
static int joins(const dyce_session *s, const dyce__graph *g, uint32_t head,
                 uint32_t j, uint32_t parts, size_t *part_bytes) {
  const dyce__node *n = &g->nodes[j];
  if (!n->def->split || !n->def->run_part || !n->def->part_pixels ||
      n->def->split(n, g->tensors, s->kernels, parts, part_bytes) != parts)
    return 0;
  uint32_t in[DYCE__MAX_NODE_INPUTS], count = dyce__node_inputs(n, in);
  for (uint32_t i = 0; i < count; i++)
    for (uint32_t c = head; c < j; c++)
      if (g->nodes[c].out == in[i] &&
          !reads_own_rows(s, g, n, &g->nodes[c], in[i], parts))
        return 0;
  return 1;
}

/* Items first or last used inside [head, tail] live through all of it. */
static void stretch(dyce__plan_item *items, size_t count, uint32_t head,
                    uint32_t tail) {
  if (tail <= head) return;
  for (size_t i = 0; i < count; i++) {
    if (items[i].first >= head && items[i].first <= tail) items[i].first = head;
    if (items[i].last >= head && items[i].last <= tail) items[i].last = tail;
  }
}

void dyce__session_plan_chains(dyce_session *s, const dyce__graph *g,
                               size_t at, dyce__plan_item *items) {
  dyce__plan_item *work = items + g->tensor_count; /* node workspaces */
  size_t count = g->tensor_count + (size_t)g->node_count;
  uint32_t head = 0;
  for (uint32_t j = 0; j < g->node_count; j++) {
    uint32_t parts = s->node_parts[at + head];
    size_t part = 0;
    s->node_chain[at + j] = 1;
    if (j > head && parts > 1 && joins(s, g, head, j, parts, &part)) {
      s->node_chain[at + head]++;
      s->node_chain[at + j] = 0;
      s->node_parts[at + j] = parts;
      s->node_part_bytes[at + j] = dyce__align_up(part, DYCE__BUFFER_ALIGN);
      work[j].bytes = s->threads * s->node_part_bytes[at + j];
      continue;
    }
    stretch(items, count, head, j ? j - 1 : 0);
    head = j;
  }
  if (g->node_count) stretch(items, count, head, g->node_count - 1);
}

size_t dyce_session_chained_nodes(const dyce_session *s) {
  size_t count = 0, nodes = 0;
  if (!s || !s->node_chain) return 0;
  for (size_t gi = 0; gi < s->model->graph_count; gi++)
    nodes += s->model->graphs[gi].node_count;
  for (size_t i = 0; i < nodes; i++) count += s->node_chain[i] == 0;
  return count;
}
