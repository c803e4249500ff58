/* Image folders for dataset.h: DIR/<split>/<class>/<file>, classes mapped
 * to the package's labels by name, samples in sorted order; and the
 * per-sample model input of either kind of data set. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "image_input.h"

typedef struct names {
  char **v;
  size_t n, cap;
} names;

static void names_free(names *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

static int by_name(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* out = a/b; 1 (after printing why) when it does not fit. */
static int join(char *out, size_t size, const char *a, const char *b) {
  int n = snprintf(out, size, "%s/%s", a, b);
  if (n >= 0 && (size_t)n < size) return 0;
  return cli_error("%s/%s: path too long", a, b);
}

static int is_dir(const char *path) {
  DIR *d = opendir(path);
  if (d) closedir(d);
  return d != NULL;
}

/* Entries of `dir` (not starting with '.'), sorted by name (byte order,
 * which for UTF-8 is Python's code-point order); directories only when
 * `dirs`, else image files only. Returns 0, or prints why. */
static int list(const char *dir, int dirs, names *out) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(dir);
  if (!d) return cli_error("%s: cannot open the folder", dir);
  struct dirent *e;
  char path[4096];
  int rc = CLI_OK;
  while (rc == CLI_OK && (e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if ((rc = join(path, sizeof path, dir, e->d_name))) break;
    if (dirs ? !is_dir(path) : (!image_path_is_image(e->d_name) || is_dir(path))) continue;
    if (out->n == out->cap) {
      size_t cap = out->cap ? 2 * out->cap : 64;
      char **v = realloc(out->v, sizeof(char *) * cap);
      if (!v) {
        rc = cli_error("out of memory listing %s", dir);
        break;
      }
      out->v = v;
      out->cap = cap;
    }
    if (!(out->v[out->n] = strdup(e->d_name))) {
      rc = cli_error("out of memory listing %s", dir);
      break;
    }
    out->n++;
  }
  closedir(d);
  if (rc) names_free(out);
  else if (out->n) qsort(out->v, out->n, sizeof(char *), by_name);
  return rc;
}

/* 1 when DIR/name is a directory. */
static int has_folder(const char *dir, const char *name) {
  char path[4096];
  return snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path && is_dir(path);
}

const char *dataset_test_folder(const char *dir) {
  return !has_folder(dir, "test") && has_folder(dir, "val") ? "val" : "test";
}

int dataset_is_image_folder(const char *dir) {
  return has_folder(dir, "train") || has_folder(dir, "val") || has_folder(dir, "test");
}

/* Labels sorted for lookup: the label itself, or with '/' as '_'. */
typedef struct label_key {
  char *name;
  uint32_t index;
} label_key;

static int by_key(const void *a, const void *b) {
  return strcmp(((const label_key *)a)->name, ((const label_key *)b)->name);
}

static label_key *label_keys(const dyce_model *m, int folder_form, size_t *n) {
  *n = dyce_model_label_count(m);
  label_key *k = calloc(*n ? *n : 1, sizeof *k);
  for (size_t i = 0; k && i < *n; i++) {
    k[i].index = (uint32_t)i;
    if (!(k[i].name = strdup(dyce_model_label(m, i)))) {
      for (size_t j = 0; j < i; j++) free(k[j].name);
      free(k);
      return NULL;
    }
    for (char *c = k[i].name; folder_form && *c; c++)
      if (*c == '/') *c = '_';
  }
  if (k && *n) qsort(k, *n, sizeof *k, by_key);
  return k;
}

static void keys_free(label_key *k, size_t n) {
  for (size_t i = 0; k && i < n; i++) free(k[i].name);
  free(k);
}

static const label_key *find_key(const label_key *k, size_t n, const char *name) {
  label_key want = {(char *)name, 0};
  return n ? bsearch(&want, k, n, sizeof *k, by_key) : NULL;
}

int dataset_load_images(const char *dir, const char *split, const dyce_model *m,
                        dataset *out) {
  memset(out, 0, sizeof *out);
  char root[4096], path[4096];
  out->part = split;
  if (join(root, sizeof root, dir, split)) return CLI_FAIL;
  if (!is_dir(root) && strcmp(split, "val") == 0) {
    out->part = "train"; /* a validation split carved from train */
    if (join(root, sizeof root, dir, "train")) return CLI_FAIL;
  }
  if (!is_dir(root)) return cli_error("%s: no such folder (an image folder holds "
                                      "DIR/<split>/<class>/<image files>)", root);
  names classes = {0}, files = {0};
  size_t nl = 0, cap = 0;
  label_key *exact = label_keys(m, 0, &nl), *folded = label_keys(m, 1, &nl);
  int rc = (!exact || !folded) ? cli_error("out of memory") : list(root, 1, &classes);
  if (!rc && !classes.n) rc = cli_error("%s: no class folders", root);
  for (size_t c = 0; !rc && c < classes.n; c++) {
    uint32_t label = (uint32_t)c;
    if (nl) {
      const label_key *k = find_key(exact, nl, classes.v[c]);
      if (!k) k = find_key(folded, nl, classes.v[c]);
      if (!k) {
        rc = cli_error("%s/%s: the package has no label '%s' (a '_' in a folder "
                       "name may stand for a '/' in a label)", root, classes.v[c],
                       classes.v[c]);
        break;
      }
      label = k->index;
    }
    if ((rc = join(path, sizeof path, root, classes.v[c])) || (rc = list(path, 0, &files)))
      break;
    for (size_t f = 0; !rc && f < files.n; f++) {
      if (out->count == cap) {
        cap = cap ? 2 * cap : 256;
        char **p = realloc(out->paths, sizeof(char *) * cap);
        uint32_t *l = p ? realloc(out->labels, sizeof(uint32_t) * cap) : NULL;
        if (p) out->paths = p;
        if (l) out->labels = l;
        if (!p || !l) {
          rc = cli_error("out of memory listing %s", root);
          break;
        }
      }
      size_t len = strlen(path) + strlen(files.v[f]) + 2;
      if (!(out->paths[out->count] = malloc(len))) {
        rc = cli_error("out of memory listing %s", root);
        break;
      }
      snprintf(out->paths[out->count], len, "%s/%s", path, files.v[f]);
      out->labels[out->count++] = label;
    }
    names_free(&files);
  }
  if (!rc && !out->count) rc = cli_error("%s: no .png, .jpg or .jpeg files", root);
  names_free(&classes);
  keys_free(exact, nl);
  keys_free(folded, nl);
  if (rc) dataset_free(out);
  return rc;
}

int dataset_input(const dataset *d, size_t i, const dyce_input_spec *in, float *x) {
  if (d->paths) return image_file_tensor(d->paths[i], in, x);
  size_t pixels = d->height * d->width;
  const uint8_t *img = d->images + i * pixels;
  for (size_t p = 0; p < pixels; p++)
    x[p] = ((float)img[p] * in->pixel_scale - in->mean[0]) / in->std[0];
  return CLI_OK;
}
