/* `dyce info MODEL [--json]`: what a package holds and what it costs. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Path MACs of the head (or the last graph) at a width level. */
static unsigned long long level_macs(const dyce_model *m, size_t level) {
  size_t g;
  cli_pick_graph(m, NULL, &g);
  return dyce_model_level_path_macs(m, g, level);
}

/* The package's configurations (CONF): name, what the search measured on
 * val (-1 where nothing was: the fixed-cost backbones) and the classifiers. */
static void print_configs(const dyce_model *m, int json) {
  dyce_cascade_info ci;
  if (dyce_model_cascade(m, &ci, NULL) != DYCE_OK) ci.config_count = 0;
  if (!json) printf("configurations: %zu\n", ci.config_count);
  for (size_t i = 0; i < ci.config_count; i++) {
    dyce_config c;
    dyce_config_meta meta;
    if (dyce_model_config(m, i, &c, &meta, NULL) != DYCE_OK) continue;
    if (json) {
      printf("%s{\"name\":", i ? "," : "");
      cli_json_string(meta.name);
      printf(",\"val_accuracy\":%.6g,\"mean_macs\":%.1f,", (double)meta.accuracy, meta.mean_macs);
      cli_print_config(m, &c, 1);
      printf("}");
    } else {
      if (meta.accuracy >= 0)
        printf("  %s: val accuracy %.4f, mean MACs %.0f: ", meta.name, (double)meta.accuracy, meta.mean_macs);
      else
        printf("  %s (not measured): ", meta.name);
      cli_print_config(m, &c, 0);
      printf("\n");
    }
  }
}

/* " [a, b, c]" (text) of the input spec's per-channel values. */
static void print_floats(const float *v, uint32_t n) {
  printf(" [");
  for (uint32_t c = 0; c < n; c++) printf("%s%g", c ? ", " : "", (double)v[c]);
  printf("]");
}

static void print_text(const dyce_model *m, size_t arena) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  printf("input: 1x%ux%ux%u NHWC, pixel_scale %g, mean", in.height, in.width,
         in.channels, (double)in.pixel_scale);
  print_floats(in.mean, in.channels);
  printf(", std");
  print_floats(in.std, in.channels);
  printf("\n");
  size_t labels = dyce_model_label_count(m), shown = labels < 20 ? labels : 20;
  printf("labels: %zu%s", labels, labels ? ":" : "");
  for (size_t i = 0; i < shown; i++) printf("%s %s", i ? "," : "", dyce_model_label(m, i));
  printf(shown < labels ? ", … (--json lists all)\n" : "\n");
  printf("weights: %zu bytes\narena: %zu bytes\n", dyce_model_weight_bytes(m),
         arena);
  for (size_t l = 0; dyce_model_level_count(m) > 1 && l < dyce_model_level_count(m); l++)
    printf("width level %zu %s: %llu MACs to the head\n", l,
           dyce_model_level_name(m, l), level_macs(m, l));
  print_configs(m, 0);
  for (size_t g = 0; g < dyce_model_graph_count(m); g++) {
    dyce_graph_info gi;
    dyce_model_graph_info(m, g, &gi, NULL);
    dyce_graph_info src;
    const char *from = "input";
    if (gi.source != DYCE_NO_GRAPH &&
        dyce_model_graph_info(m, gi.source, &src, NULL) == DYCE_OK)
      from = src.name;
    printf("graph %s <- %s: %zu nodes (%zu int8), %llu MACs (path %llu), "
           "out 1x%ux%ux%u%s\n",
           gi.name, from, gi.node_count, gi.int8_nodes,
           (unsigned long long)gi.macs,
           (unsigned long long)dyce_model_path_macs(m, g), gi.output_dims[1],
           gi.output_dims[2], gi.output_dims[3], gi.output_int8 ? " int8" : "");
    for (size_t j = 0; j < gi.node_count; j++) {
      dyce_node_info ni;
      dyce_model_node_info(m, g, j, &ni, NULL);
      printf("  %3zu %-16s act=%-12s out=%ux%ux%u %-7s macs=%llu\n", j,
             ni.op, ni.activation, ni.output_dims[1], ni.output_dims[2],
             ni.output_dims[3], ni.dtype, (unsigned long long)ni.macs);
    }
  }
}

static void print_json(const dyce_model *m, size_t arena) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  printf("{\"input\":[1,%u,%u,%u],\"pixel_scale\":%.9g,\"mean\":[", in.height, in.width,
         in.channels, (double)in.pixel_scale);
  for (uint32_t c = 0; c < in.channels; c++) printf("%s%.9g", c ? "," : "", (double)in.mean[c]);
  printf("],\"std\":[");
  for (uint32_t c = 0; c < in.channels; c++) printf("%s%.9g", c ? "," : "", (double)in.std[c]);
  printf("],\"labels\":[");
  for (size_t i = 0; i < dyce_model_label_count(m); i++) {
    if (i) putchar(',');
    cli_json_string(dyce_model_label(m, i));
  }
  printf("],\"weight_bytes\":%zu,\"arena_bytes\":%zu,\"levels\":[",
         dyce_model_weight_bytes(m), arena);
  for (size_t l = 0; l < dyce_model_level_count(m); l++) {
    printf("%s{\"name\":", l ? "," : "");
    cli_json_string(dyce_model_level_name(m, l));
    printf(",\"head_path_macs\":%llu,\"graph_macs\":[", level_macs(m, l));
    for (size_t g = 0; g < dyce_model_graph_count(m); g++)
      printf("%s%llu", g ? "," : "",
             (unsigned long long)dyce_model_graph_macs(m, g, l));
    printf("]}");
  }
  printf("],\"graphs\":[");
  for (size_t g = 0; g < dyce_model_graph_count(m); g++) {
    dyce_graph_info gi;
    dyce_model_graph_info(m, g, &gi, NULL);
    printf("%s{\"name\":", g ? "," : "");
    cli_json_string(gi.name);
    printf(",\"source\":%lld,\"nodes\":%zu,\"int8_nodes\":%zu,"
           "\"macs\":%llu,\"path_macs\":%llu,"
           "\"output\":[1,%u,%u,%u],\"ops\":[",
           gi.source == DYCE_NO_GRAPH ? -1LL : (long long)gi.source,
           gi.node_count, gi.int8_nodes, (unsigned long long)gi.macs,
           (unsigned long long)dyce_model_path_macs(m, g), gi.output_dims[1],
           gi.output_dims[2], gi.output_dims[3]);
    for (size_t j = 0; j < gi.node_count; j++) {
      dyce_node_info ni;
      dyce_model_node_info(m, g, j, &ni, NULL);
      printf("%s{\"op\":\"%s\",\"act\":\"%s\",\"dtype\":\"%s\","
             "\"macs\":%llu}", j ? "," : "", ni.op, ni.activation, ni.dtype,
             (unsigned long long)ni.macs);
    }
    printf("]}");
  }
  printf("],\"configs\":[");
  print_configs(m, 1);
  printf("]}\n");
}

int cmd_info(int argc, char **argv) {
  const char *path = NULL;
  int json = 0;
  for (int i = 0; i < argc; i++) {
    if (strcmp(argv[i], "--json") == 0)
      json = 1;
    else if (!path)
      path = argv[i];
    else
      return cli_error("info: unexpected argument '%s'", argv[i]), CLI_USAGE;
  }
  if (!path) return cli_error("info: missing MODEL.dyce"), CLI_USAGE;
  dyce_model *m = cli_load_model(path);
  if (!m) return CLI_FAIL;
  dyce_session *s = NULL;
  dyce_error err;
  if (dyce_session_create(m, &s, &err) != DYCE_OK) {
    dyce_model_free(m);
    return cli_error("%s: %s", path, err.message);
  }
  if (json)
    print_json(m, dyce_session_arena_bytes(s));
  else
    print_text(m, dyce_session_arena_bytes(s));
  dyce_session_free(s);
  dyce_model_free(m);
  return CLI_OK;
}
