/*
 * Width levels (REDS): the optional LEVL section names, for each level,
 * the output channel count of some dense convolutions and fully connected
 * nodes. Everything else follows from the graph: a depthwise convolution,
 * an activation, a pool or an add keeps its input's channels, a flatten
 * multiplies them by H x W, a concat reads only full-width tensors, a
 * graph's input has its source's output channels. Units were reordered by the training pipeline so that every
 * level is a prefix of each layer, so a level runs with the weights packed
 * once (kernels index them with the packed sizes) and its tensors are
 * stored compactly with their active channel count in the arena planned
 * for level 0.
 *
 * Everything is derived and checked here, at load: switching a level is
 * then a table lookup (dyce__level_tensors).
 */
#include <stdio.h>
#include <string.h>

#include "../core/internal.h"
#include "../ops/ops.h"
#include "model.h"
#include "../core/reader.h"

#define MAX_LEVELS 64u

typedef struct level_ctx {
  dyce_model *m;
  size_t level;
  const char *name;
  dyce_error *err;
} level_ctx;

static dyce_status node_fail(const level_ctx *c, size_t graph, size_t node,
                             const char *why, uint32_t a, uint32_t b) {
  const dyce__graph *g = &c->m->graphs[graph];
  char reason[128];
  snprintf(reason, sizeof reason, why, a, b);
  return dyce__fail(c->err, DYCE_BAD_FORMAT,
                    "width level '%s': graph '%s' node %zu (%s): %s", c->name,
                    g->name, node, g->nodes[node].def->name, reason);
}

static int is_dense(const dyce__node *n) {
  return n->op == DYCE__OP_FULLY_CONNECTED ||
         (n->op == DYCE__OP_CONV2D && n->p[DYCE__P_GROUPS] == 1);
}

static int is_depthwise(const dyce__node *n) {
  return n->op == DYCE__OP_CONV2D &&
         (uint32_t)n->p[DYCE__P_GROUPS] == n->full_in_c &&
         n->full_out_c == n->full_in_c;
}

/* Active output channels of node j given its inputs' active shapes;
 * `want` is the LEVL entry (0: none). */
static dyce_status node_out(const level_ctx *c, size_t gi, size_t j,
                            const dyce__shape *full, dyce__shape *act,
                            uint32_t want) {
  const dyce__node *n = &c->m->graphs[gi].nodes[j];
  dyce__shape in = act[n->in0];
  int narrowed_in = in.c != full[n->in0].c;
  uint32_t out = full[n->out].c;
  if (want && !is_dense(n))
    return node_fail(c, gi, j,
                     "only dense convolutions and fully connected nodes take "
                     "a width; the others follow their input", 0, 0);
  if (is_dense(n)) {
    if (want) out = want;
  } else if (is_depthwise(n)) {
    out = in.c;
  } else if (n->op == DYCE__OP_CONV2D) {
    if (narrowed_in)
      return node_fail(c, gi, j,
                       "a grouped convolution cannot read a narrowed tensor", 0, 0);
  } else if (n->op == DYCE__OP_FLATTEN) {
    out = in.h * in.w * in.c;
  } else if (n->op == DYCE__OP_SOFTMAX) {
    if (narrowed_in) return node_fail(c, gi, j, "softmax over a narrowed tensor", 0, 0);
  } else if (n->op == DYCE__OP_CHANNEL_GATHER) {
    /* Its indices name full channels, which a narrowed input lacks. */
    if (narrowed_in) return node_fail(c, gi, j, "channel_gather of a narrowed tensor", 0, 0);
    out = full[n->out].c;
  } else if (n->op == DYCE__OP_CHANNEL_REDUCE) {
    /* The mean or maximum of the full channels, which a narrowed input lacks. */
    if (narrowed_in) return node_fail(c, gi, j, "channel_reduce of a narrowed tensor", 0, 0);
    out = 1;
  } else if (n->op == DYCE__OP_MATMUL) {
    /* Heads and rows span the full channels of both operands. */
    if (narrowed_in || act[n->in1].c != full[n->in1].c)
      return node_fail(c, gi, j, "matmul of a narrowed tensor (in%u)",
                       narrowed_in ? 0 : 1, 0);
  } else if (n->op == DYCE__OP_VIEW) {
    /* Its output shape regroups the full channels, which a narrowed input lacks. */
    if (narrowed_in) return node_fail(c, gi, j, "view of a narrowed tensor", 0, 0);
  } else if (n->op == DYCE__OP_GROUP_NORM) {
    /* Its groups and statistics span the full channels. */
    if (narrowed_in) return node_fail(c, gi, j, "group_norm over a narrowed tensor", 0, 0);
  } else if (n->op == DYCE__OP_ADD || n->op == DYCE__OP_MUL ||
             n->op == DYCE__OP_MAX || n->op == DYCE__OP_MIN) {
    if (n->in1 != DYCE__NONE && act[n->in1].c != in.c)
      return node_fail(c, gi, j, "its two inputs have widths %u and %u",
                       in.c, act[n->in1].c);
    if (n->in1 == DYCE__NONE && narrowed_in && n->weight_count != 1 &&
        n->weight_count != full[n->in0].c)
      return node_fail(c, gi, j,
                       "a full-size constant cannot meet a narrowed tensor", 0, 0);
    out = in.c;
  } else if (n->op == DYCE__OP_CONCAT) {
    /* A narrowed input would leave a gap inside the output's channels,
     * which no prefix of them describes. */
    uint32_t idx[DYCE__MAX_NODE_INPUTS], count = dyce__node_inputs(n, idx);
    for (uint32_t i = 0; i < count; i++)
      if (act[idx[i]].c != full[idx[i]].c)
        return node_fail(c, gi, j, "concat input %u (tensor %u) is narrowed",
                         i + 1, idx[i]);
  } else {
    out = in.c; /* activation, pools, global pools, channel affine */
  }
  act[n->out].c = out;
  return DYCE_OK;
}

static uint64_t node_macs(const dyce__node *n, const dyce__shape *act) {
  dyce__shape in = act[n->in0], out = act[n->out];
  if (n->op == DYCE__OP_FULLY_CONNECTED) return (uint64_t)in.c * out.c;
  /* Others count 0, or (matmul) read only tensors no level narrows. */
  if (n->op != DYCE__OP_CONV2D) return n->macs;
  uint64_t per_out = (uint64_t)n->p[DYCE__P_KH] * (uint64_t)n->p[DYCE__P_KW] *
                     (is_depthwise(n) ? 1 : in.c / (uint32_t)n->p[DYCE__P_GROUPS]);
  return (uint64_t)out.h * out.w * out.c * per_out;
}

/* Fills level `c->level`'s shapes of graph gi from its entries
 * (want[node] = channels or 0) and returns its MACs. */
static dyce_status derive_graph(const level_ctx *c, size_t gi,
                                const uint32_t *want, dyce__shape *act,
                                uint64_t *macs, uint8_t *narrowed) {
  dyce_model *m = c->m;
  const dyce__graph *g = &m->graphs[gi];
  const dyce__shape *full = g->tensors;
  memcpy(act, full, sizeof *act * g->tensor_count);
  int narrow = 0;
  if (g->source != DYCE_NO_GRAPH) {
    const dyce__graph *src = &m->graphs[g->source];
    act[g->input] = dyce__level_tensors(m, c->level, g->source)[src->output];
    narrow = narrowed[g->source];
  }
  uint64_t total = 0;
  for (uint32_t j = 0; j < g->node_count; j++) {
    dyce_status s = node_out(c, gi, j, full, act, want[j]);
    if (s) return s;
    total += node_macs(&g->nodes[j], act);
  }
  for (uint32_t t = 0; t < g->tensor_count; t++)
    narrow |= act[t].c != full[t].c;
  *macs = total;
  narrowed[gi] = (uint8_t)narrow;
  return DYCE_OK;
}

static int is_classifier(const dyce_model *m, size_t g) {
  const dyce__roles *c = &m->roles;
  if (!c->present) return 0;
  if (g == c->head) return 1;
  for (size_t i = 0; i < c->saver_count; i++)
    if (c->savers[i] == g) return 1;
  for (size_t i = 0; i < c->exit_start[c->stage_count]; i++)
    if (c->exit_graphs[i] == g) return 1;
  return 0;
}

static dyce_status read_level(level_ctx *c, const uint8_t *entries,
                              uint32_t first, uint32_t count, uint32_t *want) {
  dyce_model *m = c->m;
  memset(want, 0, sizeof *want * m->node_total);
  for (uint32_t e = first; e < first + count; e++) {
    const uint8_t *p = entries + (size_t)e * DYCE__V_ENTRY_BYTES;
    uint32_t gi = dyce__rd_u32(p), node = dyce__rd_u32(p + 4),
             ch = dyce__rd_u32(p + 8);
    if (gi >= m->graph_count || node >= m->graphs[gi].node_count)
      return dyce__fail(c->err, DYCE_BAD_FORMAT,
                        "width level '%s': entry %u names graph %u node %u, "
                        "which does not exist",
                        c->name, e, gi, node);
    const dyce__node *n = &m->graphs[gi].nodes[node];
    uint32_t *w = &want[(size_t)(n - m->all_nodes)];
    if (*w)
      return node_fail(c, gi, node, "has two widths in one level", 0, 0);
    if (ch < 1 || ch > n->full_out_c)
      return node_fail(c, gi, node, "width %u is outside 1..%u", ch,
                       n->full_out_c);
    *w = ch;
  }
  return DYCE_OK;
}

static dyce_status derive_level(level_ctx *c, const uint32_t *want) {
  dyce_model *m = c->m;
  dyce__levels *l = &m->levels;
  uint8_t *narrowed = l->narrowed + c->level * m->graph_count;
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    const dyce__graph *g = &m->graphs[gi];
    dyce__shape *act = (dyce__shape *)dyce__level_tensors(m, c->level, gi);
    dyce_status s =
        derive_graph(c, gi, want + (size_t)(g->nodes - m->all_nodes), act,
                     &l->graph_macs[c->level * m->graph_count + gi], narrowed);
    if (s) return s;
    dyce__shape o = act[g->output], f = g->tensors[g->output];
    if (is_classifier(m, gi) && o.c != f.c)
      return dyce__fail(c->err, DYCE_BAD_FORMAT,
                        "width level '%s' narrows the class scores of '%s' "
                        "(%u of %u)",
                        c->name, g->name, o.c, f.c);
  }
  return DYCE_OK;
}

static dyce_status read_names(dyce_model *m, const uint8_t *records,
                              uint32_t count, uint32_t entry_total,
                              dyce_error *err) {
  uint32_t next = 0;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *r = records + (size_t)i * DYCE__V_RECORD_BYTES;
    size_t len = strnlen((const char *)r, 32);
    if (len == 0 || len == 32 || !dyce__all_zero(r + len, 32 - len) ||
        !dyce__all_zero(r + 40, 8))
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "width level %u: name must be 1..31 bytes, "
                        "NUL-padded, reserved bytes zero",
                        i);
    memcpy(m->levels.names[i], r, 32);
    for (uint32_t j = 0; j < i; j++)
      if (strcmp(m->levels.names[j], m->levels.names[i]) == 0)
        return dyce__fail(err, DYCE_BAD_FORMAT,
                          "width level name '%s' appears twice",
                          m->levels.names[i]);
    uint32_t start = dyce__rd_u32(r + DYCE__V_ENTRY_START),
             n = dyce__rd_u32(r + DYCE__V_ENTRY_COUNT);
    if (start != next || n > entry_total - next)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "width level '%s': entries %u..+%u are not the next "
                        "%u of %u",
                        m->levels.names[i], start, n, n, entry_total);
    if (i == 0 && n != 0)
      return dyce__fail(err, DYCE_BAD_FORMAT,
                        "width level 0 ('%s') must be the stored network, "
                        "with no entries",
                        m->levels.names[0]);
    next += n;
  }
  if (next != entry_total)
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "LEVL has %u entries but its levels use %u",
                      entry_total, next);
  return DYCE_OK;
}

/* exit<p>_<type>_<level name>: the level the exit was trained for. */
static void find_owners(dyce_model *m) {
  for (size_t gi = 0; gi < m->graph_count; gi++) {
    const char *name = m->graphs[gi].name;
    size_t len = strlen(name);
    m->levels.owner[gi] = DYCE_NO_LEVEL;
    if (strncmp(name, "exit", 4) != 0) continue;
    for (size_t l = 1; l < m->levels.count; l++) {
      size_t n = strlen(m->levels.names[l]);
      if (len > n + 1 && name[len - n - 1] == '_' &&
          strcmp(name + len - n, m->levels.names[l]) == 0)
        m->levels.owner[gi] = l;
    }
  }
}

static dyce_status allocate(dyce_model *m, size_t count, dyce_error *err) {
  dyce__levels *l = &m->levels;
  l->count = count;
  l->names = dyce__calloc(count, sizeof *l->names);
  l->graph_macs = dyce__calloc(count * m->graph_count, sizeof(uint64_t));
  l->narrowed = dyce__calloc(count * m->graph_count, 1);
  l->owner = dyce__calloc(m->graph_count, sizeof(size_t));
  l->shapes = count > 1 ? dyce__calloc((count - 1) * m->tensor_total,
                                       sizeof(dyce__shape))
                        : NULL;
  if (!l->names || !l->graph_macs || !l->narrowed || !l->owner ||
      (count > 1 && !l->shapes))
    return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate width levels");
  for (size_t gi = 0; gi < m->graph_count; gi++)
    l->graph_macs[gi] = m->graphs[gi].macs;
  return DYCE_OK;
}

dyce_status dyce__levels_read(dyce_model *m, const uint8_t *p, uint64_t bytes,
                              int present, dyce_error *err) {
  if (!present) {
    dyce_status s = allocate(m, 1, err);
    if (!s) strcpy(m->levels.names[0], "full");
    if (!s) find_owners(m);
    return s;
  }
  if (bytes < DYCE__V_FIXED_BYTES)
    return dyce__fail(err, DYCE_BAD_FORMAT, "LEVL is %llu bytes, shorter than 16",
                      (unsigned long long)bytes);
  uint32_t count = dyce__rd_u32(p), entry_total = dyce__rd_u32(p + 4);
  if (count < 1 || count > MAX_LEVELS)
    return dyce__fail(err, DYCE_LIMIT, "width level count %u is outside 1..%u",
                      count, MAX_LEVELS);
  uint64_t want = DYCE__V_FIXED_BYTES + (uint64_t)count * DYCE__V_RECORD_BYTES +
                  (uint64_t)entry_total * DYCE__V_ENTRY_BYTES;
  if (bytes != want || !dyce__all_zero(p + 8, 8))
    return dyce__fail(err, DYCE_BAD_FORMAT,
                      "LEVL is %llu bytes; %u levels and %u entries need %llu "
                      "(reserved bytes zero)",
                      (unsigned long long)bytes, count, entry_total,
                      (unsigned long long)want);
  dyce_status s = allocate(m, count, err);
  if (s) return s;
  const uint8_t *records = p + DYCE__V_FIXED_BYTES;
  const uint8_t *entries = records + (size_t)count * DYCE__V_RECORD_BYTES;
  if ((s = read_names(m, records, count, entry_total, err))) return s;
  uint32_t *widths = dyce__malloc(sizeof(uint32_t) * (m->node_total + 1));
  if (!widths)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate width levels");
  for (uint32_t i = 1; !s && i < count; i++) {
    const uint8_t *r = records + (size_t)i * DYCE__V_RECORD_BYTES;
    level_ctx c = {m, i, m->levels.names[i], err};
    s = read_level(&c, entries, dyce__rd_u32(r + DYCE__V_ENTRY_START),
                   dyce__rd_u32(r + DYCE__V_ENTRY_COUNT), widths);
    if (!s) s = derive_level(&c, widths);
  }
  dyce__free(widths);
  if (!s) find_owners(m);
  return s;
}

void dyce__levels_free(dyce__levels *l) {
  dyce__free(l->names);
  dyce__free(l->shapes);
  dyce__free(l->graph_macs);
  dyce__free(l->narrowed);
  dyce__free(l->owner);
  memset(l, 0, sizeof *l);
}
