/*
 * The records file (docs/FORMAT.md): parsed once, validated completely,
 * copied into one owned block. Nothing in it is trusted: counts, lengths,
 * labels, predicted classes and confidences are all checked.
 */
#include <math.h>
#include <string.h>

#include "../core/internal.h"
#include "../core/reader.h"

#define MAX_GRAPHS 1024u
#define MAX_SPLITS 16u
#define MAX_SAMPLES (1u << 24)

typedef struct split_data {
  char *name;
  size_t count;
  uint32_t *index;
  uint16_t *label;
  uint16_t *top1; /* [graph][count] */
  float *conf;    /* [graph][count] */
} split_data;

struct dyce_records {
  uint32_t version; /* 1: classes as u8, 2: as u16 */
  size_t graph_count, split_count, class_count;
  char **graph_names;
  uint64_t *macs;
  split_data splits[MAX_SPLITS];
};

typedef struct cursor {
  const uint8_t *p;
  size_t size, at;
  dyce_error *err;
} cursor;

static size_t pad4(size_t n) { return (n + 3) & ~(size_t)3; }

/* Returns a pointer to `n` bytes (then padding) or NULL after an error. */
static const uint8_t *take(cursor *c, size_t n, int padded, const char *what) {
  size_t need = padded ? pad4(n) : n;
  if (need < n || c->size - c->at < need) {
    dyce__fail(c->err, DYCE_BAD_FORMAT,
               "records end inside %s (at byte %zu of %zu)", what, c->at,
               c->size);
    return NULL;
  }
  const uint8_t *p = c->p + c->at;
  c->at += need;
  return p;
}

static int take_u32(cursor *c, uint32_t *v, const char *what) {
  const uint8_t *p = take(c, 4, 0, what);
  if (p) *v = dyce__rd_u32(p);
  return p != NULL;
}

static char *take_string(cursor *c, const char *what) {
  uint32_t len;
  if (!take_u32(c, &len, what)) return NULL;
  if (len < 1 || len > 255) {
    dyce__fail(c->err, DYCE_BAD_FORMAT, "%s has length %u; 1..255 allowed",
               what, len);
    return NULL;
  }
  const uint8_t *p = take(c, len, 1, what);
  if (!p) return NULL;
  char *s = dyce__malloc(len + 1);
  if (!s) {
    dyce__fail(c->err, DYCE_OUT_OF_MEMORY, "cannot allocate %s", what);
    return NULL;
  }
  memcpy(s, p, len);
  s[len] = '\0';
  if (strlen(s) != len) {
    dyce__free(s);
    dyce__fail(c->err, DYCE_BAD_FORMAT, "%s contains a NUL byte", what);
    return NULL;
  }
  return s;
}

/* n class indices: u8 (version 1) or u16 (version 2), then padding. */
static int take_classes(cursor *c, uint32_t version, uint16_t *out, size_t n,
                        const char *what) {
  size_t width = version == 1 ? 1 : 2;
  const uint8_t *p = take(c, width * n, 1, what);
  if (!p) return 0;
  for (size_t i = 0; i < n; i++)
    out[i] = width == 1 ? p[i] : (uint16_t)(p[2 * i] | p[2 * i + 1] << 8);
  return 1;
}

void dyce_records_free(dyce_records *r) {
  if (!r) return;
  for (size_t g = 0; r->graph_names && g < r->graph_count; g++)
    dyce__free(r->graph_names[g]);
  dyce__free(r->graph_names);
  dyce__free(r->macs);
  for (size_t s = 0; s < MAX_SPLITS; s++) {
    dyce__free(r->splits[s].name);
    dyce__free(r->splits[s].index);
    dyce__free(r->splits[s].label);
    dyce__free(r->splits[s].top1);
    dyce__free(r->splits[s].conf);
  }
  dyce__free(r);
}

static dyce_status read_header(cursor *c, dyce_records *r) {
  const uint8_t *magic = take(c, 8, 0, "the magic");
  uint32_t version, graphs, splits, classes;
  if (!magic) return c->err->status;
  if (memcmp(magic, "DYCERECS", 8) != 0)
    return dyce__fail(c->err, DYCE_BAD_FORMAT,
                      memcmp(magic, "DYCE", 4) == 0
                          ? "a dyce package, not a records file (magic \"DYCE\", not \"DYCERECS\")"
                          : "not a records file (magic is not \"DYCERECS\")");
  if (!take_u32(c, &version, "the header") || !take_u32(c, &graphs, "the header") ||
      !take_u32(c, &splits, "the header") || !take_u32(c, &classes, "the header"))
    return c->err->status;
  if (version != 1 && version != 2)
    return dyce__fail(c->err, DYCE_UNSUPPORTED,
                      "records version %u; this engine reads versions 1 and 2",
                      version);
  unsigned max_classes = version == 1 ? 255u : 65535u;
  if (graphs < 1 || graphs > MAX_GRAPHS || splits < 1 || splits > MAX_SPLITS ||
      classes < 2 || classes > max_classes)
    return dyce__fail(c->err, DYCE_LIMIT,
                      "records (version %u) have %u graphs, %u splits, %u "
                      "classes; limits are 1..%u, 1..%u, 2..%u",
                      version, graphs, splits, classes, MAX_GRAPHS, MAX_SPLITS,
                      max_classes);
  r->version = version;
  r->graph_count = graphs;
  r->split_count = splits;
  r->class_count = classes;
  r->graph_names = dyce__calloc(graphs, sizeof(char *));
  r->macs = dyce__calloc(graphs, sizeof(uint64_t));
  if (!r->graph_names || !r->macs)
    return dyce__fail(c->err, DYCE_OUT_OF_MEMORY, "cannot allocate records");
  for (size_t g = 0; g < graphs; g++)
    if (!(r->graph_names[g] = take_string(c, "a graph name"))) return c->err->status;
  for (size_t g = 0; g < graphs; g++) {
    const uint8_t *p = take(c, 8, 0, "graph MACs");
    if (!p) return c->err->status;
    r->macs[g] = dyce__rd_u64(p);
  }
  return DYCE_OK;
}

static dyce_status read_split(cursor *c, dyce_records *r, split_data *s) {
  uint32_t n;
  if (!(s->name = take_string(c, "a split name"))) return c->err->status;
  if (!take_u32(c, &n, "a split")) return c->err->status;
  if (n < 1 || n > MAX_SAMPLES)
    return dyce__fail(c->err, DYCE_LIMIT, "split '%s' has %u samples; 1..2^24 allowed",
                      s->name, n);
  s->count = n;
  size_t g = r->graph_count;
  s->index = dyce__malloc(sizeof(uint32_t) * n);
  s->label = dyce__malloc(sizeof(uint16_t) * n);
  s->top1 = dyce__malloc(sizeof(uint16_t) * g * n);
  s->conf = dyce__malloc(sizeof(float) * g * n);
  if (!s->index || !s->label || !s->top1 || !s->conf)
    return dyce__fail(c->err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate split '%s'", s->name);
  const uint8_t *p = take(c, 4ull * n, 0, "sample indices");
  if (!p) return c->err->status;
  for (size_t i = 0; i < n; i++) s->index[i] = dyce__rd_u32(p + 4 * i);
  if (!take_classes(c, r->version, s->label, n, "labels")) return c->err->status;
  for (size_t i = 0; i < n; i++)
    if (s->label[i] >= r->class_count)
      return dyce__fail(c->err, DYCE_BAD_FORMAT,
                        "split '%s' sample %zu has label %u of %zu classes",
                        s->name, i, s->label[i], r->class_count);
  for (size_t k = 0; k < g; k++) {
    uint16_t *top1 = s->top1 + k * n;
    float *conf = s->conf + k * n;
    if (!take_classes(c, r->version, top1, n, "predictions")) return c->err->status;
    if (!(p = take(c, 4ull * n, 0, "confidences"))) return c->err->status;
    for (size_t i = 0; i < n; i++) {
      conf[i] = dyce__rd_f32(p + 4 * i);
      if (top1[i] >= r->class_count || !(conf[i] >= 0.0f && conf[i] <= 1.0f))
        return dyce__fail(c->err, DYCE_BAD_FORMAT,
                          "split '%s' graph '%s' sample %zu: class %u or "
                          "confidence %g is out of range",
                          s->name, r->graph_names[k], i, top1[i], (double)conf[i]);
    }
  }
  return DYCE_OK;
}

dyce_status dyce_records_load(const void *bytes, size_t size,
                              dyce_records **out, dyce_error *err) {
  dyce_error local;
  if (!err) err = &local;
  if (!out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "out is NULL");
  *out = NULL;
  if (!bytes) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "bytes is NULL");
  dyce_records *r = dyce__calloc(1, sizeof *r);
  if (!r) return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate records");
  cursor c = {bytes, size, 0, err};
  dyce_status s = read_header(&c, r);
  for (size_t k = 0; !s && k < r->split_count; k++) {
    s = read_split(&c, r, &r->splits[k]);
    for (size_t j = 0; !s && j < k; j++)
      if (strcmp(r->splits[j].name, r->splits[k].name) == 0)
        s = dyce__fail(err, DYCE_BAD_FORMAT, "split '%s' appears twice",
                       r->splits[k].name);
  }
  if (!s && c.at != size)
    s = dyce__fail(err, DYCE_BAD_FORMAT,
                   "%zu bytes follow the last split", size - c.at);
  if (s) {
    dyce_records_free(r);
    return s;
  }
  *out = r;
  return dyce__ok(err);
}

size_t dyce_records_graph_count(const dyce_records *r) { return r ? r->graph_count : 0; }
size_t dyce_records_split_count(const dyce_records *r) { return r ? r->split_count : 0; }
size_t dyce_records_class_count(const dyce_records *r) { return r ? r->class_count : 0; }

const char *dyce_records_graph_name(const dyce_records *r, size_t g) {
  return (r && g < r->graph_count) ? r->graph_names[g] : NULL;
}

uint64_t dyce_records_graph_macs(const dyce_records *r, size_t g) {
  return (r && g < r->graph_count) ? r->macs[g] : 0;
}

dyce_status dyce_records_find_graph(const dyce_records *r, const char *name,
                                    size_t *graph, dyce_error *err) {
  if (!r || !name || !graph)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  for (size_t g = 0; g < r->graph_count; g++)
    if (strcmp(r->graph_names[g], name) == 0) {
      *graph = g;
      return dyce__ok(err);
    }
  return dyce__fail(err, DYCE_NOT_FOUND, "records have no graph '%.200s'", name);
}

dyce_status dyce_records_find_split(const dyce_records *r, const char *name,
                                    size_t *split, dyce_error *err) {
  if (!r || !name || !split)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  for (size_t s = 0; s < r->split_count; s++)
    if (strcmp(r->splits[s].name, name) == 0) {
      *split = s;
      return dyce__ok(err);
    }
  return dyce__fail(err, DYCE_NOT_FOUND, "records have no split '%.200s'", name);
}

dyce_status dyce_records_split(const dyce_records *r, size_t split,
                               dyce_split *out, dyce_error *err) {
  if (!r || !out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  if (split >= r->split_count)
    return dyce__fail(err, DYCE_NOT_FOUND, "split %zu of %zu does not exist",
                      split, r->split_count);
  const split_data *s = &r->splits[split];
  out->name = s->name;
  out->count = s->count;
  out->index = s->index;
  out->label = s->label;
  return dyce__ok(err);
}

dyce_status dyce_records_predictions(const dyce_records *r, size_t split,
                                     size_t graph, const uint16_t **top1,
                                     const float **conf, dyce_error *err) {
  if (!r || !top1 || !conf)
    return dyce__fail(err, DYCE_INVALID_ARGUMENT, "NULL argument");
  if (split >= r->split_count || graph >= r->graph_count)
    return dyce__fail(err, DYCE_NOT_FOUND, "split %zu / graph %zu does not exist",
                      split, graph);
  const split_data *s = &r->splits[split];
  *top1 = s->top1 + graph * s->count;
  *conf = s->conf + graph * s->count;
  return dyce__ok(err);
}
