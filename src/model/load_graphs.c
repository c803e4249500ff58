/*
 * dyce_model_load, second half: graphs, tensors and nodes are read and
 * validated (ranges, shapes, execution order, per-op rules, MACs), then
 * weights are packed for the kernels (pack_weights.c).
 */
#include <math.h>
#include <string.h>

#include "../ops/ops.h"
#include "loader.h"
#include "../core/reader.h"

#define MAX_GRAPHS 1024u
#define MAX_PER_GRAPH 65536u
#define MAX_DIM 65535u
#define MAX_CHANNELS (1u << 24)
/* A code this engine does not know, in a package of a version it reads:
 * a later converter's new op, or bytes damaged in transit (the format has
 * no checksum); the message names both. */
#define NEWER_OR_DAMAGED \
  " (a package made by a newer dyce, or a damaged file)"

dyce__shape dyce__graph_input_shape(const dyce_model *m, size_t graph) {
  size_t src = m->graphs[graph].source;
  if (src == DYCE_NO_GRAPH) return m->input;
  const dyce__graph *s = &m->graphs[src];
  return s->tensors[s->output];
}

static dyce_status check_counts(dyce__loader *ld, uint32_t *graphs) {
  if (ld->grph.bytes < DYCE__G_FIXED_BYTES)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT, "graph section too short");
  *graphs = dyce__rd_u32(ld->grph.p);
  if (*graphs < 1 || *graphs > MAX_GRAPHS)
    return dyce__fail(ld->err, DYCE_LIMIT, "graph count %u is outside 1..%u",
                      *graphs, MAX_GRAPHS);
  if (ld->grph.bytes !=
          DYCE__G_FIXED_BYTES + (uint64_t)*graphs * DYCE__G_RECORD_BYTES ||
      !dyce__all_zero(ld->grph.p + 4, DYCE__G_FIXED_BYTES - 4))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph section is %llu bytes; %u graphs need %u",
                      (unsigned long long)ld->grph.bytes, *graphs,
                      DYCE__G_FIXED_BYTES + *graphs * DYCE__G_RECORD_BYTES);
  if (ld->tens.bytes % DYCE__T_RECORD_BYTES || ld->node.bytes % DYCE__N_RECORD_BYTES ||
      ld->wght.bytes % 4)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "tensor, node or weight section size is not a whole "
                      "number of records");
  uint64_t tensors = ld->tens.bytes / DYCE__T_RECORD_BYTES;
  if (ld->qten.present &&
      (ld->qten.bytes != DYCE__Q_FIXED_BYTES + tensors * DYCE__Q_RECORD_BYTES ||
       dyce__rd_u32(ld->qten.p) != tensors ||
       !dyce__all_zero(ld->qten.p + 4, DYCE__Q_FIXED_BYTES - 4)))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "tensor type section (QTEN) must hold one record per "
                      "tensor: %llu records",
                      (unsigned long long)tensors);
  return DYCE_OK;
}

/* Reads one graph record; ranges must follow the previous graph's. */
static dyce_status read_graph_record(dyce__loader *ld, size_t gi,
                                     uint64_t *next_tensor,
                                     uint64_t *next_node, uint8_t const **rec) {
  dyce__graph *g = &ld->model->graphs[gi];
  const uint8_t *r =
      ld->grph.p + DYCE__G_FIXED_BYTES + gi * DYCE__G_RECORD_BYTES;
  *rec = r;
  g->name = dyce__string_at(ld, dyce__rd_u32(r + DYCE__G_NAME), 0,
                            "graph name");
  if (!g->name) return ld->err->status;
  for (size_t j = 0; j < gi; j++)
    if (strcmp(ld->model->graphs[j].name, g->name) == 0)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "two graphs are named '%s'", g->name);
  uint32_t source = dyce__rd_u32(r + DYCE__G_SOURCE);
  if (source != DYCE__NONE && source >= gi)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s': source %u is not an earlier graph",
                      g->name, source);
  g->source = source == DYCE__NONE ? DYCE_NO_GRAPH : source;
  uint32_t t0 = dyce__rd_u32(r + DYCE__G_TENSOR_START);
  uint32_t tn = dyce__rd_u32(r + DYCE__G_TENSOR_COUNT);
  uint32_t n0 = dyce__rd_u32(r + DYCE__G_NODE_START);
  uint32_t nn = dyce__rd_u32(r + DYCE__G_NODE_COUNT);
  uint64_t tensor_records = ld->tens.bytes / DYCE__T_RECORD_BYTES;
  uint64_t node_records = ld->node.bytes / DYCE__N_RECORD_BYTES;
  if (tn < 1 || tn > MAX_PER_GRAPH || nn < 1 || nn > MAX_PER_GRAPH)
    return dyce__fail(ld->err, DYCE_LIMIT,
                      "graph '%s': %u tensors and %u nodes; each must be "
                      "1..%u",
                      g->name, tn, nn, MAX_PER_GRAPH);
  if (t0 < *next_tensor || (uint64_t)t0 + tn > tensor_records ||
      n0 < *next_node || (uint64_t)n0 + nn > node_records)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s': tensor range %u+%u or node range %u+%u "
                      "is outside its section or overlaps an earlier graph",
                      g->name, t0, tn, n0, nn);
  *next_tensor = (uint64_t)t0 + tn;
  *next_node = (uint64_t)n0 + nn;
  g->tensor_count = tn;
  g->node_count = nn;
  g->input = dyce__rd_u32(r + DYCE__G_INPUT);
  g->output = dyce__rd_u32(r + DYCE__G_OUTPUT);
  if (g->input >= tn || g->output >= tn || g->input == g->output)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s': input %u / output %u must be distinct "
                      "tensors below %u",
                      g->name, g->input, g->output, tn);
  g->macs = dyce__rd_u64(r + DYCE__G_MACS);
  if (!dyce__all_zero(r + 40, DYCE__G_RECORD_BYTES - 40))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s': reserved bytes are not zero", g->name);
  return DYCE_OK;
}

/* Tensor i's element type from its QTEN record (version 2; version 1
 * tensors are float32). */
static dyce_status read_tensor_type(dyce__loader *ld, const dyce__graph *g,
                                    uint32_t i, size_t record) {
  if (!ld->qten.present) return DYCE_OK;
  const uint8_t *r =
      ld->qten.p + DYCE__Q_FIXED_BYTES + record * DYCE__Q_RECORD_BYTES;
  dyce__shape *t = &g->tensors[i];
  t->dtype = dyce__rd_u32(r + DYCE__Q_DTYPE);
  t->scale = dyce__rd_f32(r + DYCE__Q_SCALE);
  t->zp = dyce__rd_i32(r + DYCE__Q_ZERO_POINT);
  if (dyce__rd_u32(r + 12) != 0)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s' tensor %u: reserved type bytes are not "
                      "zero", g->name, i);
  if (t->dtype == DYCE__DTYPE_F32) {
    if (t->scale != 0.0f || t->zp != 0)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "graph '%s' tensor %u: a float32 tensor has scale %g "
                        "and zero point %d; both must be 0",
                        g->name, i, (double)t->scale, (int)t->zp);
    return DYCE_OK;
  }
  if (t->dtype != DYCE__DTYPE_INT8)
    return dyce__fail(ld->err, DYCE_UNSUPPORTED,
                      "graph '%s' tensor %u: element type %u; 0 (float32) "
                      "and 1 (int8) exist",
                      g->name, i, t->dtype);
  /* 1e-30: below it, 1 / scale (quantize) overflows binary32. */
  if (!isfinite(t->scale) || !(t->scale >= 1e-30f) || t->zp < -128 ||
      t->zp > 127)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s' tensor %u: int8 scale %g and zero point %d; "
                      "the scale must be finite and at least 1e-30, the zero "
                      "point in -128..127",
                      g->name, i, (double)t->scale, (int)t->zp);
  return DYCE_OK;
}

static dyce_status read_tensors(dyce__loader *ld, dyce__graph *g,
                                uint32_t t0) {
  for (uint32_t i = 0; i < g->tensor_count; i++) {
    const uint8_t *r = ld->tens.p + ((size_t)t0 + i) * DYCE__T_RECORD_BYTES;
    uint32_t n = dyce__rd_u32(r), h = dyce__rd_u32(r + 4),
             w = dyce__rd_u32(r + 8), c = dyce__rd_u32(r + 12);
    if (n != 1)
      return dyce__fail(ld->err, DYCE_UNSUPPORTED,
                        "graph '%s' tensor %u: batch %u; only batch 1 is "
                        "supported",
                        g->name, i, n);
    if (h < 1 || h > MAX_DIM || w < 1 || w > MAX_DIM || c < 1 ||
        c > MAX_CHANNELS || (uint64_t)h * w * c > DYCE__MAX_ELEMS)
      return dyce__fail(ld->err, DYCE_LIMIT,
                        "graph '%s' tensor %u: shape %ux%ux%u breaks the "
                        "limits (h, w <= %u, c <= 2^24, elements <= 2^28)",
                        g->name, i, h, w, c, MAX_DIM);
    g->tensors[i].h = h;
    g->tensors[i].w = w;
    g->tensors[i].c = c;
    dyce_status s = read_tensor_type(ld, g, i, (size_t)t0 + i);
    if (s) return s;
  }
  dyce__shape want = dyce__graph_input_shape(ld->model,
                                             (size_t)(g - ld->model->graphs));
  dyce__shape got = g->tensors[g->input];
  if (got.h != want.h || got.w != want.w || got.c != want.c)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s': input is %ux%ux%u but its source gives "
                      "%ux%ux%u",
                      g->name, got.h, got.w, got.c, want.h, want.w, want.c);
  if (!dyce__same_type(got, want))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s': input is %s (scale %g, zero point %d) but "
                      "its source gives %s (scale %g, zero point %d)",
                      g->name, dyce__dtype_name(got), (double)got.scale,
                      (int)got.zp, dyce__dtype_name(want), (double)want.scale,
                      (int)want.zp);
  return DYCE_OK;
}

/* Index of the first NaN or infinity in x[0..n), or n. Every weight of a
 * package is checked at load, before a browser has optimised the module:
 * blocks of 16 whose exponent bits are tested together (the compiler
 * vectorises the inner loop) cost a fraction of one isfinite per float. */
static size_t first_non_finite(const float *x, size_t n) {
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    uint32_t all_ones = 0;
    for (size_t k = 0; k < 16; k++) {
      uint32_t bits;
      memcpy(&bits, x + i + k, sizeof bits);
      all_ones |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    if (all_ones) break;
  }
  for (; i < n; i++)
    if (!isfinite(x[i])) return i;
  return n;
}

/* Index of the first binary16 infinity or NaN in h[0..n), or n. */
static size_t first_non_finite_f16(const uint8_t *h, size_t n) {
  for (size_t i = 0; i < n; i++)
    if ((h[2 * i + 1] & 0x7c) == 0x7c) return i;
  return n;
}

/* How a node's weight block stores its values: floats, int8 values, 32-bit
 * words (an int8 node's bias block: int32 biases, then f32 scales, which
 * its op checks), halves. */
enum { AS_F32, AS_INT8, AS_WORDS, AS_F16 };

/* `count` values at float `off` of WGHT, floats and halves checked finite. */
static dyce_status weight_range(dyce__loader *ld, uint32_t off,
                                uint32_t count, int as, const float **out,
                                const char *what) {
  *out = NULL;
  if (count == 0) return DYCE_OK;
  uint64_t floats = as == AS_INT8 ? ((uint64_t)count + 3) / 4
                    : as == AS_F16 ? ((uint64_t)count + 1) / 2 : count;
  if (off % 4 || off + floats > ld->weight_floats)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "%s at float %u (+%llu) is misaligned or outside the "
                      "%zu-float weight section",
                      what, off, (unsigned long long)floats,
                      ld->weight_floats);
  *out = ld->weights + off;
  if (as == AS_INT8 || as == AS_WORDS) return DYCE_OK;
  size_t bad = as == AS_F16 ? first_non_finite_f16((const uint8_t *)*out, count)
                            : first_non_finite(*out, count);
  if (bad < count)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT, "%s element %zu is not finite",
                      what, bad);
  return DYCE_OK;
}

/* The activation code and its parameters a, b: finite, clip's in order;
 * the activations added with abs (abs .. reciprocal) take none, so both
 * are 0 there. */
static dyce_status read_activation(dyce__loader *ld, const uint8_t *r,
                                   dyce__node *n) {
  uint32_t act = dyce__rd_u32(r + DYCE__N_ACT);
  if (!dyce__act_name(act))
    return dyce__fail(ld->err, DYCE_UNSUPPORTED,
                      "unknown activation code %u" NEWER_OR_DAMAGED, act);
  n->act = (dyce__act)act;
  n->act_a = dyce__rd_f32(r + DYCE__N_ACT_A);
  n->act_b = dyce__rd_f32(r + DYCE__N_ACT_B);
  if (!isfinite(n->act_a) || !isfinite(n->act_b) ||
      (n->act == DYCE__ACT_CLIP && n->act_a > n->act_b))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "activation parameters %g, %g are invalid",
                      (double)n->act_a, (double)n->act_b);
  if (act >= DYCE__ACT_ABS && (n->act_a != 0.0f || n->act_b != 0.0f))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "activation %s takes no parameters, but act_a is %g and "
                      "act_b %g (both must be 0)",
                      dyce__act_name(act), (double)n->act_a, (double)n->act_b);
  return DYCE_OK;
}

/* Decodes node fields that do not depend on the op. */
static dyce_status read_node_fields(dyce__loader *ld, const uint8_t *r,
                                    const dyce__graph *g, dyce__node *n) {
  uint32_t op = dyce__rd_u32(r + DYCE__N_OP);
  n->def = dyce__op_find(op);
  if (!n->def)
    return dyce__fail(ld->err, DYCE_UNSUPPORTED,
                      "unknown op code %u" NEWER_OR_DAMAGED, op);
  n->op = (dyce__op)op;
  dyce_status st = read_activation(ld, r, n);
  if (st) return st;
  n->in0 = dyce__rd_u32(r + DYCE__N_IN0);
  n->in1 = dyce__rd_u32(r + DYCE__N_IN1);
  n->out = dyce__rd_u32(r + DYCE__N_OUT);
  if (n->in0 >= g->tensor_count || n->out >= g->tensor_count ||
      (n->in1 != DYCE__NONE && n->in1 >= g->tensor_count))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "tensor index out of range (in0 %u, in1 %u, out %u, "
                      "graph has %u)",
                      n->in0, n->in1, n->out, g->tensor_count);
  for (int i = 0; i < DYCE__N_PARAM_COUNT; i++)
    n->p[i] = dyce__rd_i32(r + DYCE__N_PARAMS + 4 * i);
  if (n->op == DYCE__OP_CONCAT) {
    /* Further inputs are tensor indices in p[1..]: checked here, before
     * anything (dyce__node_inputs) reads them. */
    int32_t more = n->p[DYCE__P_CONCAT_MORE];
    if (more < 0 || more > DYCE__N_PARAM_COUNT - 1)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "p[0] (further inputs) %d is outside 0..%d",
                        (int)more, DYCE__N_PARAM_COUNT - 1);
    for (int i = 1; i < DYCE__N_PARAM_COUNT; i++) {
      uint32_t t = (uint32_t)n->p[i];
      if (i <= more && t >= g->tensor_count)
        return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                          "input %d is tensor %u; the graph has %u",
                          i + 2, t, g->tensor_count);
      if (i > more && n->p[i] != 0)
        return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                          "unused p[%d] is %d, not 0", i, (int)n->p[i]);
    }
  }
  n->weight_count = dyce__rd_u32(r + DYCE__N_WEIGHT_COUNT);
  n->bias_count = dyce__rd_u32(r + DYCE__N_BIAS_COUNT);
  /* Int8 nodes hold int8 weights and a bias block of int32 biases and f32
   * scales, which their op's check validates. */
  n->q8 = dyce__is_q8(g->tensors[n->in0]) && n->op != DYCE__OP_DEQUANTIZE;
  if (n->q8 && !(n->def = dyce__op_find_q8(op))) {
    n->def = dyce__op_find(op);
    return dyce__fail(ld->err, DYCE_UNSUPPORTED,
                      "has no int8 form (the converter keeps it float32 "
                      "between dequantize and quantize)");
  }
  uint32_t weight_type = dyce__rd_u32(r + DYCE__N_WEIGHT_TYPE);
  if (weight_type > 1 || (weight_type && ld->version == DYCE__VERSION) ||
      (weight_type && n->q8))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "weight type %u: 0 (float32), or 1 (float16) for a "
                      "float node of a version 2 package",
                      weight_type);
  n->f16 = weight_type == 1;
  int as = n->q8 ? AS_INT8 : n->f16 ? AS_F16 : AS_F32;
  dyce_status s = weight_range(ld, dyce__rd_u32(r + DYCE__N_WEIGHT_OFF),
                               n->weight_count, as, &n->file_weights,
                               "weights");
  if (s) return s;
  /* An int8 node's bias block is int32 biases and f32 scales: words. */
  return weight_range(ld, dyce__rd_u32(r + DYCE__N_BIAS_OFF), n->bias_count,
                      n->q8 ? AS_WORDS : as, &n->file_bias, "bias");
}

/* Adds "graph 'g' node j (op): " in front of the message already in err. */
static dyce_status with_node_context(dyce__loader *ld, const dyce__graph *g,
                                     uint32_t j, const dyce__node *n,
                                     dyce_status s) {
  char msg[sizeof ld->err->message];
  memcpy(msg, ld->err->message, sizeof msg);
  return dyce__fail(ld->err, s, "graph '%s' node %u (%s): %s", g->name, j,
                    n->def ? n->def->name : "?", msg);
}

static dyce_status read_nodes(dyce__loader *ld, dyce__graph *g, uint32_t n0,
                              uint8_t *defined) {
  const dyce__kernels *k = dyce__kernels_default();
  uint64_t macs = 0;
  memset(defined, 0, g->tensor_count);
  defined[g->input] = 1;
  for (uint32_t j = 0; j < g->node_count; j++) {
    dyce__node *n = &g->nodes[j];
    const uint8_t *r = ld->node.p + ((size_t)n0 + j) * DYCE__N_RECORD_BYTES;
    dyce_status s = read_node_fields(ld, r, g, n);
    uint32_t in[DYCE__MAX_NODE_INPUTS], in_count = s ? 0 : dyce__node_inputs(n, in);
    for (uint32_t i = 0; !s && i < in_count; i++)
      if (!defined[in[i]])
        s = dyce__fail(ld->err, DYCE_BAD_FORMAT,
                       "reads tensor %u, which no earlier node produced", in[i]);
    if (!s && defined[n->out])
      s = dyce__fail(ld->err, DYCE_BAD_FORMAT,
                     "writes tensor %u, which is already produced", n->out);
    if (!s) { /* indices checked: the channels the weights are packed for */
      n->full_in_c = g->tensors[n->in0].c;
      n->full_out_c = g->tensors[n->out].c;
    }
    if (!s) s = dyce__check_types(n, g->tensors, k, ld->err);
    if (!s) s = n->def->check(n, g->tensors, k, ld->err);
    if (!s && !dyce__add_u64(macs, n->macs, &macs))
      s = dyce__fail(ld->err, DYCE_LIMIT, "graph MAC count overflows");
    if (s) return with_node_context(ld, g, j, n, s);
    defined[n->out] = 1;
  }
  for (uint32_t i = 0; i < g->tensor_count; i++)
    if (!defined[i])
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "graph '%s': tensor %u is never produced", g->name, i);
  if (macs != g->macs)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "graph '%s': header says %llu MACs, nodes add up to "
                      "%llu",
                      g->name, (unsigned long long)g->macs,
                      (unsigned long long)macs);
  return DYCE_OK;
}

/* The weight section as aligned floats: the file buffer itself when it is
 * 4-byte aligned, else a temporary copy (freed by the caller). */
static dyce_status map_weights(dyce__loader *ld, float **copy) {
  *copy = NULL;
  ld->weight_floats = (size_t)(ld->wght.bytes / 4);
  if ((uintptr_t)ld->wght.p % sizeof(float) == 0) {
    ld->weights = (const float *)(const void *)ld->wght.p;
    return DYCE_OK;
  }
  *copy = dyce__malloc((size_t)ld->wght.bytes);
  if (!*copy)
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY,
                      "cannot copy %llu bytes of weights",
                      (unsigned long long)ld->wght.bytes);
  memcpy(*copy, ld->wght.p, (size_t)ld->wght.bytes);
  ld->weights = *copy;
  return DYCE_OK;
}

dyce_status dyce__load_graphs(dyce__loader *ld) {
  dyce_model *m = ld->model;
  uint32_t count = 0;
  dyce_status s = check_counts(ld, &count);
  if (s) return s;
  m->graphs = dyce__calloc(count, sizeof(dyce__graph));
  if (!m->graphs)
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY, "cannot allocate graphs");
  m->graph_count = count;
  /* Ranges are disjoint, so these totals are bounded by the section sizes. */
  size_t tensors = (size_t)(ld->tens.bytes / DYCE__T_RECORD_BYTES);
  size_t nodes = (size_t)(ld->node.bytes / DYCE__N_RECORD_BYTES);
  m->all_tensors = dyce__calloc(tensors, sizeof(dyce__shape));
  m->tensor_total = tensors;
  m->node_total = nodes;
  m->all_nodes = dyce__calloc(nodes, sizeof(dyce__node));
  uint8_t *defined = dyce__malloc(MAX_PER_GRAPH);
  float *weight_copy = NULL;
  if (!m->all_tensors || !m->all_nodes || !defined)
    s = dyce__fail(ld->err, DYCE_OUT_OF_MEMORY,
                   "cannot allocate %zu tensors and %zu nodes", tensors, nodes);
  if (!s) s = map_weights(ld, &weight_copy);
  if (weight_copy) ld->in_place = 0; /* unaligned file: pack from the copy */
  uint64_t next_tensor = 0, next_node = 0;
  for (size_t gi = 0; !s && gi < count; gi++) {
    const uint8_t *rec;
    dyce__graph *g = &m->graphs[gi];
    s = read_graph_record(ld, gi, &next_tensor, &next_node, &rec);
    if (s) break;
    uint32_t t0 = dyce__rd_u32(rec + DYCE__G_TENSOR_START);
    uint32_t n0 = dyce__rd_u32(rec + DYCE__G_NODE_START);
    g->tensors = m->all_tensors + t0;
    g->nodes = m->all_nodes + n0;
    s = read_tensors(ld, g, t0);
    if (!s) s = read_nodes(ld, g, n0, defined);
  }
  if (!s) s = dyce__pack_weights(ld);
  dyce__free(defined);
  dyce__free(weight_copy);
  ld->weights = NULL;
  return s;
}
