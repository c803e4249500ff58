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

int dataset_load(const char *dir, const char *part, dataset *out) {
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
  if (be32(labels + 4) != count || h == 0 || w == 0 || h > 4096 || w > 4096 ||
      isize - 16 != count * h * w || lsize - 8 != count) {
    cli_error("%s: %s images and labels disagree in count or size", dir, prefix);
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
