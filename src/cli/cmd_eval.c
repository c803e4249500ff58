/* `dyce eval MODEL --data DIR [--split S] [--graph NAME] [--records F]
 * [--limit N] [--json]`: runs the path ending at one graph on a whole data
 * split and reports accuracy and latency. With a records file (by default
 * MODEL.records beside the package) it also reports how often the engine's
 * top-1 agrees with PyTorch's, listing disagreements with the engine's
 * top-2 logit gap. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"

typedef struct eval_args {
  const char *model, *data, *split, *graph, *records;
  size_t limit;
  int json;
} eval_args;

typedef struct eval_result {
  size_t n, correct, compared, agree;
  double mean_ms, p95_ms;
  size_t shown;
  struct { size_t sample; size_t ours, theirs; double gap; } diff[20];
} eval_result;

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
    if (slot || strcmp(argv[i], "--limit") == 0) {
      if (i + 1 >= argc) return cli_error("eval: %s needs a value", argv[i]);
      if (slot) {
        *slot = argv[++i];
      } else {
        char *end;
        a->limit = strtoul(argv[++i], &end, 10);
        if (*end || !a->limit) return cli_error("eval: --limit needs a positive number");
      }
    } else if (!a->model && argv[i][0] != '-') {
      a->model = argv[i];
    } else {
      return cli_error("eval: unexpected argument '%s'", argv[i]);
    }
  }
  if (!a->model || !a->data)
    return cli_error("eval: usage: dyce eval MODEL.dyce --data DIR [--split "
                     "test|train|val] [--graph NAME] [--records FILE] "
                     "[--limit N] [--json]");
  if (strcmp(a->split, "test") && strcmp(a->split, "train") && strcmp(a->split, "val"))
    return cli_error("eval: unknown split '%s' (test, train or val)", a->split);
  return CLI_OK;
}

/* The records file: --records, else MODEL.records when it exists. */
static dyce_records *load_records(const eval_args *a) {
  char path[4096];
  const char *p = a->records;
  if (!p) {
    size_t len = strlen(a->model);
    if (len > 5 && strcmp(a->model + len - 5, ".dyce") == 0) len -= 5;
    snprintf(path, sizeof path, "%.*s.records", (int)len, a->model);
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fclose(f);
    p = path;
  }
  size_t size;
  uint8_t *bytes = read_whole_file(p, &size);
  if (!bytes) return NULL;
  dyce_records *r = NULL;
  dyce_error err;
  if (dyce_records_load(bytes, size, &r, &err) != DYCE_OK)
    cli_error("%s: %s", p, err.message);
  free(bytes);
  return r;
}

static int by_double(const void *x, const void *y) {
  double a = *(const double *)x, b = *(const double *)y;
  return (a > b) - (a < b);
}

static int evaluate(dyce_model *m, size_t g, const dataset *d,
                    const uint32_t *order, size_t n, const uint8_t *theirs,
                    eval_result *res) {
  dyce_input_spec in;
  dyce_model_input_spec(m, &in);
  if (in.channels != 1 || in.height != d->height || in.width != d->width)
    return cli_error("the data is %zux%zux1 but the model takes %ux%ux%u",
                     d->height, d->width, in.height, in.width, in.channels);
  dyce_session *s = NULL;
  dyce_error err;
  if (dyce_session_create(m, &s, &err) != DYCE_OK) return cli_error("%s", err.message);
  size_t pixels = d->height * d->width;
  float *x = malloc(sizeof(float) * pixels);
  double *ms = malloc(sizeof(double) * n);
  dyce_node_info last;
  dyce_graph_info gi;
  dyce_model_graph_info(m, g, &gi, NULL);
  dyce_model_node_info(m, g, gi.node_count - 1, &last, NULL);
  int is_prob = strcmp(last.op, "softmax") == 0, rc = CLI_OK;
  memset(res, 0, sizeof *res);
  for (size_t i = 0; x && ms && i < n && rc == CLI_OK; i++) {
    const uint8_t *img = d->images + (size_t)order[i] * pixels;
    for (size_t p = 0; p < pixels; p++)
      x[p] = ((float)img[p] * in.pixel_scale - in.mean[0]) / in.std[0];
    const float *y;
    size_t k;
    double t0 = cli_now_ms();
    if (dyce_session_set_input(s, x, pixels, DYCE_LAYOUT_NHWC, &err) ||
        dyce_session_run(s, g, &err) || dyce_session_output(s, g, &y, &k, &err)) {
      rc = cli_error("sample %u: %s", order[i], err.message);
      break;
    }
    ms[i] = cli_now_ms() - t0;
    cli_top1 t = cli_top1_of(y, k, is_prob);
    res->correct += t.index == d->labels[order[i]];
    if (theirs) {
      res->compared++;
      if (t.index == theirs[i]) {
        res->agree++;
      } else if (res->shown < sizeof res->diff / sizeof res->diff[0]) {
        res->diff[res->shown].sample = order[i];
        res->diff[res->shown].ours = t.index;
        res->diff[res->shown].theirs = theirs[i];
        res->diff[res->shown].gap = t.gap;
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

static void report(const eval_args *a, const dyce_model *m, size_t g,
                   const eval_result *r) {
  dyce_graph_info gi;
  dyce_model_graph_info(m, g, &gi, NULL);
  double acc = (double)r->correct / (double)r->n;
  unsigned long long macs = (unsigned long long)dyce_model_path_macs(m, g);
  if (!a->json) {
    printf("graph %s, split %s: accuracy %.4f (%zu/%zu), %llu MACs, mean %.3f ms, p95 %.3f ms\n",
           gi.name, a->split, acc, r->correct, r->n, macs, r->mean_ms, r->p95_ms);
    if (r->compared)
      printf("agreement with the records: %zu/%zu\n", r->agree, r->compared);
    for (size_t i = 0; i < r->shown; i++)
      printf("  sample %zu: engine %zu, records %zu, engine top-2 logit gap %.3g\n",
             r->diff[i].sample, r->diff[i].ours, r->diff[i].theirs, r->diff[i].gap);
    return;
  }
  printf("{\"graph\":");
  cli_json_string(gi.name);
  printf(",\"split\":\"%s\",\"n\":%zu,\"accuracy\":%.6f,\"macs\":%llu,"
         "\"mean_ms\":%.4f,\"p95_ms\":%.4f",
         a->split, r->n, acc, macs, r->mean_ms, r->p95_ms);
  if (r->compared) {
    printf(",\"compared\":%zu,\"agreement\":%.6f,\"disagreements\":[", r->compared,
           (double)r->agree / (double)r->compared);
    for (size_t i = 0; i < r->shown; i++)
      printf("%s{\"sample\":%zu,\"engine\":%zu,\"records\":%zu,\"gap\":%.6g}", i ? "," : "",
             r->diff[i].sample, r->diff[i].ours, r->diff[i].theirs, r->diff[i].gap);
    printf("]");
  }
  printf("}\n");
}

int cmd_eval(int argc, char **argv) {
  eval_args a;
  if (parse(argc, argv, &a)) return CLI_USAGE;
  dyce_model *m = cli_load_model(a.model);
  if (!m) return CLI_FAIL;
  dyce_records *rec = load_records(&a);
  dataset d = {0};
  size_t g, split = 0, rg = 0, n = 0;
  uint32_t *order = NULL;
  const uint8_t *theirs = NULL;
  dyce_split sp = {0};
  int rc = cli_pick_graph(m, a.graph, &g);
  if (rc || (rc = dataset_load(a.data, strcmp(a.split, "test") ? "train" : "test", &d)))
    goto done;
  int have_split = rec && dyce_records_find_split(rec, a.split, &split, NULL) == DYCE_OK;
  if (!have_split && strcmp(a.split, "test") != 0) {
    rc = cli_error("split '%s' is defined by the records file; none has it "
                   "(pass --records FILE)", a.split);
    goto done;
  }
  n = have_split ? (dyce_records_split(rec, split, &sp, NULL), sp.count) : d.count;
  if (a.limit && a.limit < n) n = a.limit;
  if (n == 0) {
    rc = cli_error("%s: the %s split has no samples", a.data, a.split);
    goto done;
  }
  order = malloc(sizeof(uint32_t) * (n ? n : 1));
  if (!order) {
    rc = cli_error("out of memory");
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    order[i] = have_split ? sp.index[i] : (uint32_t)i;
    if (order[i] >= d.count || (have_split && sp.label[i] != d.labels[order[i]])) {
      rc = cli_error("records sample %zu (index %u) does not match the data", i, order[i]);
      goto done;
    }
  }
  dyce_graph_info gi;
  dyce_model_graph_info(m, g, &gi, NULL);
  const float *conf;
  if (have_split && dyce_records_find_graph(rec, gi.name, &rg, NULL) == DYCE_OK)
    dyce_records_predictions(rec, split, rg, &theirs, &conf, NULL);
  eval_result res = {0};
  rc = evaluate(m, g, &d, order, n, theirs, &res);
  if (rc == CLI_OK) report(&a, m, g, &res);
done:
  free(order);
  dataset_free(&d);
  dyce_records_free(rec);
  dyce_model_free(m);
  return rc;
}
