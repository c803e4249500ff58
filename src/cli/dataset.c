/* IDX reading for dataset.h. */
#include "dataset.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "../codec/inflate.h"

#define MAX_UNCOMPRESSED (1u << 30)

static uint8_t *read_raw(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    uint8_t *bigger = cap < MAX_UNCOMPRESSED ? realloc(buf, cap * 2) : NULL;
    if (!bigger) {
      free(buf);
      buf = NULL;
    } else {
      buf = bigger;
      cap *= 2;
    }
  }
  fclose(f);
  *size = n;
  return buf;
}

uint8_t *read_whole_file(const char *path, size_t *size) {
  size_t n = 0;
  uint8_t *raw = read_raw(path, &n);
  if (!raw) {
    cli_error("%s: %s", path, errno ? strerror(errno) : "cannot read");
    return NULL;
  }
  size_t len = strlen(path);
  if (len < 3 || strcmp(path + len - 3, ".gz") != 0) {
    *size = n;
    return raw;
  }
  uint8_t *out = NULL;
  char why[128];
  int rc = dyce__gunzip(raw, n, MAX_UNCOMPRESSED, &out, size, why, sizeof why);
  free(raw);
  if (rc) cli_error("%s: %s", path, why);
  return rc ? NULL : out;
}

/* Opens DIR/NAME, else DIR/NAME.gz. */
static uint8_t *read_part(const char *dir, const char *name, size_t *size) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (f)
    fclose(f);
  else
    snprintf(path, sizeof path, "%s/%s.gz", dir, name);
  return read_whole_file(path, size);
}

static uint32_t be32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

size_t dataset_classifier_outputs(const dyce_model *m) {
  size_t graph;
  dyce_graph_info gi;
  if (cli_pick_graph(m, NULL, &graph) || dyce_model_graph_info(m, graph, &gi, NULL) != DYCE_OK)
    return 0;
  return (size_t)gi.output_dims[1] * gi.output_dims[2] * gi.output_dims[3];
}

/* Fails with the reason when an IDX pair cannot be read as `count` images
 * of h x w: each size the headers promise against what the files hold. */
static int idx_sizes_fail(const char *dir, const char *prefix, size_t isize, size_t lsize,
                          uint32_t count, uint32_t labels, uint32_t h, uint32_t w) {
  if (labels != count)
    return cli_error("%s: %s: %u images but %u labels", dir, prefix, count, labels);
  if (h == 0 || w == 0 || h > 4096 || w > 4096)
    return cli_error("%s: %s images of %ux%u (1..4096 per side)", dir, prefix, h, w);
  uint64_t pixels = (uint64_t)count * h * w;
  if (isize - 16 != pixels)
    return cli_error("%s: %s images file holds %zu bytes of pixels; %u images of %ux%u need %llu "
                     "(%s)", dir, prefix, isize - 16, count, h, w, (unsigned long long)pixels,
                     isize - 16 < pixels ? "truncated?" : "bytes after the last image");
  if (lsize - 8 != count)
    return cli_error("%s: %s labels file holds %zu labels; %u needed", dir, prefix, lsize - 8,
                     count);
  return CLI_OK;
}

int dataset_load(const char *dir, const char *part, const dyce_model *m, dataset *out) {
  memset(out, 0, sizeof *out);
  const char *prefix = strcmp(part, "test") == 0 ? "t10k" : "train";
  char name[64];
  size_t isize = 0, lsize = 0;
  snprintf(name, sizeof name, "%s-images-idx3-ubyte", prefix);
  uint8_t *images = read_part(dir, name, &isize);
  snprintf(name, sizeof name, "%s-labels-idx1-ubyte", prefix);
  uint8_t *labels = images ? read_part(dir, name, &lsize) : NULL;
  int rc = 1;
  if (!images || !labels) goto done;
  if (isize < 16 || be32(images) != 0x803 || lsize < 8 || be32(labels) != 0x801) {
    cli_error("%s: %s files are not IDX image/label files", dir, prefix);
    goto done;
  }
  size_t count = be32(images + 4), h = be32(images + 8), w = be32(images + 12);
  if (idx_sizes_fail(dir, prefix, isize, lsize, (uint32_t)count, be32(labels + 4), (uint32_t)h,
                     (uint32_t)w))
    goto done;
  /* A label past the classifier's outputs could only ever be a miss. */
  size_t outputs = dataset_classifier_outputs(m);
  for (size_t i = 0; i < count; i++)
    if (labels[8 + i] >= outputs) {
      cli_error("%s: %s label %u of image %zu is not one of the package's %zu classes", dir,
                prefix, labels[8 + i], i, outputs);
      goto done;
    }
  out->count = count;
  out->height = h;
  out->width = w;
  out->images = malloc(count * h * w + 1);
  out->labels = malloc(sizeof(uint32_t) * (count + 1));
  if (!out->images || !out->labels) {
    cli_error("out of memory reading %s", dir);
    dataset_free(out);
    goto done;
  }
  memcpy(out->images, images + 16, count * h * w);
  for (size_t i = 0; i < count; i++) out->labels[i] = labels[8 + i];
  out->part = strcmp(part, "test") == 0 ? "test" : "train";
  rc = 0;
done:
  free(images);
  free(labels);
  return rc;
}

void dataset_free(dataset *d) {
  for (size_t i = 0; d->paths && i < d->count; i++) free(d->paths[i]);
  free(d->paths);
  free(d->images);
  free(d->labels);
  memset(d, 0, sizeof *d);
}
