/* In-memory .dyce writer for tests (see builder.h). */
#include "builder.h"

#include <stdlib.h>
#include <string.h>

typedef struct buf {
  uint8_t *p;
  size_t n, cap;
} buf;

static void put(buf *b, const void *data, size_t n) {
  if (n == 0) return;
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2 + 64;
    b->p = realloc(b->p, b->cap);
  }
  memcpy(b->p + b->n, data, n);
  b->n += n;
}
static void put_u32(buf *b, uint32_t v) {
  uint8_t le[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
                   (uint8_t)(v >> 24)};
  put(b, le, 4);
}
static void put_u64(buf *b, uint64_t v) {
  put_u32(b, (uint32_t)v);
  put_u32(b, (uint32_t)(v >> 32));
}
static void put_f32(buf *b, float f) {
  uint32_t u;
  memcpy(&u, &f, 4);
  put_u32(b, u);
}
static void pad_to(buf *b, size_t align) {
  static const uint8_t zero[64];
  put(b, zero, (align - b->n % align) % align);
}
static uint32_t add_string(buf *strs, const char *s) {
  uint32_t at = (uint32_t)strs->n;
  put(strs, s, strlen(s) + 1);
  return at;
}
/* Appends floats at a 4-float boundary; returns the float offset. */
static uint32_t add_floats(buf *w, const float *f, uint32_t n) {
  pad_to(w, 16);
  uint32_t at = (uint32_t)(w->n / 4);
  for (uint32_t i = 0; i < n; i++) put_f32(w, f[i]);
  return at;
}

void tb_put_u32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

void tb_two_levels(uint8_t levl[TB_TWO_LEVELS_BYTES], uint32_t node, uint32_t channels) {
  memset(levl, 0, TB_TWO_LEVELS_BYTES);
  tb_put_u32(levl, 2);                          /* levels */
  tb_put_u32(levl + 4, 1);                      /* entries */
  memcpy(levl + 16, "full", 4);
  memcpy(levl + 16 + 48, "half", 4);
  tb_put_u32(levl + 16 + 48 + 36, 1);           /* "half" has the one entry: */
  tb_put_u32(levl + 16 + 96 + 4, node);         /* graph 0, node `node`, */
  tb_put_u32(levl + 16 + 96 + 8, channels);     /* this many channels */
}

/* One graph's record, tensors and nodes (its tensors and nodes start at
 * records t_at and n_at). */
static void put_graph(const tb_graph *g, uint32_t t_at, uint32_t n_at,
                      buf *strs, buf *grph, buf *tens, buf *node, buf *wght) {
  put_u32(grph, add_string(strs, g->name));
  put_u32(grph, g->source);
  put_u32(grph, t_at);
  put_u32(grph, g->tensor_count);
  put_u32(grph, n_at);
  put_u32(grph, g->node_count);
  put_u32(grph, g->input);
  put_u32(grph, g->output);
  put_u64(grph, g->macs);
  pad_to(grph, 16);
  put(grph, (uint8_t[16]){0}, 16);
  for (uint32_t t = 0; t < g->tensor_count; t++) {
    put_u32(tens, 1);
    for (int d = 0; d < 3; d++) put_u32(tens, g->tensors[t][d]);
  }
  for (uint32_t j = 0; j < g->node_count; j++) {
    const tb_node *nd = &g->nodes[j];
    put_u32(node, nd->op);
    put_u32(node, nd->act);
    put_f32(node, nd->act_a);
    put_f32(node, nd->act_b);
    put_u32(node, nd->in0);
    put_u32(node, nd->in1);
    put_u32(node, nd->out);
    put_u32(node, nd->weight_type);
    int halves = nd->weight_type != 0; /* 1, or a wrong type a test writes */
    uint32_t floats = nd->int8_weights ? (nd->weight_count + 3) / 4
                      : halves ? (nd->weight_count + 1) / 2 : nd->weight_count;
    uint32_t bias_floats = halves ? (nd->bias_count + 1) / 2 : nd->bias_count;
    put_u32(node, nd->weight_count ? add_floats(wght, nd->weights, floats) : 0);
    put_u32(node, nd->weight_count);
    put_u32(node, nd->bias_count ? add_floats(wght, nd->bias, bias_floats) : 0);
    put_u32(node, nd->bias_count);
    for (int k = 0; k < DYCE__N_PARAM_COUNT; k++) put_u32(node, (uint32_t)nd->p[k]);
  }
}

uint8_t *tb_build(const tb_package *pkg, size_t *size) {
  buf strs = {0}, inpt = {0}, labl = {0}, grph = {0}, tens = {0}, node = {0},
      wght = {0};
  put_u32(&inpt, 0);
  put_u32(&inpt, pkg->h);
  put_u32(&inpt, pkg->w);
  put_u32(&inpt, pkg->c);
  put_f32(&inpt, 1.0f / 255.0f);
  pad_to(&inpt, 32);
  for (uint32_t i = 0; i < pkg->c; i++) put_f32(&inpt, 0.5f);
  for (uint32_t i = 0; i < pkg->c; i++) put_f32(&inpt, 0.25f);
  if (pkg->label_count) {
    put_u32(&labl, pkg->label_count);
    put_u32(&labl, 0);
    for (uint32_t i = 0; i < pkg->label_count; i++)
      put_u32(&labl, add_string(&strs, pkg->labels[i]));
  }
  put_u32(&grph, pkg->graph_count);
  pad_to(&grph, 16);
  uint32_t t_at = 0, n_at = 0;
  for (uint32_t gi = 0; gi < pkg->graph_count; gi++) {
    const tb_graph *g = &pkg->graphs[gi];
    put_graph(g, t_at, n_at, &strs, &grph, &tens, &node, &wght);
    t_at += g->tensor_count;
    n_at += g->node_count;
  }
  pad_to(&wght, 16);
  buf extra = {0};
  if (pkg->extra_bytes) put(&extra, pkg->extra, pkg->extra_bytes);
  buf *sections[] = {&strs, &inpt, &labl, &grph, &tens, &node, &wght, &extra};
  const char *tags[] = {"STRS", "INPT", "LABL", "GRPH", "TENS", "NODE", "WGHT",
                        pkg->extra_tag};
  /* LABL and the extra section are left out when empty. */
#define OPTIONAL(i) ((i) == 2 || (i) == 7)
  uint32_t count = 0;
  for (int i = 0; i < 8; i++) count += (sections[i]->n > 0 || !OPTIONAL(i));
  buf out = {0};
  size_t at = 64 + 32 * (size_t)count;
  size_t offsets[8];
  for (int i = 0; i < 8; i++) {
    at = (at + 15) & ~(size_t)15;
    offsets[i] = at;
    at += sections[i]->n;
  }
  put(&out, "DYCE", 4);
  put_u32(&out, 1);
  put_u32(&out, 64);
  put_u32(&out, count);
  put_u64(&out, at);
  pad_to(&out, 64);
  for (int i = 0; i < 8; i++) {
    if (OPTIONAL(i) && sections[i]->n == 0) continue;
    put(&out, tags[i], 4);
    put_u32(&out, 0);
    put_u64(&out, offsets[i]);
    put_u64(&out, sections[i]->n);
    put_u64(&out, 0);
  }
  for (int i = 0; i < 8; i++) {
    pad_to(&out, 16);
    if (sections[i]->n) put(&out, sections[i]->p, sections[i]->n);
    free(sections[i]->p);
  }
  *size = out.n;
  return out.p;
}

size_t tb_section_offset(const uint8_t *file, const char *tag) {
  uint32_t count = file[12] | file[13] << 8;
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *e = file + 64 + 32 * i;
    if (memcmp(e, tag, 4) == 0)
      return (size_t)(e[8] | e[9] << 8 | e[10] << 16 | (uint32_t)e[11] << 24);
  }
  return 0;
}

/* ---- the shared small model ------------------------------------------ */

static float conv_w[4 * 3 * 3 * 2], conv_b[4], fc_w[3 * 4], fc_b[3];

static void fill_small_weights(void) {
  for (size_t i = 0; i < sizeof conv_w / sizeof *conv_w; i++)
    conv_w[i] = (float)((int)(i * 7 % 11) - 5) / 8.0f;
  for (int i = 0; i < 4; i++) conv_b[i] = 0.1f * (float)(i - 1);
  for (int i = 0; i < 12; i++) fc_w[i] = (float)((i * 5 % 7) - 3) / 4.0f;
  for (int i = 0; i < 3; i++) fc_b[i] = 0.05f * (float)i;
}

const float *tb_small_conv_w(void) { fill_small_weights(); return conv_w; }
const float *tb_small_conv_b(void) { fill_small_weights(); return conv_b; }
const float *tb_small_fc_w(void) { fill_small_weights(); return fc_w; }
const float *tb_small_fc_b(void) { fill_small_weights(); return fc_b; }

uint8_t *tb_small_model(size_t *size) {
  fill_small_weights();
  static const uint32_t stage_t[2][3] = {{6, 6, 2}, {6, 6, 4}};
  static const uint32_t head_t[4][3] = {{6, 6, 4}, {3, 3, 4}, {1, 1, 4}, {1, 1, 3}};
  tb_node stage_n[1] = {{.op = DYCE__OP_CONV2D, .act = DYCE__ACT_RELU,
                         .in0 = 0, .in1 = DYCE__NONE, .out = 1,
                         .weights = conv_w, .weight_count = 72,
                         .bias = conv_b, .bias_count = 4,
                         .p = {3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1}}};
  tb_node head_n[3] = {
      {.op = DYCE__OP_MAX_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = 1,
       .p = {2, 2, 2, 2}},
      {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 1, .in1 = DYCE__NONE, .out = 2},
      {.op = DYCE__OP_FULLY_CONNECTED, .in0 = 2, .in1 = DYCE__NONE, .out = 3,
       .weights = fc_w, .weight_count = 12, .bias = fc_b, .bias_count = 3}};
  tb_graph graphs[2] = {
      {"stage1", DYCE__NONE, stage_t, 2, stage_n, 1, 0, 1, 6 * 6 * 4 * 9 * 2},
      {"head", 0, head_t, 4, head_n, 3, 0, 3, 12}};
  static const char *const labels[3] = {"zero", "one", "two"};
  tb_package pkg = {6, 6, 2, graphs, 2, labels, 3, NULL, NULL, 0};
  return tb_build(&pkg, size);
}

/* ---- the cascade model ----------------------------------------------- */

static float w_saver[3] = {1, -1, 0.5f}, b3[3] = {0.1f, 0, -0.1f};
static float w_conv1[2] = {1, -0.5f}, w_conv2[4] = {0.5f, 1, -1, 0.25f};
static float w_exit_a[6] = {1, 0, 0, 1, -1, -1}, w_exit_b[6] = {2, -1, 0, 0, 1, 1};
static float w_exit2[6] = {0.5f, 0.5f, -1, 2, 1, -1}, w_head[6] = {3, -1, -2, 2, 0.5f, 0.5f};

uint8_t *tb_cascade_model(size_t *size) {
  static const uint32_t in_t[3][3] = {{4, 4, 1}, {1, 1, 1}, {1, 1, 3}};
  static const uint32_t stage1_t[2][3] = {{4, 4, 1}, {4, 4, 2}};
  static const uint32_t stage2_t[2][3] = {{4, 4, 2}, {4, 4, 2}};
  static const uint32_t exit_t[3][3] = {{4, 4, 2}, {1, 1, 2}, {1, 1, 3}};
#define GAP(o) {.op = DYCE__OP_GLOBAL_AVG_POOL, .in0 = 0, .in1 = DYCE__NONE, .out = o}
#define FC(w, k) {.op = DYCE__OP_FULLY_CONNECTED, .in0 = 1, .in1 = DYCE__NONE, .out = 2, \
                  .weights = w, .weight_count = 3 * (k), .bias = b3, .bias_count = 3}
#define CONV(w, cin) {{.op = DYCE__OP_CONV2D, .act = DYCE__ACT_RELU, .in0 = 0, .in1 = DYCE__NONE, \
                      .out = 1, .weights = w, .weight_count = 2 * (cin), \
                      .p = {1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}}}
  tb_node saver_n[2] = {GAP(1), FC(w_saver, 1)};
  tb_node stage1_n[1] = CONV(w_conv1, 1), stage2_n[1] = CONV(w_conv2, 2);
  tb_node exa_n[2] = {GAP(1), FC(w_exit_a, 2)}, exb_n[2] = {GAP(1), FC(w_exit_b, 2)};
  tb_node ex2_n[2] = {GAP(1), FC(w_exit2, 2)}, head_n[2] = {GAP(1), FC(w_head, 2)};
#undef GAP
#undef FC
#undef CONV
  tb_graph g[7] = {
      {"saver0", DYCE__NONE, in_t, 3, saver_n, 2, 0, 2, 3},
      {"stage1", DYCE__NONE, stage1_t, 2, stage1_n, 1, 0, 1, 32},
      {"exit1_a", 1, exit_t, 3, exa_n, 2, 0, 2, 6},
      {"exit1_b", 1, exit_t, 3, exb_n, 2, 0, 2, 6},
      {"stage2", 1, stage2_t, 2, stage2_n, 1, 0, 1, 64},
      {"exit2_a", 4, exit_t, 3, ex2_n, 2, 0, 2, 6},
      {"head", 4, exit_t, 3, head_n, 2, 0, 2, 6},
  };
  tb_package pkg = {4, 4, 1, g, 7, NULL, 0, NULL, NULL, 0};
  return tb_build(&pkg, size);
}

/* ---- records ---------------------------------------------------------- */

/* Class indices as u8 (version 1) or u16 (version 2), padded to 4. */
static void put_classes(buf *b, const uint16_t *v, uint32_t n, uint32_t version) {
  for (uint32_t i = 0; i < n; i++) {
    uint8_t le[2] = {(uint8_t)v[i], (uint8_t)(v[i] >> 8)};
    put(b, le, version == 1 ? 1 : 2);
  }
  pad_to(b, 4);
}

uint8_t *tb_records(const char *const *graphs, const uint64_t *macs, uint32_t graph_count,
                    const tb_split *splits, uint32_t split_count, uint32_t classes,
                    size_t *size) {
  buf b = {0};
  uint32_t version = classes > 255 ? 2 : 1;
  put(&b, "DYCERECS", 8);
  put_u32(&b, version);
  put_u32(&b, graph_count);
  put_u32(&b, split_count);
  put_u32(&b, classes);
  for (uint32_t g = 0; g < graph_count; g++) {
    put_u32(&b, (uint32_t)strlen(graphs[g]));
    put(&b, graphs[g], strlen(graphs[g]));
    pad_to(&b, 4);
  }
  for (uint32_t g = 0; g < graph_count; g++) put_u64(&b, macs[g]);
  for (uint32_t s = 0; s < split_count; s++) {
    const tb_split *sp = &splits[s];
    put_u32(&b, (uint32_t)strlen(sp->name));
    put(&b, sp->name, strlen(sp->name));
    pad_to(&b, 4);
    put_u32(&b, sp->n);
    for (uint32_t i = 0; i < sp->n; i++) put_u32(&b, i);
    put_classes(&b, sp->label, sp->n, version);
    for (uint32_t g = 0; g < graph_count; g++) {
      put_classes(&b, sp->top1[g], sp->n, version);
      for (uint32_t i = 0; i < sp->n; i++) put_f32(&b, sp->conf[g][i]);
    }
  }
  *size = b.n;
  return b.p;
}
