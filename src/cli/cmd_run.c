/* `dyce run MODEL --input X.npy|IMAGE [--graph NAME] [--level L]
 * [--output Y.npy] [--save-input X.npy]`: one inference on an NCHW
 * float32 tensor as PyTorch exports it, or on a .png / .jpg / .jpeg file
 * preprocessed as the package's input spec says (image_input.h);
 * --save-input writes the exact tensor the engine ran. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "image_input.h"
#include "npy.h"

typedef struct run_args {
  const char *model, *input, *output, *graph, *level, *save_input;
} run_args;

static int parse(int argc, char **argv, run_args *a) {
  memset(a, 0, sizeof *a);
  for (int i = 0; i < argc; i++) {
    const char **slot = NULL;
    if (strcmp(argv[i], "--input") == 0) slot = &a->input;
    else if (strcmp(argv[i], "--output") == 0) slot = &a->output;
    else if (strcmp(argv[i], "--graph") == 0) slot = &a->graph;
    else if (strcmp(argv[i], "--level") == 0) slot = &a->level;
    else if (strcmp(argv[i], "--save-input") == 0) slot = &a->save_input;
    if (slot) {
      if (i + 1 >= argc) return cli_error("run: %s needs a value", argv[i]);
      *slot = argv[++i];
    } else if (!a->model && argv[i][0] != '-') {
      a->model = argv[i];
    } else {
      return cli_error("run: unexpected argument '%s'", argv[i]);
    }
  }
  if (!a->model || !a->input)
    return cli_error("run: usage: dyce run MODEL.dyce --input X.npy|IMAGE.png|.jpg "
                     "[--graph NAME] [--level L] [--output Y.npy] [--save-input X.npy]");
  return CLI_OK;
}

/* The input must be (1, C, H, W) or (C, H, W) of the model's input. */
static int check_input_shape(const dyce_model *m, const npy_array *x) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  const size_t *s = x->shape;
  size_t r = x->rank;
  int ok = (r == 4 && s[0] == 1 && s[1] == in.channels && s[2] == in.height &&
            s[3] == in.width) ||
           (r == 3 && s[0] == in.channels && s[1] == in.height &&
            s[2] == in.width);
  if (ok) return CLI_OK;
  char got[128] = "";
  for (size_t i = 0; i < r && strlen(got) < 100; i++)
    snprintf(got + strlen(got), sizeof got - strlen(got), "%s%zu", i ? "," : "",
             s[i]);
  return cli_error("input shape (%s) does not match the model's NCHW input "
                   "(1,%u,%u,%u)",
                   got, in.channels, in.height, in.width);
}

/* Writes the output as PyTorch would lay it out: (1, K) for a flat vector,
 * else NCHW. */
static int write_output(const char *path, const float *y, size_t count,
                        const uint32_t dims[4]) {
  char why[256];
  float *tmp = NULL;
  int rc;
  if (dims[1] == 1 && dims[2] == 1) {
    size_t shape[2] = {1, dims[3]};
    rc = npy_write(path, y, shape, 2, why, sizeof why);
  } else {
    size_t h = dims[1], w = dims[2], c = dims[3];
    tmp = malloc(sizeof(float) * count);
    if (!tmp) return cli_error("out of memory");
    for (size_t i = 0; i < h * w; i++)
      for (size_t k = 0; k < c; k++) tmp[k * h * w + i] = y[i * c + k];
    size_t shape[4] = {1, c, h, w};
    rc = npy_write(path, tmp, shape, 4, why, sizeof why);
  }
  free(tmp);
  return rc ? cli_error("%s", why) : CLI_OK;
}

/* An image file as the model's (1, C, H, W) input. */
static int read_image(const dyce_model *m, const char *path, npy_array *x) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  memset(x, 0, sizeof *x);
  x->rank = 4;
  x->shape[0] = 1;
  x->shape[1] = in.channels;
  x->shape[2] = in.height;
  x->shape[3] = in.width;
  x->count = (size_t)in.channels * in.height * in.width;
  if (!(x->data = malloc(sizeof(float) * x->count))) return cli_error("out of memory");
  if (image_file_tensor(path, &in, x->data)) {
    free(x->data);
    return CLI_FAIL;
  }
  return CLI_OK;
}

/* A note when the input holds values no picture normalised by the
 * package's input spec has (raw 0-255 pixels, say): it runs as given (a
 * test tensor may be anything), but an answer on it means little. The JS
 * API refuses such a tensor (wasm/preprocess.mjs checkTensorForm). */
static void note_unnormalised(const dyce_model *m, const npy_array *x, const char *path) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  size_t plane = (size_t)in.height * in.width;
  for (size_t i = 0; plane && i < x->count; i++) {
    size_t c = i / plane;
    double a = -in.mean[c] / in.std[c], b = (255.0 * in.pixel_scale - in.mean[c]) / in.std[c];
    double lo = a < b ? a : b, hi = a < b ? b : a, slack = 1e-4 * (hi - lo) + 1e-6;
    float v = x->data[i];
    if (v == v && v - v == 0 && (v < lo - slack || v > hi + slack)) {
      fprintf(stderr, "dyce: note: %s: value %zu is %g, outside [%.4f, %.4f], the values a "
              "picture normalised as the package says ((pixel * %g - %g) / %g) can take: raw "
              "pixels? (run as given)\n", path, i, (double)v, lo, hi, (double)in.pixel_scale,
              (double)in.mean[c], (double)in.std[c]);
      return;
    }
  }
}

/* --input: a .npy array or an image, told apart by the file's first bytes
 * (a PNG named .jpg, or one without an extension, is still a PNG); a
 * folder or another image format is refused with the reason. */
static int read_input(const dyce_model *m, const char *path, npy_array *x) {
  const char *format;
  char why[300];
  DIR *dir = opendir(path);
  if (dir) {
    closedir(dir);
    return cli_error("%s: a folder; --input takes one file (dyce eval --data DIR reads "
                     "folders)", path);
  }
  int kind = image_file_signature(path, &format), named = image_path_kind(path);
  if (kind == IMAGE_PATH_IMAGE || (kind == IMAGE_PATH_NONE && named == IMAGE_PATH_IMAGE))
    return read_image(m, path, x); /* the decoder says what is wrong with a bad one */
  if (kind == IMAGE_PATH_OTHER)
    return cli_error("%s: a %s image: dyce reads PNG and JPEG files only; convert it to PNG",
                     path, format);
  if (named == IMAGE_PATH_OTHER) {
    image_other_format_refusal(path, why, sizeof why);
    return cli_error("%s: %s", path, why);
  }
  if (!npy_read(path, x, why, sizeof why)) return CLI_OK;
  if (strstr(why, "not a .npy file"))
    return cli_error("%s: neither a .npy array nor a PNG or JPEG image (by its first bytes)",
                     path);
  return cli_error("%s", why);
}

/* An int8 output (a backbone stage of an int8 package), as real values. */
static int read_int8_output(const dyce_session *s, size_t g, float **y,
                            size_t *n) {
  const int8_t *q;
  float scale;
  int32_t zp;
  dyce_error err;
  if (dyce_session_output_int8(s, g, &q, n, &scale, &zp, &err) != DYCE_OK)
    return cli_error("%s", err.message);
  if (!(*y = malloc(sizeof(float) * (*n ? *n : 1)))) return cli_error("out of memory");
  for (size_t i = 0; i < *n; i++) (*y)[i] = (float)(q[i] - zp) * scale;
  return 0;
}

static int run_once(dyce_model *m, const run_args *a) {
  size_t g;
  if (cli_pick_graph(m, a->graph, &g)) return CLI_FAIL;
  npy_array x;
  char why[256];
  if (read_input(m, a->input, &x)) return CLI_FAIL;
  int rc = check_input_shape(m, &x);
  if (!rc) note_unnormalised(m, &x, a->input);
  if (!rc && a->save_input && npy_write(a->save_input, x.data, x.shape, x.rank, why, sizeof why))
    rc = cli_error("%s", why);
  dyce_session *s = NULL;
  dyce_error err;
  double ms = 0;
  if (!rc && dyce_session_create(m, &s, &err) != DYCE_OK)
    rc = cli_error("%s", err.message);
  dyce_config cfg;
  dyce_config_backbone(m, &cfg);
  if (!rc && (cli_pick_graph_level(m, g, a->level, "run", &cfg.level) ||
              (cfg.level && dyce_session_set_config(s, &cfg, &err) != DYCE_OK &&
               cli_error("%s", err.message))))
    rc = CLI_FAIL;
  if (!rc && dyce_session_set_input(s, x.data, x.count, DYCE_LAYOUT_NCHW,
                                    &err) != DYCE_OK)
    rc = cli_error("%s: %s", a->input, err.message);
  if (!rc) {
    double t0 = cli_now_ms();
    if (dyce_session_run(s, g, &err) != DYCE_OK) rc = cli_error("%s", err.message);
    ms = cli_now_ms() - t0;
  }
  const float *y = NULL;
  float *dequantized = NULL;
  size_t n = 0;
  dyce_graph_info gi;
  if (!rc) dyce_model_graph_info(m, g, &gi, NULL);
  if (!rc && gi.output_int8)
    rc = read_int8_output(s, g, &dequantized, &n);
  else if (!rc && dyce_session_output(s, g, &y, &n, &err) != DYCE_OK)
    rc = cli_error("%s", err.message);
  if (dequantized) y = dequantized;
  /* A width level may give an intermediate graph fewer channels. */
  if (!rc && gi.output_dims[1] && gi.output_dims[2])
    gi.output_dims[3] = (uint32_t)(n / ((size_t)gi.output_dims[1] * gi.output_dims[2]));
  if (!rc && a->output) rc = write_output(a->output, y, n, gi.output_dims);
  if (!rc && cli_graph_is_stage(m, g)) { /* a feature map: no class to name */
    printf("{\"graph\":");
    cli_json_string(gi.name);
    printf(",\"output_nhwc\":[1,%u,%u,%u],\"macs\":%llu,\"ms\":%.3f}\n", gi.output_dims[1],
           gi.output_dims[2], gi.output_dims[3],
           (unsigned long long)dyce_model_level_path_macs(m, g, cfg.level), ms);
  } else if (!rc) {
    dyce_node_info last;
    dyce_model_node_info(m, g, gi.node_count - 1, &last, NULL);
    cli_top1 t = cli_top1_of(y, n, strcmp(last.op, "softmax") == 0);
    size_t index = t.index;
    double score = t.score;
    const char *label = dyce_model_label(m, index);
    printf("{\"graph\":");
    cli_json_string(gi.name);
    printf(",\"index\":%zu,\"label\":", index);
    if (label)
      cli_json_string(label);
    else
      printf("\"%zu\"", index);
    printf(",\"score\":%.6f,\"macs\":%llu,\"ms\":%.3f}\n", score,
           (unsigned long long)dyce_model_level_path_macs(m, g, cfg.level), ms);
  }
  dyce_session_free(s);
  free(x.data);
  free(dequantized);
  return rc;
}

int cmd_run(int argc, char **argv) {
  run_args a;
  if (parse(argc, argv, &a)) return CLI_USAGE;
  dyce_model *m = cli_load_model(a.model);
  if (!m) return CLI_FAIL;
  int rc = run_once(m, &a);
  dyce_model_free(m);
  return rc;
}
