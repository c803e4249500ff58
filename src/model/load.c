/*
 * dyce_model_load, first half: the header, the section table, strings,
 * the input specification and labels. Nothing is trusted: every offset,
 * count and size is checked before it is used (docs/FORMAT.md).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "loader.h"
#include "../core/reader.h"

#define MAX_FILE_BYTES (1ull << 30)
#define MAX_SECTIONS 64u
#define MAX_LABELS 100000u

static dyce_status check_header(dyce__loader *ld, uint32_t *sections) {
  const uint8_t *h = ld->file;
  /* Records share the first four bytes: their version would be "RECS". */
  if (ld->size >= 8 && memcmp(h, "DYCERECS", 8) == 0)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "a records file (magic \"DYCERECS\"), not a package: records go to "
                      "dyce eval / dyce search --records");
  if (ld->size < DYCE__HEADER_BYTES)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "file is %zu bytes, shorter than the 64-byte header",
                      ld->size);
  if (memcmp(h + DYCE__H_MAGIC, DYCE__MAGIC, 4) != 0)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "not a dyce package (magic is not \"DYCE\")");
  uint32_t version = dyce__rd_u32(h + DYCE__H_VERSION);
  if (version != DYCE__VERSION && version != DYCE__VERSION_Q8)
    return dyce__fail(ld->err, DYCE_UNSUPPORTED,
                      "package version %u; this engine reads versions %u "
                      "and %u",
                      version, DYCE__VERSION, DYCE__VERSION_Q8);
  ld->version = version;
  if (dyce__rd_u32(h + DYCE__H_HEADER_BYTES) != DYCE__HEADER_BYTES)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT, "header_bytes is %u, not 64",
                      dyce__rd_u32(h + DYCE__H_HEADER_BYTES));
  uint64_t file_bytes = dyce__rd_u64(h + DYCE__H_FILE_BYTES);
  if (file_bytes != ld->size)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "header says %llu bytes but %zu were given "
                      "(truncated or padded file)",
                      (unsigned long long)file_bytes, ld->size);
  if (dyce__rd_u32(h + DYCE__H_FLAGS) != 0 ||
      !dyce__all_zero(h + DYCE__H_FLAGS + 4, DYCE__HEADER_BYTES - 28))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "header flags or reserved bytes are not zero");
  *sections = dyce__rd_u32(h + DYCE__H_SECTION_COUNT);
  if (*sections < 1 || *sections > MAX_SECTIONS)
    return dyce__fail(ld->err, DYCE_LIMIT, "section count %u is outside 1..%u",
                      *sections, MAX_SECTIONS);
  if (DYCE__HEADER_BYTES + (uint64_t)*sections * DYCE__SECTION_ENTRY_BYTES >
      ld->size)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "section table of %u entries runs past the end of the "
                      "file",
                      *sections);
  return DYCE_OK;
}

static dyce__section *section_for_tag(dyce__loader *ld, const uint8_t *tag) {
  static const struct { const char *tag; size_t at; } known[] = {
      {DYCE__TAG_STRINGS, offsetof(dyce__loader, strs)},
      {DYCE__TAG_INPUT, offsetof(dyce__loader, inpt)},
      {DYCE__TAG_LABELS, offsetof(dyce__loader, labl)},
      {DYCE__TAG_GRAPHS, offsetof(dyce__loader, grph)},
      {DYCE__TAG_TENSORS, offsetof(dyce__loader, tens)},
      {DYCE__TAG_NODES, offsetof(dyce__loader, node)},
      {DYCE__TAG_WEIGHTS, offsetof(dyce__loader, wght)},
      {DYCE__TAG_CONFIGS, offsetof(dyce__loader, conf)},
      {DYCE__TAG_LEVELS, offsetof(dyce__loader, levl)},
      {DYCE__TAG_QTENSORS, offsetof(dyce__loader, qten)},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (memcmp(tag, known[i].tag, 4) == 0)
      return (dyce__section *)((char *)ld + known[i].at);
  return NULL;
}

static void printable_tag(const uint8_t *tag, char out[5]) {
  for (int i = 0; i < 4; i++)
    out[i] = (tag[i] >= 32 && tag[i] < 127) ? (char)tag[i] : '?';
  out[4] = '\0';
}

static dyce_status read_sections(dyce__loader *ld, uint32_t count) {
  uint64_t table_end =
      DYCE__HEADER_BYTES + (uint64_t)count * DYCE__SECTION_ENTRY_BYTES;
  uint64_t starts[MAX_SECTIONS], ends[MAX_SECTIONS];
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *e = ld->file + DYCE__HEADER_BYTES +
                       (size_t)i * DYCE__SECTION_ENTRY_BYTES;
    char tag[5];
    printable_tag(e + DYCE__S_TAG, tag);
    uint64_t off = dyce__rd_u64(e + DYCE__S_OFFSET);
    uint64_t bytes = dyce__rd_u64(e + DYCE__S_BYTES);
    if (dyce__rd_u32(e + DYCE__S_FLAGS) != 0 || !dyce__all_zero(e + 24, 8))
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "section '%s' has non-zero flags or reserved bytes",
                        tag);
    if (off % DYCE__SECTION_ALIGN != 0 || off < table_end)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "section '%s' offset %llu is not 16-byte aligned "
                        "after the section table",
                        tag, (unsigned long long)off);
    if (bytes > ld->size || off > ld->size - bytes)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "section '%s' (offset %llu, %llu bytes) runs past "
                        "the end of the %zu-byte file",
                        tag, (unsigned long long)off,
                        (unsigned long long)bytes, ld->size);
    for (uint32_t j = 0; j < i; j++)
      if (off < ends[j] && starts[j] < off + bytes)
        return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                          "section '%s' overlaps section %u", tag, j);
    starts[i] = off;
    ends[i] = off + bytes;
    dyce__section *s = section_for_tag(ld, e + DYCE__S_TAG);
    if (!s) continue; /* unknown tag: a later minor addition, skipped */
    if (s->present)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "section '%s' appears twice", tag);
    s->present = 1;
    s->p = ld->file + off;
    s->bytes = bytes;
  }
  static const char *required[] = {DYCE__TAG_STRINGS, DYCE__TAG_INPUT,
                                   DYCE__TAG_GRAPHS,  DYCE__TAG_TENSORS,
                                   DYCE__TAG_NODES,   DYCE__TAG_WEIGHTS};
  for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
    if (!section_for_tag(ld, (const uint8_t *)required[i])->present)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "required section '%s' is missing", required[i]);
  if (ld->qten.present != (ld->version == DYCE__VERSION_Q8))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      ld->qten.present
                          ? "a version 1 package has a 'QTEN' section "
                            "(tensor types need version 2)"
                          : "a version 2 package has no 'QTEN' section");
  return DYCE_OK;
}

const char *dyce__string_at(dyce__loader *ld, uint32_t offset,
                            int may_be_empty, const char *what) {
  if (offset >= ld->strs.bytes) {
    dyce__fail(ld->err, DYCE_BAD_FORMAT,
               "%s: string offset %u is outside the %llu-byte string table",
               what, offset, (unsigned long long)ld->strs.bytes);
    return NULL;
  }
  const char *s = ld->model->strings + offset;
  size_t room = (size_t)ld->strs.bytes - offset;
  size_t len = strnlen(s, room);
  if (len == room) {
    dyce__fail(ld->err, DYCE_BAD_FORMAT,
               "%s: string at offset %u is not NUL-terminated", what, offset);
    return NULL;
  }
  if ((len == 0 && !may_be_empty) || len > 255) {
    dyce__fail(ld->err, DYCE_BAD_FORMAT,
               "%s: string at offset %u has %zu bytes; 1..255 allowed", what,
               offset, len);
    return NULL;
  }
  return s;
}

static dyce_status read_strings(dyce__loader *ld) {
  /* One spare byte so an empty table is still a valid allocation. */
  ld->model->strings = dyce__malloc((size_t)ld->strs.bytes + 1);
  if (!ld->model->strings)
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY,
                      "cannot allocate %llu bytes of strings",
                      (unsigned long long)ld->strs.bytes);
  memcpy(ld->model->strings, ld->strs.p, (size_t)ld->strs.bytes);
  ld->model->strings[ld->strs.bytes] = '\0';
  return DYCE_OK;
}

static dyce_status read_input_spec(dyce__loader *ld) {
  const uint8_t *p = ld->inpt.p;
  dyce_model *m = ld->model;
  if (ld->inpt.bytes < DYCE__I_FIXED_BYTES)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "input spec is %llu bytes, shorter than 32",
                      (unsigned long long)ld->inpt.bytes);
  uint32_t layout = dyce__rd_u32(p + DYCE__I_LAYOUT);
  uint32_t h = dyce__rd_u32(p + DYCE__I_H), w = dyce__rd_u32(p + DYCE__I_W),
           c = dyce__rd_u32(p + DYCE__I_C);
  float scale = dyce__rd_f32(p + DYCE__I_PIXEL_SCALE);
  if (layout != 0)
    return dyce__fail(ld->err, DYCE_UNSUPPORTED,
                      "input layout %u; only 0 (NHWC) exists", layout);
  if (h < 1 || h > 65535 || w < 1 || w > 65535 || c < 1 || c > 4)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "input shape %ux%ux%u is outside 65535x65535x4", h, w,
                      c);
  if (ld->inpt.bytes != DYCE__I_FIXED_BYTES + 8ull * c)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "input spec is %llu bytes; %u channels need %u",
                      (unsigned long long)ld->inpt.bytes, c,
                      DYCE__I_FIXED_BYTES + 8 * c);
  if (!isfinite(scale) || scale <= 0.0f ||
      !dyce__all_zero(p + 20, DYCE__I_FIXED_BYTES - 20))
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "input pixel_scale must be finite and positive, "
                      "reserved bytes zero");
  m->input.h = h;
  m->input.w = w;
  m->input.c = c;
  m->pixel_scale = scale;
  m->mean = dyce__malloc(sizeof(float) * 2 * c);
  if (!m->mean)
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY, "cannot allocate input spec");
  m->std = m->mean + c;
  for (uint32_t i = 0; i < c; i++) {
    m->mean[i] = dyce__rd_f32(p + DYCE__I_FIXED_BYTES + 4 * i);
    m->std[i] = dyce__rd_f32(p + DYCE__I_FIXED_BYTES + 4 * (c + i));
    if (!isfinite(m->mean[i]) || !isfinite(m->std[i]) || m->std[i] <= 0.0f)
      return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                        "input mean/std of channel %u must be finite with "
                        "std > 0",
                        i);
  }
  return DYCE_OK;
}

static dyce_status read_labels(dyce__loader *ld) {
  if (!ld->labl.present) return DYCE_OK;
  const uint8_t *p = ld->labl.p;
  if (ld->labl.bytes < DYCE__L_FIXED_BYTES)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT, "label section too short");
  uint32_t count = dyce__rd_u32(p);
  if (count < 1 || count > MAX_LABELS)
    return dyce__fail(ld->err, DYCE_LIMIT, "label count %u is outside 1..%u",
                      count, MAX_LABELS);
  if (ld->labl.bytes != DYCE__L_FIXED_BYTES + 4ull * count ||
      dyce__rd_u32(p + 4) != 0)
    return dyce__fail(ld->err, DYCE_BAD_FORMAT,
                      "label section is %llu bytes; %u labels need %u",
                      (unsigned long long)ld->labl.bytes, count,
                      DYCE__L_FIXED_BYTES + 4 * count);
  ld->model->labels = dyce__malloc(sizeof(char *) * count);
  if (!ld->model->labels)
    return dyce__fail(ld->err, DYCE_OUT_OF_MEMORY, "cannot allocate labels");
  for (uint32_t i = 0; i < count; i++) {
    const char *s = dyce__string_at(ld, dyce__rd_u32(p + 8 + 4 * i), 1,
                                    "label");
    if (!s) return ld->err->status;
    ld->model->labels[i] = s;
  }
  ld->model->label_count = count;
  return DYCE_OK;
}

static dyce_status load(const void *bytes, size_t size, int in_place,
                        dyce_model **out, dyce_error *err) {
  dyce_error local;
  if (!err) err = &local; /* string_at reads the status back */
  if (!out) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "out is NULL");
  *out = NULL;
  if (!bytes) return dyce__fail(err, DYCE_INVALID_ARGUMENT, "bytes is NULL");
  if ((uint64_t)size > MAX_FILE_BYTES)
    return dyce__fail(err, DYCE_LIMIT, "file of %zu bytes exceeds 1 GiB", size);
  dyce__loader ld;
  memset(&ld, 0, sizeof ld);
  ld.file = bytes;
  ld.size = size;
  ld.err = err;
  ld.in_place = in_place;
  ld.model = dyce__calloc(1, sizeof(dyce_model));
  if (!ld.model)
    return dyce__fail(err, DYCE_OUT_OF_MEMORY, "cannot allocate the model");
  uint32_t sections = 0;
  dyce_status s;
  if ((s = check_header(&ld, &sections)) || (s = read_sections(&ld, sections)) ||
      (s = read_strings(&ld)) || (s = read_input_spec(&ld)) ||
      (s = read_labels(&ld)) || (s = dyce__load_graphs(&ld)) ||
      (s = dyce__roles_build(ld.model, err)) ||
      (s = dyce__levels_read(ld.model, ld.levl.p, ld.levl.bytes,
                             ld.levl.present, err)) ||
      (ld.conf.present &&
       (s = dyce__configs_read(ld.model, ld.conf.p, ld.conf.bytes, err)))) {
    dyce_model_free(ld.model);
    return s;
  }
  *out = ld.model;
  return dyce__ok(err);
}

dyce_status dyce_model_load(const void *bytes, size_t size, dyce_model **out,
                            dyce_error *err) {
  return load(bytes, size, 0, out, err);
}

dyce_status dyce_model_load_inplace(void *bytes, size_t size, dyce_model **out,
                                    dyce_error *err) {
  dyce_status s = load(bytes, size, 1, out, err);
  if (s == DYCE_OK) (*out)->owned_file = bytes;
  return s;
}

void dyce_model_free(dyce_model *m) {
  if (!m) return;
  dyce__release_weights(m); /* reads the nodes: before they are freed */
  dyce__free(m->graphs);
  dyce__free(m->all_tensors);
  dyce__free(m->all_nodes);
  dyce__free(m->strings);
  dyce__free((void *)m->labels);
  dyce__free(m->mean);
  dyce__free(m->weights);
  dyce__roles_free(&m->roles);
  dyce__free(m->configs);
  dyce__levels_free(&m->levels);
  free(m->owned_file); /* the caller's malloc, so not dyce__free's count */
  dyce__free(m);
}
