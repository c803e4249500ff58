/* Image preprocessing (image_input.h): a transcription of
 * models/dyce_build/images.py, step by step, in double precision. */
#include "image_input.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"

/* 1 when `path` ends in `ext` (lower case), in any case. */
static int ends_with(const char *path, const char *ext) {
  size_t n = strlen(path), k = strlen(ext), i = 0;
  if (n <= k) return 0;
  while (i < k && tolower((unsigned char)path[n - k + i]) == ext[i]) i++;
  return i == k;
}

/* The two lists of models/dyce_build/images.py: EXTENSIONS, OTHER_FORMATS. */
static const char *const images[] = {".png", ".jpg", ".jpeg", ".jpe", ".jfif"};
static const char *const others[] = {".bmp", ".dib", ".gif", ".webp", ".tif", ".tiff",
                                     ".heic", ".heif", ".avif", ".jp2", ".jxl", ".ico",
                                     ".tga", ".ppm", ".pgm", ".pbm", ".pnm", ".psd"};

int image_path_kind(const char *path) {
  for (size_t e = 0; e < sizeof images / sizeof *images; e++)
    if (ends_with(path, images[e])) return IMAGE_PATH_IMAGE;
  for (size_t e = 0; e < sizeof others / sizeof *others; e++)
    if (ends_with(path, others[e])) return IMAGE_PATH_OTHER;
  return IMAGE_PATH_NONE;
}

int image_file_signature(const char *path, const char **format) {
  static const struct { const char *magic, *name; size_t at, n; } others_[] = {
      {"GIF8", "GIF", 0, 4},   {"BM", "BMP", 0, 2},      {"WEBP", "WebP", 8, 4},
      {"II*\0", "TIFF", 0, 4}, {"MM\0*", "TIFF", 0, 4}, {"ftyp", "HEIF/AVIF", 4, 4}};
  unsigned char b[12] = {0};
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(b, 1, sizeof b, f) : 0;
  if (f) fclose(f);
  *format = NULL;
  if ((n >= 8 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0) ||
      (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff))
    return IMAGE_PATH_IMAGE;
  for (size_t i = 0; i < sizeof others_ / sizeof *others_; i++)
    if (n >= others_[i].at + others_[i].n &&
        memcmp(b + others_[i].at, others_[i].magic, others_[i].n) == 0) {
      *format = others_[i].name;
      return IMAGE_PATH_OTHER;
    }
  return IMAGE_PATH_NONE;
}

void image_other_format_refusal(const char *path, char *why, size_t why_size) {
  const char *dot = strrchr(path, '.');
  char upper[8] = {0};
  for (size_t i = 0; dot && dot[i + 1] && i + 1 < sizeof upper; i++)
    upper[i] = (char)toupper((unsigned char)dot[i + 1]);
  snprintf(why, why_size, "a %s image: dyce reads PNG and JPEG files only (the engine has "
           "no decoder for %s); convert it to PNG", dot ? dot : "", upper);
}

/* Sparse resampling weights: output o reads `count[o]` source pixels from
 * `first[o]`, weights w[o * taps + j]. */
typedef struct box {
  size_t taps;
  size_t *first, *count;
  double *w;
} box;

static void box_free(box *b) {
  free(b->first);
  free(b->count);
  free(b->w);
}

/* images.py box_weights: output o covers [start + o*step, start + (o+1)*step);
 * each source pixel s is weighted by its coverage (when above 1e-9 and
 * inside 0..size-1), and the weights are normalised to sum 1. */
static int box_weights(box *b, double start, double step, size_t count, size_t size) {
  b->taps = (size_t)ceil(step) + 2;
  b->first = calloc(count, sizeof(size_t));
  b->count = calloc(count, sizeof(size_t));
  b->w = calloc(count * b->taps, sizeof(double));
  if (!b->first || !b->count || !b->w) return 1;
  for (size_t o = 0; o < count; o++) {
    double a = start + (double)o * step, e = a + step, sum = 0;
    double *w = b->w + o * b->taps;
    for (double s = floor(a); s < ceil(e); s += 1.0) {
      double cover = fmin(e, s + 1) - fmax(a, s);
      if (!(cover > 1e-9 && s >= 0 && s < (double)size)) continue;
      if (!b->count[o]) b->first[o] = (size_t)s;
      size_t j = (size_t)s - b->first[o];
      if (j >= b->taps) return 1; /* cannot happen: taps > step + 1 */
      w[j] = cover;
      b->count[o] = j + 1;
      sum += cover;
    }
    if (!(sum > 0)) return 1;
    for (size_t j = 0; j < b->count[o]; j++) w[j] /= sum;
  }
  return 0;
}

int image_tensor(const dyce__image *im, const dyce_input_spec *in, float *x,
                 char *why, size_t why_size) {
  size_t oh = in->height, ow = in->width, h = im->height, w = im->width;
  size_t c = in->channels;
  if (c != 1 && c != 3) {
    snprintf(why, why_size, "the model takes %zu input channels; image files "
             "can feed 1 (gray) or 3 (RGB)", c);
    return 1;
  }
  /* pixels: 3 planes of oh x ow, resized R, G, B. */
  double *px = malloc(sizeof(double) * 3 * oh * ow);
  double *tmp = malloc(sizeof(double) * oh * w); /* one plane after Wy */
  box by = {0}, bx = {0};
  int rc = !px || !tmp;
  if (!rc && h == oh && w == ow) {
    for (size_t i = 0; i < oh * ow; i++)
      for (size_t k = 0; k < 3; k++) px[k * oh * ow + i] = im->rgb[3 * i + k];
  } else if (!rc) {
    /* center_crop: the largest centred crop with the output's aspect. */
    double scale = fmin((double)w / (double)ow, (double)h / (double)oh);
    double cw = (double)ow * scale, ch = (double)oh * scale;
    double x0 = ((double)w - cw) / 2, y0 = ((double)h - ch) / 2;
    rc = box_weights(&by, y0, ch / (double)oh, oh, h) ||
         box_weights(&bx, x0, cw / (double)ow, ow, w);
    /* Wy @ plane, then @ Wx^T. */
    for (size_t k = 0; !rc && k < 3; k++) {
      for (size_t o = 0; o < oh; o++)
        for (size_t sx = 0; sx < w; sx++) {
          double acc = 0;
          for (size_t j = 0; j < by.count[o]; j++)
            acc += by.w[o * by.taps + j] * im->rgb[3 * ((by.first[o] + j) * w + sx) + k];
          tmp[o * w + sx] = acc;
        }
      for (size_t o = 0; o < oh; o++)
        for (size_t q = 0; q < ow; q++) {
          double acc = 0;
          const double *row = tmp + o * w + bx.first[q];
          for (size_t j = 0; j < bx.count[q]; j++) acc += row[j] * bx.w[q * bx.taps + j];
          px[(k * oh + o) * ow + q] = acc;
        }
    }
  }
  if (rc) {
    snprintf(why, why_size, "out of memory resizing a %zux%zu image", w, h);
  } else {
    size_t n = oh * ow;
    const double *r = px, *g = px + n, *b = px + 2 * n;
    for (size_t k = 0; k < c; k++) {
      double mean = in->mean[k], sd = in->std[k], ps = in->pixel_scale;
      for (size_t i = 0; i < n; i++) {
        double p = c == 3 ? px[k * n + i]
                   : im->gray ? r[i]
                              : 0.299 * r[i] + 0.587 * g[i] + 0.114 * b[i];
        /* Rounded half to even to a byte, as the build holds its data
         * (images.py load_uint8) and a browser's pixels are. */
        p = fmin(fmax(nearbyint(p), 0.0), 255.0);
        x[k * n + i] = (float)((p * ps - mean) / sd);
      }
    }
  }
  box_free(&by);
  box_free(&bx);
  free(px);
  free(tmp);
  return rc;
}

int image_file_tensor(const char *path, const dyce_input_spec *in, float *x) {
  size_t size;
  uint8_t *bytes = read_whole_file(path, &size);
  if (!bytes) return CLI_FAIL;
  dyce__image im;
  char why[300];
  int rc = dyce__image_decode(bytes, size, IMAGE_MAX_PIXELS, &im, why, sizeof why) ||
           image_tensor(&im, in, x, why, sizeof why);
  free(bytes);
  dyce__image_free(&im);
  return rc ? cli_error("%s: %s", path, why) : CLI_OK;
}
