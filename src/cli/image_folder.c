/* Image folders for dataset.h: DIR/<split>/<class>/<file>, classes mapped
 * to the package's labels by name, samples in sorted order; and the
 * per-sample model input of either kind of data set. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* 1 (after printing why) when `path` is a link to nothing: an error, not
 * a class or a file skipped unsaid (data.py `_check_link`). */
static int broken_link(const char *path) {
  struct stat st;
  if (lstat(path, &st) != 0 || !S_ISLNK(st.st_mode) || stat(path, &st) == 0) return 0;
  return cli_error("%s: a link to nothing (its target is gone); remove it or restore "
                   "the target", path);
}

/* Is the file an image: its name says PNG or JPEG, or another image
 * format (refused), or else its first bytes say PNG or JPEG. */
static int file_kind(const char *path, const char *name) {
  const char *format;
  int kind = image_path_kind(name);
  return kind != IMAGE_PATH_NONE ? kind
         : image_file_signature(path, &format) == IMAGE_PATH_IMAGE ? IMAGE_PATH_IMAGE
                                                                 : IMAGE_PATH_NONE;
}

/* Appends a copy of `name`; 1 (after printing why) when out of memory. */
static int names_add(names *l, const char *name) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    char **v = realloc(l->v, sizeof(char *) * cap);
    if (!v) return cli_error("out of memory listing %s", name);
    l->v = v;
    l->cap = cap;
  }
  if (!(l->v[l->n] = strdup(name))) return cli_error("out of memory listing %s", name);
  l->n++;
  return CLI_OK;
}

/* Entries read: not hidden (.DS_Store, ._* AppleDouble files), not a
 * macOS archive's __MACOSX folder (models/dyce_build/data.py `_visible`). */
static int visible(const char *name) {
  return name[0] != '.' && strcmp(name, "__MACOSX") != 0;
}

/* Folders inside a class folder, at most (data.py MAX_DEPTH). */
#define MAX_DEPTH 8

/* Files not read (not images) while listing a split, for the note. */
typedef struct skipped {
  size_t n;
  char first[4096];
} skipped;

/* The class folders of `dir`, sorted by name (byte order, as data.py);
 * an image beside them is an error (its class would be a guess), as is a
 * link to nothing (data.py scan_folder). */
static int list_dirs(const char *dir, names *out) {
  memset(out, 0, sizeof *out);
  DIR *d = opendir(dir);
  if (!d) return cli_error("%s: cannot open the folder", dir);
  struct dirent *e;
  char path[4096];
  names loose = {0};
  int rc = CLI_OK;
  while (rc == CLI_OK && (e = readdir(d))) {
    if (!visible(e->d_name) || (rc = join(path, sizeof path, dir, e->d_name)) ||
        (rc = broken_link(path)))
      continue;
    if (is_dir(path)) rc = names_add(out, e->d_name);
    else if (file_kind(path, e->d_name) == IMAGE_PATH_IMAGE) rc = names_add(&loose, e->d_name);
  }
  closedir(d);
  if (!rc && loose.n) {
    qsort(loose.v, loose.n, sizeof(char *), by_name);
    rc = cli_error("%s/%s: an image outside the class folders (%zu in all); its class is the "
                   "name of the folder it is in: move it into %s/<class>/, or out of %s", dir,
                   loose.v[0], loose.n, dir, dir);
  }
  names_free(&loose);
  if (rc) names_free(out);
  else if (out->n) qsort(out->v, out->n, sizeof(char *), by_name);
  return rc;
}

/* Adds the image files under root/rel (rel "" for root itself) at any
 * depth to `out`, as '/'-separated paths relative to root; a file of
 * another image format is an error naming it, other files are counted in
 * `skip`. Unsorted. Returns 0, or prints why. */
static int list_files(const char *root, const char *rel, int depth, names *out,
                      skipped *skip) {
  enum { N = 4096 }; /* on the heap: the recursion stays small on WASI's stack */
  struct paths { char dir[N], sub[N], path[N]; } *b = malloc(sizeof *b);
  if (!b) return cli_error("out of memory listing %s", root);
  char *dir = b->dir, *sub = b->sub, *path = b->path;
  DIR *d = join(dir, N, root, rel) ? NULL : opendir(*rel ? dir : root);
  if (!d) {
    int rc = cli_error("%s: cannot open the folder", *rel ? dir : root);
    free(b);
    return rc;
  }
  struct dirent *e;
  int rc = CLI_OK;
  while (rc == CLI_OK && (e = readdir(d))) {
    if (!visible(e->d_name)) continue;
    if (*rel) rc = join(sub, N, rel, e->d_name);
    else if ((size_t)snprintf(sub, N, "%s", e->d_name) >= N)
      rc = cli_error("%s/%s: path too long", root, e->d_name);
    if (rc || (rc = join(path, N, root, sub)) || (rc = broken_link(path))) break;
    int folder = is_dir(path), kind = folder ? IMAGE_PATH_NONE : file_kind(path, e->d_name);
    if (folder) {
      rc = depth < MAX_DEPTH ? list_files(root, sub, depth + 1, out, skip)
                             : cli_error("%s: folders nested more than %d deep in a class "
                                         "folder (a link to a parent?)", path, MAX_DEPTH);
    } else if (kind == IMAGE_PATH_IMAGE) {
      rc = names_add(out, sub);
    } else if (kind == IMAGE_PATH_OTHER) {
      char why[300];
      image_other_format_refusal(e->d_name, why, sizeof why);
      rc = cli_error("%s: %s", path, why);
    } else if (skip->n++ == 0) {
      snprintf(skip->first, sizeof skip->first, "%s", path);
    }
  }
  closedir(d);
  free(b);
  return rc;
}

/* 1 when DIR/name is a directory. */
static int has_folder(const char *dir, const char *name) {
  char path[4096];
  return snprintf(path, sizeof path, "%s/%s", dir, name) < (int)sizeof path && is_dir(path);
}

/* The validation folder of DIR: val/, valid/ or validation/ (data.py
 * VAL_FOLDERS), NULL when none; *several when more than one exists. */
static const char *val_folder(const char *dir, int *several) {
  static const char *const names_[] = {"val", "valid", "validation"};
  const char *found = NULL;
  *several = 0;
  for (int i = 0; i < 3; i++)
    if (has_folder(dir, names_[i])) {
      if (found) *several = 1;
      else found = names_[i];
    }
  return found;
}

/* 1 when DIR holds an IDX file set (dataset.c reads those). */
static int has_idx(const char *dir) {
  static const char *const files[] = {"train-images-idx3-ubyte", "train-images-idx3-ubyte.gz",
                                      "t10k-images-idx3-ubyte", "t10k-images-idx3-ubyte.gz"};
  char path[4096];
  for (int i = 0; i < 4; i++) {
    FILE *f = snprintf(path, sizeof path, "%s/%s", dir, files[i]) < (int)sizeof path
                  ? fopen(path, "rb") : NULL;
    if (f) {
      fclose(f);
      return 1;
    }
  }
  return 0;
}

/* A folder of class folders without split folders (DIR/<class>/...). */
static int is_flat(const char *dir) {
  int several;
  if (has_folder(dir, "train") || has_folder(dir, "test") || val_folder(dir, &several) ||
      has_idx(dir))
    return 0;
  DIR *d = opendir(dir);
  if (!d) return 0;
  struct dirent *e;
  char path[4096];
  int found = 0;
  while (!found && (e = readdir(d)))
    found = visible(e->d_name) &&
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name) < (int)sizeof path && is_dir(path);
  closedir(d);
  return found;
}

int dataset_is_folder(const char *dir) { return is_dir(dir); }

int dataset_is_image_folder(const char *dir) {
  int several;
  return has_folder(dir, "train") || has_folder(dir, "test") || val_folder(dir, &several) ||
         is_flat(dir);
}

/* Is the file at `rel` (under the data folder) held out as a test file of
 * a folder without split folders? FNV-1a (32 bits) of the path's bytes,
 * modulo 10^6, under fraction * 10^6 (models/dyce_build/data.py held_out). */
static int held_out(const char *rel, double fraction) {
  uint32_t h = 2166136261u;
  for (const unsigned char *c = (const unsigned char *)rel; *c; c++)
    h = (h ^ *c) * 16777619u;
  return h % 1000000u < (uint32_t)(fraction * 1000000.0 + 0.5);
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

/* DIR/<folder> of a split (dataset.h): "test" is test/, or the val folder
 * when there is no test/; "val" is the val folder beside test/, else
 * train/ (a validation split carved from train). */
static int split_root(const char *dir, const char *split, dataset *out, char *root,
                      size_t size) {
  int several;
  if (is_flat(dir)) { /* the test split held out by path, the rest is "train" */
    out->part = strcmp(split, "test") == 0 ? "test" : "train";
    return snprintf(root, size, "%s", dir) < (int)size ? CLI_OK : cli_error("%s: path too long", dir);
  }
  const char *val = val_folder(dir, &several), *folder = split;
  if (several)
    return cli_error("%s: more than one of val/, valid/ and validation/; keep one "
                     "validation folder", dir);
  int test = has_folder(dir, "test");
  out->part = split;
  if (strcmp(split, "test") == 0 && !test && val) {
    folder = val; /* ImageNet's layout: val/ holds the test images */
  } else if (strcmp(split, "val") == 0) {
    folder = val && test ? val : "train";
    if (strcmp(folder, "train") == 0) out->part = "train";
  }
  if (join(root, size, dir, folder)) return CLI_FAIL;
  if (!is_dir(root)) return cli_error("%s: no such folder (an image folder holds "
                                      "DIR/<split>/<class>/<image files>)", root);
  return CLI_OK;
}

/* Which files of a folder without split folders a split reads. */
typedef struct holdout {
  int flat, test;  /* test: the held-out files, else the others */
  double fraction;
  const char *cls; /* the class folder's name: paths are cls/file */
} holdout;

static int wanted(const holdout *h, const char *file) {
  if (!h->flat) return 1;
  char rel[8192];
  snprintf(rel, sizeof rel, "%s/%s", h->cls, file);
  return held_out(rel, h->fraction) == h->test;
}

/* Appends the image files of class folder `path` (sorted by their path
 * under it) that `hold` keeps with `label` to `out`. */
static int add_class(const char *path, uint32_t label, dataset *out, size_t *cap,
                     skipped *skip, const holdout *hold) {
  names files = {0};
  int rc = list_files(path, "", 0, &files, skip);
  if (!rc && !files.n) rc = cli_error("%s: empty class folder (no PNG or JPEG files)", path);
  if (!rc) qsort(files.v, files.n, sizeof(char *), by_name);
  for (size_t f = 0; !rc && f < files.n; f++) {
    if (!wanted(hold, files.v[f])) continue;
    if (out->count == *cap) {
      *cap = *cap ? 2 * *cap : 256;
      char **p = realloc(out->paths, sizeof(char *) * *cap);
      uint32_t *l = p ? realloc(out->labels, sizeof(uint32_t) * *cap) : NULL;
      if (p) out->paths = p;
      if (l) out->labels = l;
      if (!p || !l) {
        rc = cli_error("out of memory listing %s", path);
        break;
      }
    }
    size_t len = strlen(path) + strlen(files.v[f]) + 2;
    if (!(out->paths[out->count] = malloc(len))) {
      rc = cli_error("out of memory listing %s", path);
      break;
    }
    snprintf(out->paths[out->count], len, "%s/%s", path, files.v[f]);
    out->labels[out->count++] = label;
  }
  names_free(&files);
  return rc;
}

int dataset_load_images(const char *dir, const char *split, const dyce_model *m,
                        double test_fraction, dataset *out) {
  memset(out, 0, sizeof *out);
  char root[4096], path[4096];
  holdout hold = {is_flat(dir), strcmp(split, "test") == 0, test_fraction, NULL};
  if (split_root(dir, split, out, root, sizeof root)) return CLI_FAIL;
  names classes = {0};
  skipped skip = {0};
  size_t nl = 0, cap = 0;
  label_key *exact = label_keys(m, 0, &nl), *folded = label_keys(m, 1, &nl);
  int rc = (!exact || !folded) ? cli_error("out of memory") : list_dirs(root, &classes);
  if (!rc && !classes.n) rc = cli_error("%s: no class folders", root);
  size_t outputs = nl ? 0 : dataset_classifier_outputs(m);
  if (!rc && !nl && classes.n > outputs)
    /* Without labels, folders are classes 0, 1, ... in sorted order: the
     * folders past the outputs could never be answered right. */
    rc = cli_error("%s: %zu class folders, but the package has no labels and its classifier "
                   "outputs %zu values: folders are classes 0..%zu in sorted order, so the "
                   "rest could never be right (give the package labels: convert.py --labels)",
                   root, classes.n, outputs, outputs ? outputs - 1 : 0);
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
    hold.cls = classes.v[c];
    if (!(rc = join(path, sizeof path, root, classes.v[c])))
      rc = add_class(path, label, out, &cap, &skip, &hold);
  }
  if (!rc && hold.flat) /* DIR/test given for DIR: say that most of it is not read */
    fprintf(stderr, "dyce: note: %s has no split folders (train/, test/, val/): its class "
            "folders are one data set whose %s split is %s%g of the files, chosen by their "
            "paths: %zu files here (--test-fraction sets the share)\n", dir, out->part,
            hold.test ? "" : "all but ", test_fraction, out->count);
  if (!rc && skip.n)
    fprintf(stderr, "dyce: note: %zu file%s under %s %s not images (e.g. %s); not read\n",
            skip.n, skip.n == 1 ? "" : "s", root, skip.n == 1 ? "is" : "are", skip.first);
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
  if (in->channels == 1 && in->height == d->height && in->width == d->width) {
    for (size_t p = 0; p < pixels; p++)
      x[p] = ((float)img[p] * in->pixel_scale - in->mean[0]) / in->std[0];
    return CLI_OK;
  }
  /* A model of another size (the build's --size on IDX data) or of three
   * channels (--channels 3): as an image file of that gray picture would
   * be (image_tensor: resized, the gray value in every channel). */
  dyce__image im = {d->width, d->height, malloc(3 * pixels), 1};
  char why[160];
  int rc = !im.rgb;
  for (size_t p = 0; !rc && p < pixels; p++) im.rgb[3 * p] = im.rgb[3 * p + 1] = im.rgb[3 * p + 2] = img[p];
  if (rc) snprintf(why, sizeof why, "out of memory");
  else rc = image_tensor(&im, in, x, why, sizeof why);
  free(im.rgb);
  return rc ? cli_error("IDX sample %zu: %s", i, why) : CLI_OK;
}
