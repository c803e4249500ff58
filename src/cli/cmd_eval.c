/* `dyce eval MODEL --data DIR [--split S] [--graph NAME | --config C]
 * [--records F|none] [--limit N] [--dump FILE] [--json] [--threads N]`: runs the path ending
 * at one graph, or the cascade under configuration C (a name, an index,
 * "backbone" or "all"), on a whole data split and reports accuracy, MACs
 * and latency (and, for the cascade, which exit answered how often). With
 * a records file (by default MODEL.records beside the package) a graph
 * run also reports how often the engine's top-1 agrees with PyTorch's,
 * listing disagreements with the engine's top-2 logit gap. --dump writes
 * one line per sample: index, prediction, answering graph, confidence.
 * DIR is an IDX directory or an image folder DIR/<split>/<class>/<files>
 * (dataset.h), whose images are preprocessed as image_input.h says.
 * --threads: large convolutions split across N threads (same results). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"

typedef struct eval_args {
  const char *model, *data, *split, *graph, *records, *config, *dump, *level;
  const char *test_fraction; /* of a folder without split folders */
  size_t limit;
  unsigned long threads;
  int json;
} eval_args;

typedef struct eval_result {
  size_t n, correct, compared, agree;
  double mean_ms, p95_ms, mean_macs;
  size_t shown;
  struct { size_t sample; size_t ours, theirs; double gap; } diff[20];
  size_t *answered_by; /* per graph: samples it answered (cascade) */
} eval_result;

/* What to run per sample: one graph's path, or the cascade. */
typedef struct eval_target {
  int cascade;
  size_t graph;
  const char *name;
  dyce_config config;
  uint32_t threads; /* 0 or 1: the caller's thread only */
} eval_target;

static int parse(int argc, char **argv, eval_args *a) {
  memset(a, 0, sizeof *a);
  a->split = "test";
  for (int i = 0; i < argc; i++) {
    const char **slot = NULL;
    if (strcmp(argv[i], "--json") == 0) { a->json = 1; continue; }
    if (strcmp(argv[i], "--data") == 0) slot = &a->data;
    else if (strcmp(argv[i], "--split") == 0) slot = &a->split;
    else if (strcmp(argv[i], "--graph") == 0) slot = &a->graph;
    else if (strcmp(argv[i], "--records") == 0) slot = &a->records;
    else if (strcmp(argv[i], "--config") == 0) slot = &a->config;
    else if (strcmp(argv[i], "--dump") == 0) slot = &a->dump;
    else if (strcmp(argv[i], "--level") == 0) slot = &a->level;
    else if (strcmp(argv[i], "--test-fraction") == 0) slot = &a->test_fraction;
    int count = strcmp(argv[i], "--limit") == 0 || strcmp(argv[i], "--threads") == 0;
    if (slot || count) {
      if (i + 1 >= argc) return cli_error("eval: %s needs a value", argv[i]);
      if (slot) {
        *slot = argv[++i];
      } else {
        const char *name = argv[i];
        uint32_t v;
        if (cli_parse_u32(argv[++i], &v) || !v)
          return cli_error("eval: %s needs a whole number from 1 to %u, not '%s'", name,
                           UINT32_MAX, argv[i]);
        if (strcmp(name, "--limit") == 0) a->limit = v;
        else a->threads = v;
      }
    } else if (!a->model && argv[i][0] != '-') {
      a->model = argv[i];
    } else {
      return cli_error("eval: unexpected argument '%s'", argv[i]);
    }
  }
  if (!a->model || !a->data)
    return cli_error("eval: usage: dyce eval MODEL.dyce --data DIR (IDX files or "
                     "DIR/<split>/<class>/*.png|jpg) [--split "
                     "test|train|val] [--graph NAME [--level L] | --config "
                     "NAME|INDEX|backbone|all] "
                     "[--records FILE|none] [--limit N] [--dump FILE] [--json] "
                     "[--threads N] [--test-fraction F]");
  if (a->graph && a->config) return cli_error("eval: give --graph or --config, not both");
  if (a->level && a->config)
    return cli_error("eval: a configuration names its own width level; --level goes with --graph");
  if (a->test_fraction) {
    char *end;
    double f = strtod(a->test_fraction, &end);
    if (*end || !(f > 0 && f < 1))
      return cli_error("eval: --test-fraction needs a number between 0 and 1, not '%s'",
                       a->test_fraction);
  }
  if (strcmp(a->split, "test") && strcmp(a->split, "train") && strcmp(a->split, "val"))
    return cli_error("eval: unknown split '%s' (test, train or val)", a->split);
  return CLI_OK;
}

/* The records file into *out (NULL for none): --records (none: no
 * records), else MODEL.records when it exists. */
static int load_records(const eval_args *a, dyce_records **out) {
  char path[4096];
  const char *p = a->records;
  *out = NULL;
  if (p && strcmp(p, "none") == 0) return CLI_OK;
  if (!p) {
    size_t len = strlen(a->model);
    if (len > 5 && strcmp(a->model + len - 5, ".dyce") == 0) len -= 5;
    snprintf(path, sizeof path, "%.*s.records", (int)len, a->model);
    FILE *f = fopen(path, "rb");
    if (!f) return CLI_OK;
    fclose(f);
    p = path;
  }
  /* Records that cannot be read fail the command: going on without them
   * would skip the check a script asked for and still exit 0. */
  size_t size;
  uint8_t *bytes = read_whole_file(p, &size);
  if (!bytes) return CLI_FAIL;
  dyce_error err;
  int rc = CLI_OK;
  if (dyce_records_load(bytes, size, out, &err) != DYCE_OK)
    rc = a->records ? cli_error("%s: %s", p, err.message)
                    : cli_error("%s (found beside the package): %s; --records none evaluates "
                                "without it", p, err.message);
  free(bytes);
  return rc;
}

/* 1 when every sample of records split `split` is in `d` with its label. */
static int records_match(const dyce_records *rec, size_t split, const dataset *d) {
  dyce_split sp;
  dyce_records_split(rec, split, &sp, NULL);
  for (size_t i = 0; i < sp.count; i++)
    if (sp.index[i] >= d->count || sp.label[i] != d->labels[sp.index[i]]) return 0;
  return 1;
}

static int by_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

/* Runs one sample; returns the prediction, fills MACs, answering graph
 * and confidence. */
static int infer(dyce_session *s, const dyce_model *m, const eval_target *t,
                 int is_prob, cli_top1 *top, uint64_t *macs, size_t *graph,
                 float *conf, dyce_error *err) {
  if (t->cascade) {
    dyce_result r;
    if (dyce_session_classify(s, NULL, &r, err)) return 1;
    top->index = r.index;
    top->score = r.score;
    top->gap = 0.0;
    *macs = r.macs;
    *graph = r.graph;
    *conf = r.confidence;
    return 0;
  }
  const float *y;
  size_t k;
  if (dyce_session_run(s, t->graph, err) || dyce_session_output(s, t->graph, &y, &k, err))
    return 1;
  *top = cli_top1_of(y, k, is_prob);
  *macs = dyce_model_level_path_macs(m, t->graph, t->config.level);
  *graph = t->graph;
  *conf = (float)top->score;
  return 0;
}

static int evaluate(dyce_model *m, const eval_target *t, const dataset *d,
                    const uint32_t *order, size_t n, const uint16_t *theirs,
                    FILE *dump, eval_result *res) {
  size_t g = t->graph;
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  dyce_session *s = NULL;
  dyce_error err;
  if (dyce_session_create(m, &s, &err) != DYCE_OK) return cli_error("%s", err.message);
  if ((t->threads > 1 && dyce_session_set_threads(s, t->threads, &err) != DYCE_OK) ||
      ((t->cascade || t->config.level) &&
       dyce_session_set_config(s, &t->config, &err) != DYCE_OK)) {
    dyce_session_free(s);
    return cli_error("%s", err.message);
  }
  size_t pixels = (size_t)in.height * in.width * in.channels;
  float *x = malloc(sizeof(float) * pixels);
  double *ms = malloc(sizeof(double) * n);
  dyce_node_info last;
  dyce_graph_info gi;
  dyce_model_graph_info(m, g, &gi, NULL);
  dyce_model_node_info(m, g, gi.node_count - 1, &last, NULL); /* graph runs only */
  int is_prob = strcmp(last.op, "softmax") == 0, rc = CLI_OK;
  size_t *answered_by = res->answered_by;
  memset(res, 0, sizeof *res);
  res->answered_by = answered_by;
  for (size_t i = 0; x && ms && i < n && rc == CLI_OK; i++) {
    if ((rc = dataset_input(d, order[i], &in, x))) break;
    cli_top1 top;
    uint64_t macs;
    size_t by;
    float conf;
    double t0 = cli_now_ms();
    if (dyce_session_set_input(s, x, pixels, DYCE_LAYOUT_NCHW, &err) ||
        infer(s, m, t, is_prob, &top, &macs, &by, &conf, &err)) {
      rc = cli_error("sample %u: %s", order[i], err.message);
      break;
    }
    ms[i] = cli_now_ms() - t0;
    res->correct += top.index == d->labels[order[i]];
    res->mean_macs += (double)macs / (double)n;
    if (res->answered_by) res->answered_by[by]++;
    if (dump) fprintf(dump, "%u %zu %zu %.9g\n", order[i], top.index, by, (double)conf);
    if (theirs) {
      res->compared++;
      if (top.index == theirs[i]) {
        res->agree++;
      } else if (res->shown < sizeof res->diff / sizeof res->diff[0]) {
        res->diff[res->shown].sample = order[i];
        res->diff[res->shown].ours = top.index;
        res->diff[res->shown].theirs = theirs[i];
        res->diff[res->shown].gap = top.gap;
        res->shown++;
      }
    }
    res->mean_ms += ms[i] / (double)n;
  }
  if (!x || !ms) rc = cli_error("out of memory");
  if (rc == CLI_OK) {
    res->n = n;
    qsort(ms, n, sizeof *ms, by_double);
    res->p95_ms = ms[(size_t)((double)(n - 1) * 0.95)];
  }
  free(x);
  free(ms);
  dyce_session_free(s);
  return rc;
}

static void report(const eval_args *a, const dyce_model *m,
                   const eval_target *t, const eval_result *r) {
  double acc = (double)r->correct / (double)r->n;
  dyce_cascade_info ci;
  double backbone = dyce_model_cascade(m, &ci, NULL) == DYCE_OK
                        ? (double)dyce_model_path_macs(m, ci.head) : r->mean_macs;
  if (!a->json) {
    printf("%s %s (width level %s), split %s: accuracy %.4f (%zu/%zu), mean MACs %.0f "
           "(%.1f%% of the backbone), mean %.3f ms, p95 %.3f ms\n",
           t->cascade ? "config" : "graph", t->name,
           dyce_model_level_name(m, t->config.level), a->split, acc, r->correct, r->n,
           r->mean_macs, 100.0 * r->mean_macs / backbone, r->mean_ms, r->p95_ms);
  } else {
    printf("{\"%s\":", t->cascade ? "config" : "graph");
    cli_json_string(t->name);
    printf(",\"level\":");
    cli_json_string(dyce_model_level_name(m, t->config.level));
    printf(",\"split\":\"%s\",\"n\":%zu,\"accuracy\":%.6f,\"mean_macs\":%.1f,"
           "\"backbone_macs\":%.0f,\"mean_ms\":%.4f,\"p95_ms\":%.4f",
           a->split, r->n, acc, r->mean_macs, backbone, r->mean_ms, r->p95_ms);
  }
  if (t->cascade) {
    printf(a->json ? ",\"exits\":{" : "  answered by:");
    int first = 1;
    for (size_t g = 0; g < dyce_model_graph_count(m); g++) {
      if (!r->answered_by[g]) continue;
      dyce_graph_info gi;
      dyce_model_graph_info(m, g, &gi, NULL);
      if (a->json)
        printf("%s\"%s\":%zu", first ? "" : ",", gi.name, r->answered_by[g]);
      else
        printf(" %s %zu", gi.name, r->answered_by[g]);
      first = 0;
    }
    printf(a->json ? "}" : "\n");
  }
  if (r->compared) {
    if (a->json) {
      printf(",\"compared\":%zu,\"agreement\":%.6f,\"disagreements\":[", r->compared,
             (double)r->agree / (double)r->compared);
      for (size_t i = 0; i < r->shown; i++)
        printf("%s{\"sample\":%zu,\"engine\":%zu,\"records\":%zu,\"gap\":%.6g}", i ? "," : "",
               r->diff[i].sample, r->diff[i].ours, r->diff[i].theirs, r->diff[i].gap);
      printf("]");
    } else {
      printf("agreement with the records: %zu/%zu\n", r->agree, r->compared);
      for (size_t i = 0; i < r->shown; i++)
        printf("  sample %zu: engine %zu, records %zu, engine top-2 logit gap %.3g\n",
               r->diff[i].sample, r->diff[i].ours, r->diff[i].theirs, r->diff[i].gap);
    }
  }
  if (a->json) printf("}\n");
}

/* The targets named by --graph / --config: one, or every shipped
 * configuration for "all". Returns the count, 0 after an error. */
static const char *config_name(const dyce_model *m, size_t i) {
  dyce_config c;
  dyce_config_meta meta;
  return dyce_model_config(m, i, &c, &meta, NULL) == DYCE_OK ? meta.name : "?";
}

/* The package's configuration names, for a message (a static buffer). */
static const char *config_names(const dyce_model *m) {
  static char names[256];
  dyce_cascade_info ci;
  if (dyce_model_cascade(m, &ci, NULL) != DYCE_OK) return "?";
  cli_list_names(names, sizeof names, ci.config_count, config_name, m);
  return names;
}

static size_t pick_targets(const eval_args *a, const dyce_model *m, eval_target *out,
                           size_t cap) {
  memset(out, 0, sizeof *out);
  if (!a->config) {
    if (cli_pick_graph(m, a->graph, &out->graph)) return 0;
    dyce_graph_info gi;
    dyce_model_graph_info(m, out->graph, &gi, NULL);
    out->name = gi.name;
    dyce_config_backbone(m, &out->config);
    if (cli_graph_is_stage(m, out->graph))
      return cli_error("eval: '%s' is a backbone stage (its output is a feature map, not "
                       "class scores); evaluate the head, a saver or an exit", gi.name), 0;
    /* An exit of one width level runs there, and its records are that run's. */
    return cli_pick_graph_level(m, out->graph, a->level, "eval", &out->config.level) ? 0 : 1;
  }
  dyce_cascade_info ci;
  dyce_error err;
  if (dyce_model_cascade(m, &ci, &err) != DYCE_OK) return cli_error("%s", err.message), 0;
  size_t first = 0, count = 1, index;
  if (strcmp(a->config, "backbone") == 0 && dyce_model_find_config(m, "backbone", &index, NULL)) {
    out->cascade = 1;
    out->name = "backbone";
    dyce_config_backbone(m, &out->config);
    return 1;
  }
  if (strcmp(a->config, "all") == 0) {
    count = ci.config_count;
    if (!count) return cli_error("the package ships no configurations: evaluate a graph with "
                       "--graph NAME [--level L], or make some with dyce search"), 0;
  } else if (dyce_model_find_config(m, a->config, &first, NULL) != DYCE_OK) {
    uint32_t at;
    first = cli_parse_u32(a->config, &at) == CLI_OK ? at : SIZE_MAX;
    if (first >= ci.config_count)
      return cli_error("no configuration '%s'; the package's %zu: %s", a->config,
                       ci.config_count, config_names(m)), 0;
  }
  for (size_t i = 0; i < count && i < cap; i++) {
    dyce_config_meta meta;
    out[i].cascade = 1;
    dyce_model_config(m, first + i, &out[i].config, &meta, NULL);
    out[i].name = meta.name;
  }
  return count < cap ? count : cap;
}

/* The samples to evaluate, in records order when the records have the
 * split (`*have_split`, `*split`), else the data's own order; at most
 * --limit. Checks that the records describe the data. */
static int sample_order(const eval_args *a, const dyce_records *rec,
                        const dataset *d, int folder, int *have_split,
                        size_t *split, uint32_t **order, size_t *n) {
  dyce_split sp = {0};
  *have_split = rec && dyce_records_find_split(rec, a->split, split, NULL) == DYCE_OK;
  if (*have_split && !a->records && !records_match(rec, *split, d)) {
    /* MODEL.records found beside the package describes other data (the
     * folder or IDX files are not what it was recorded on): evaluate them. */
    fprintf(stderr, "dyce: note: the records beside %s do not describe %s; not used\n",
            a->model, a->data);
    *have_split = 0;
  }
  /* Without records, a split is all of its own data: test, or an image
   * folder's own DIR/train or DIR/val; IDX val and a val carved from an
   * image folder's train exist only in the records. */
  if (!*have_split && strcmp(a->split, "test") != 0 && !(folder && strcmp(a->split, d->part) == 0))
    return cli_error("split '%s' is defined by the records file; none has it "
                     "(pass --records FILE)", a->split);
  *n = *have_split ? (dyce_records_split(rec, *split, &sp, NULL), sp.count) : d->count;
  if (*have_split && !a->records && strcmp(a->split, "test") == 0 && *n < d->count &&
      (!a->limit || a->limit > *n))
    /* A --limit / --smoke build recorded a few: say why fewer are read. */
    fprintf(stderr, "dyce: note: the records beside %s describe %zu of the %zu test "
            "samples; evaluating those (--records none: all of them, uncompared)\n",
            a->model, *n, d->count);
  if (a->limit && a->limit < *n) *n = a->limit;
  if (*n == 0) return cli_error("%s: the %s split has no samples", a->data, a->split);
  *order = malloc(sizeof(uint32_t) * *n);
  if (!*order) return cli_error("out of memory");
  for (size_t i = 0; i < *n; i++) {
    (*order)[i] = *have_split ? sp.index[i] : (uint32_t)i;
    if ((*order)[i] >= d->count)
      return cli_error("records sample %zu is data sample %u, but %s's %s split has %zu: "
                       "records of another data folder? (--records none: evaluate "
                       "without them)", i, (*order)[i], a->data, a->split, d->count);
    if (*have_split && sp.label[i] != d->labels[(*order)[i]])
      return cli_error("records sample %zu (data sample %u) has label %u, the data %u: "
                       "records of another data folder or package (their labels in "
                       "another order)? (--records none: evaluate without them)", i,
                       (*order)[i], (unsigned)sp.label[i], (unsigned)d->labels[(*order)[i]]);
  }
  return CLI_OK;
}

int cmd_eval(int argc, char **argv) {
  eval_args a;
  if (parse(argc, argv, &a)) return CLI_USAGE;
  dyce_model *m = cli_load_model(a.model);
  if (!m) return CLI_FAIL;
  dyce_records *rec = NULL;
  if (load_records(&a, &rec)) {
    dyce_model_free(m);
    return CLI_FAIL;
  }
  dataset d = {0};
  size_t split = 0, rg = 0, n = 0, targets = 0;
  uint32_t *order = NULL;
  eval_target *target = calloc(4096, sizeof *target);
  size_t *answered_by = calloc(dyce_model_graph_count(m), sizeof(size_t));
  FILE *dump = NULL;
  int rc = (!target || !answered_by) ? cli_error("out of memory") : CLI_OK;
  if (!rc && !(targets = pick_targets(&a, m, target, 4096))) rc = CLI_FAIL;
  for (size_t k = 0; k < targets; k++) target[k].threads = (uint32_t)a.threads;
  if (!rc && !dataset_is_folder(a.data))
    rc = cli_error("--data %s: not a folder (an IDX directory, or an image folder "
                   "DIR/<split>/<class>/<image files>)", a.data);
  int folder = !rc && dataset_is_image_folder(a.data);
  double test_fraction = a.test_fraction ? strtod(a.test_fraction, NULL) : 0.2;
  if (rc || (rc = folder ? dataset_load_images(a.data, a.split, m, test_fraction, &d)
                         : dataset_load(a.data, strcmp(a.split, "test") ? "train" : "test", m, &d)))
    goto done;
  int have_split = 0;
  if ((rc = sample_order(&a, rec, &d, folder, &have_split, &split, &order, &n)))
    goto done;
  if (a.dump && !(dump = fopen(a.dump, "w"))) {
    rc = cli_error("%s: cannot write", a.dump);
    goto done;
  }
  for (size_t k = 0; k < targets && rc == CLI_OK; k++) {
    const uint16_t *theirs = NULL;
    const float *conf;
    char rname[300];
    snprintf(rname, sizeof rname, "%s@%s", target[k].name,
             dyce_model_level_name(m, target[k].config.level));
    /* A narrowed graph's records are "<name>@<level>"; an exit of a level
     * is recorded under its own name (as the search reads them). */
    int narrowed = dyce_model_graph_narrowed(m, target[k].graph, target[k].config.level) &&
                   dyce_model_graph_level(m, target[k].graph) == DYCE_NO_LEVEL;
    if (!target[k].cascade && have_split &&
        dyce_records_find_graph(rec, narrowed ? rname : target[k].name, &rg, NULL) == DYCE_OK)
      dyce_records_predictions(rec, split, rg, &theirs, &conf, NULL);
    eval_result res = {0};
    memset(answered_by, 0, dyce_model_graph_count(m) * sizeof(size_t));
    res.answered_by = answered_by;
    rc = evaluate(m, &target[k], &d, order, n, theirs, dump, &res);
    if (rc == CLI_OK) report(&a, m, &target[k], &res);
    fflush(stdout);
  }
done:
  if (dump && fclose(dump) != 0 && rc == CLI_OK) rc = cli_error("%s: write failed", a.dump);
  free(order);
  free(target);
  free(answered_by);
  dataset_free(&d);
  dyce_records_free(rec);
  dyce_model_free(m);
  return rc;
}
