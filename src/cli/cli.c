/* Helpers shared by the CLI commands. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

int cli_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("dyce: error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return CLI_FAIL;
}

static unsigned char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    cli_error("%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  unsigned char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    unsigned char *bigger = cap < ((size_t)1 << 31) ? realloc(buf, cap * 2) : NULL;
    if (!bigger) {
      free(buf);
      buf = NULL;
      break;
    }
    buf = bigger;
    cap *= 2;
  }
  int failed = ferror(f);
  fclose(f);
  if (!buf || failed) {
    free(buf);
    cli_error("%s: cannot read the file (%s)", path, strerror(errno));
    return NULL;
  }
  *size = n;
  return buf;
}

dyce_model *cli_load_model(const char *path) {
  size_t size = 0;
  unsigned char *bytes = read_file(path, &size);
  if (!bytes) return NULL;
  dyce_model *model = NULL;
  dyce_error err;
  if (dyce_model_load(bytes, size, &model, &err) != DYCE_OK)
    cli_error("%s: %s", path, err.message);
  free(bytes); /* the model keeps its own copy */
  return model;
}

double cli_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

void cli_json_string(const char *s) {
  putchar('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\')
      printf("\\%c", c);
    else if (c < 0x20)
      printf("\\u%04x", c);
    else
      putchar(c);
  }
  putchar('"');
}

cli_top1 cli_top1_of(const float *y, size_t n, int is_prob) {
  cli_top1 t = {0, 0.0, INFINITY};
  for (size_t i = 1; i < n; i++)
    if (y[i] > y[t.index]) t.index = i;
  double sum = 0.0;
  for (size_t i = 0; i < n; i++) {
    sum += exp((double)y[i] - y[t.index]);
    if (i != t.index && (double)y[t.index] - y[i] < t.gap)
      t.gap = (double)y[t.index] - y[i];
  }
  t.score = is_prob ? (double)y[t.index] : 1.0 / sum;
  return t;
}

void cli_list_names(char *buf, size_t size, size_t count,
                    const char *(*name)(const dyce_model *, size_t), const dyce_model *m) {
  size_t at = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < count && at < size; i++) {
    /* At most a line's worth: the first names, then how many in all. */
    if (at > 160) {
      snprintf(buf + at, size - at, ", ... (%zu in all)", count);
      return;
    }
    int n = snprintf(buf + at, size - at, "%s%s", i ? ", " : "", name(m, i));
    at += n > 0 ? (size_t)n : 0;
  }
}

int cli_pick_graph(const dyce_model *m, const char *name, size_t *graph) {
  dyce_error err;
  if (name) {
    if (dyce_model_find_graph(m, name, graph, &err) != DYCE_OK) {
      char names[256];
      cli_list_names(names, sizeof names, dyce_model_graph_count(m), cli_graph_name, m);
      return cli_error("%s; the graphs: %s", err.message, names);
    }
    return CLI_OK;
  }
  if (dyce_model_find_graph(m, "head", graph, NULL) != DYCE_OK)
    *graph = dyce_model_graph_count(m) - 1;
  return CLI_OK;
}

int cli_parse_u32(const char *text, uint32_t *value) {
  uint64_t v = 0;
  if (!*text) return CLI_FAIL;
  for (const char *c = text; *c; c++) {
    if (*c < '0' || *c > '9') return CLI_FAIL;
    v = v * 10 + (uint64_t)(*c - '0');
    if (v > UINT32_MAX) return CLI_FAIL;
  }
  *value = (uint32_t)v;
  return CLI_OK;
}

int cli_check_writable(const char *path) {
  FILE *f = fopen(path, "rb");
  int existed = f != NULL;
  if (f) fclose(f);
  errno = 0;
  f = fopen(path, "ab"); /* appends nothing: an existing file stays as it is */
  if (!f) return cli_error("%s: cannot write: %s", path, errno ? strerror(errno) : "unknown reason");
  fclose(f);
  if (!existed) remove(path);
  return CLI_OK;
}

int cli_pick_level(const dyce_model *m, const char *name, size_t *level) {
  size_t count = dyce_model_level_count(m);
  for (size_t l = 0; l < count; l++)
    if (strcmp(dyce_model_level_name(m, l), name) == 0) {
      *level = l;
      return CLI_OK;
    }
  uint32_t v;
  if (cli_parse_u32(name, &v) == CLI_OK && v < count) {
    *level = v;
    return CLI_OK;
  }
  char names[256];
  cli_list_names(names, sizeof names, count, dyce_model_level_name, m);
  return cli_error("no width level '%s'; the package's %zu: %s (or their indices 0..%zu)",
                   name, count, names, count - 1);
}

int cli_graph_is_stage(const dyce_model *m, size_t graph) {
  dyce_cascade_info ci;
  if (dyce_model_cascade(m, &ci, NULL) != DYCE_OK) return 0;
  for (size_t s = 1; s <= ci.stage_count; s++)
    if (dyce_model_stage(m, s) == graph) return 1;
  return 0;
}

int cli_pick_graph_level(const dyce_model *m, size_t graph, const char *level_name,
                         const char *command, size_t *level) {
  dyce_config backbone;
  dyce_config_backbone(m, &backbone);
  *level = backbone.level;
  if (level_name && cli_pick_level(m, level_name, level)) return CLI_FAIL;
  const char *name = cli_graph_name(m, graph);
  /* As in a configuration: the level's own exit, where it has one. */
  size_t own = dyce_model_level_exit(m, graph, *level);
  if (own != DYCE_NO_GRAPH)
    return cli_error("%s: '%s' is the full width's exit; width level %s has its own, '%s'",
                     command, name, level_name, cli_graph_name(m, own));
  /* An exit trained for one width level (exit<p>_<t>_<level>) reads that
   * level's stage output: it runs there. */
  size_t owner = dyce_model_graph_level(m, graph);
  if (owner == DYCE_NO_LEVEL) return CLI_OK;
  if (level_name && *level != owner)
    return cli_error("%s: '%s' is an exit of width level %s, not %s", command, name,
                     dyce_model_level_name(m, owner), level_name);
  *level = owner;
  return CLI_OK;
}

const char *cli_graph_name(const dyce_model *m, size_t g) {
  dyce_graph_info gi;
  return dyce_model_graph_info(m, g, &gi, NULL) == DYCE_OK ? gi.name : "?";
}

/* Prints a configuration as `saver1>0.95 exit2_b>0.87 ...` (text) or a
 * JSON array of {graph, threshold}. */
void cli_print_config(const dyce_model *m, const dyce_config *c, int json) {
  dyce_cascade_info ci;
  dyce_model_cascade(m, &ci, NULL);
  int first = 1;
  if (dyce_model_level_count(m) > 1) {
    printf(json ? "\"level\":" : "[%s] ", dyce_model_level_name(m, c->level));
    if (json) {
      cli_json_string(dyce_model_level_name(m, c->level));
      printf(",");
    }
  }
  printf(json ? "\"classifiers\":[" : "");
  for (size_t q = 0; q <= ci.stage_count; q++) {
    size_t g = q == 0 ? c->saver : c->exit[q - 1];
    float t = q == 0 ? c->saver_threshold : c->threshold[q - 1];
    if (g == DYCE_NO_GRAPH) continue;
    if (json)
      printf("%s{\"graph\":\"%s\",\"threshold\":%.4g}", first ? "" : ",", cli_graph_name(m, g), (double)t);
    else
      printf("%s%s>%.3f", first ? "" : " ", cli_graph_name(m, g), (double)t);
    first = 0;
  }
  printf(json ? "]" : (first ? "(backbone)" : ""));
}
