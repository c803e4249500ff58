/* .npy reading and writing (format version 1.0 and 2.0, '<f4' only). */
#include "npy.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(char *why, size_t n, const char *msg, const char *path) {
  snprintf(why, n, "%s: %s", path, msg);
  return 1;
}

/* Parses "(1, 3, 224, 224)" after 'shape': in the header dictionary. */
static int parse_shape(const char *hdr, npy_array *a) {
  const char *p = strstr(hdr, "'shape'");
  if (!p || !(p = strchr(p, '('))) return 1;
  p++;
  a->rank = 0;
  a->count = 1;
  for (;;) {
    while (*p == ' ' || *p == ',') p++;
    if (*p == ')') break;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || a->rank == DYCE_NPY_MAX_RANK || v > (1ull << 31)) return 1;
    a->shape[a->rank++] = (size_t)v;
    if (v && a->count > (SIZE_MAX / 4) / v) return 1;
    a->count *= (size_t)v;
    p = end;
  }
  return 0;
}

int npy_read(const char *path, npy_array *out, char *why, size_t n) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) return fail(why, n, strerror(errno), path);
  unsigned char pre[12];
  int rc = 1;
  char *hdr = NULL;
  if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
    fail(why, n, "not a .npy file", path);
    goto out;
  }
  size_t hlen = pre[8] | (size_t)pre[9] << 8;
  if (pre[6] >= 2) { /* version 2+: 4-byte header length */
    if (fread(pre + 10, 1, 2, f) != 2) goto truncated;
    hlen |= (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
  }
  if (hlen > (1u << 20)) {
    fail(why, n, "header too large", path);
    goto out;
  }
  hdr = malloc(hlen + 1);
  if (!hdr || fread(hdr, 1, hlen, f) != hlen) goto truncated;
  hdr[hlen] = '\0';
  if (!strstr(hdr, "'descr': '<f4'") || strstr(hdr, "'fortran_order': True")) {
    fail(why, n, "only little-endian float32 C-order arrays are supported",
         path);
    goto out;
  }
  if (parse_shape(hdr, out)) {
    fail(why, n, "cannot parse the shape", path);
    goto out;
  }
  out->data = malloc(out->count ? out->count * sizeof(float) : 1);
  if (!out->data) {
    fail(why, n, "out of memory", path);
    goto out;
  }
  if (fread(out->data, sizeof(float), out->count, f) != out->count)
    goto truncated;
  rc = 0;
  goto out;
truncated:
  fail(why, n, "file is truncated", path);
out:
  if (rc) {
    free(out->data);
    out->data = NULL;
  }
  free(hdr);
  fclose(f);
  return rc;
}

int npy_write(const char *path, const float *data, const size_t *shape,
              size_t rank, char *why, size_t n) {
  char dict[256];
  int len = snprintf(dict, sizeof dict,
                     "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  size_t count = 1;
  for (size_t i = 0; i < rank; i++) {
    len += snprintf(dict + len, sizeof dict - (size_t)len, "%zu%s", shape[i],
                    rank == 1 ? "," : (i + 1 < rank ? ", " : ""));
    count *= shape[i];
  }
  len += snprintf(dict + len, sizeof dict - (size_t)len, "), }");
  /* Pad so that magic + 4 + header is a multiple of 64, ending in '\n'. */
  size_t total = 10 + (size_t)len + 1;
  size_t pad = (64 - total % 64) % 64;
  FILE *f = fopen(path, "wb");
  if (!f) return fail(why, n, strerror(errno), path);
  size_t hlen = (size_t)len + pad + 1;
  unsigned char pre[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0,
                           (unsigned char)(hlen & 0xff),
                           (unsigned char)(hlen >> 8)};
  int ok = fwrite(pre, 1, 10, f) == 10 &&
           fwrite(dict, 1, (size_t)len, f) == (size_t)len;
  for (size_t i = 0; ok && i < pad; i++) ok = fputc(' ', f) != EOF;
  ok = ok && fputc('\n', f) != EOF &&
       fwrite(data, sizeof(float), count, f) == count;
  if (fclose(f) != 0) ok = 0;
  return ok ? 0 : fail(why, n, "write failed", path);
}
