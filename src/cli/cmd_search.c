/* `dyce search MODEL --records R [options] [-o OUT.dyce] [--json]`:
 * DyCE / TinySaver configuration search over recorded predictions. Prints
 * the saver ranking and the Pareto list (measured on the eval split);
 * with -o writes a copy of the package whose CONF section holds the list
 * plus the backbone of every width level searched. Progress goes to
 * stderr. Every width level of the package is searched (one joint Pareto
 * list) unless --level names one. */
#include <math.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "package_edit.h"

typedef struct search_args {
  const char *model, *records, *output, *level;
  dyce_search_options opt;
  int json;
} search_args;

static int parse_method(const char *s, dyce_search_method *m) {
  static const char *names[] = {"onepass", "circular", "samethres", "both"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *m = (dyce_search_method)i;
      return CLI_OK;
    }
  return cli_error("search: unknown method '%s' (onepass, circular, samethres, both)", s);
}

/* Whether `arg` is an option followed by its value. */
static int takes_value(const char *arg) {
  static const char *const valued[] = {"--records", "-o", "--output", "--method", "--search-split",
                                       "--eval-split", "--lambda-step", "--budgets", "--level"};
  for (size_t k = 0; k < sizeof valued / sizeof *valued; k++)
    if (strcmp(arg, valued[k]) == 0) return 1;
  return 0;
}

static int parse(int argc, char **argv, search_args *a) {
  memset(a, 0, sizeof *a);
  dyce_search_defaults(&a->opt);
  for (int i = 0; i < argc; i++) {
    const char *arg = argv[i];
    int has_value = i + 1 < argc;
    if (strcmp(arg, "--json") == 0) {
      a->json = 1;
    } else if (strcmp(arg, "--no-savers") == 0) {
      a->opt.use_savers = 0;
    } else if (!has_value && takes_value(arg)) {
      return cli_error("search: %s needs a value", arg);
    } else if (strcmp(arg, "--records") == 0) {
      a->records = argv[++i];
    } else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
      a->output = argv[++i];
    } else if (strcmp(arg, "--method") == 0) {
      if (parse_method(argv[++i], &a->opt.method)) return CLI_FAIL;
    } else if (strcmp(arg, "--search-split") == 0) {
      a->opt.search_split = argv[++i];
    } else if (strcmp(arg, "--eval-split") == 0) {
      a->opt.eval_split = argv[++i];
    } else if (strcmp(arg, "--lambda-step") == 0) {
      char *end;
      a->opt.lambda_step = strtod(argv[++i], &end);
      if (end == argv[i] || *end || !(a->opt.lambda_step > 0))
        return cli_error("search: --lambda-step takes a number > 0, not '%s'", argv[i]);
    } else if (strcmp(arg, "--budgets") == 0) {
      char *end;
      long v = strtol(argv[++i], &end, 10);
      if (end == argv[i] || *end || v < 0 || v > 4096)
        return cli_error("search: --budgets takes 0..4096, not '%s'", argv[i]);
      a->opt.budgets = (size_t)v;
    } else if (strcmp(arg, "--level") == 0) {
      a->level = argv[++i];
    } else if (!a->model && arg[0] != '-') {
      a->model = arg;
    } else {
      return cli_error("search: unexpected argument '%s'", arg);
    }
  }
  if (!a->model || !a->records)
    return cli_error("search: usage: dyce search MODEL.dyce --records FILE "
                     "[--method onepass|circular|samethres|both] [--search-split S] "
                     "[--eval-split S] [--lambda-step X] [--budgets N] [--no-savers] [--level L] "
                     "[-o OUT.dyce] [--json]");
  return CLI_OK;
}

static void progress(void *ctx, double fraction) {
  int *last = ctx, now = (int)(fraction * 10.0);
  if (now > *last) {
    *last = now;
    fprintf(stderr, "search: %d%%\n", now * 10);
  }
}


/* TinySaver's ranking of the savers, computed once for the printout and
 * the `tinysaver` configuration; n 0 when there is none. */
typedef struct saver_ranking {
  dyce_saver_score sc[DYCE_MAX_SAVERS];
  size_t n, best;
} saver_ranking;

static void rank_savers(const dyce_model *m, const dyce_records *r,
                        const char *split, saver_ranking *rk) {
  if (dyce_search_rank_savers(m, r, split, rk->sc, &rk->n, &rk->best, NULL) != DYCE_OK) rk->n = 0;
}

static void print_savers(const dyce_model *m, const saver_ranking *rk, int json) {
  const dyce_saver_score *sc = rk->sc;
  size_t n = rk->n, best = rk->best;
  if (n == 0) return;
  if (json) printf("{\"saver_ranking\":[");
  for (size_t i = 0; i < n; i++) {
    if (json)
      printf("%s{\"graph\":\"%s\",\"r\":%.5f,\"e\":%.5f,\"delta_c\":%.5f,\"threshold\":%.3f}",
             i ? "," : "", cli_graph_name(m, sc[i].graph), sc[i].r, sc[i].e, sc[i].delta_c,
             (double)sc[i].threshold);
    else
      printf("saver %s: r %.4f, accepts %.4f at t %.3f, delta_c %.4f%s\n",
             cli_graph_name(m, sc[i].graph), sc[i].r, sc[i].e, (double)sc[i].threshold,
             sc[i].delta_c, sc[i].graph == best ? "  <- best (TinySaver)" : "");
  }
  if (json) printf("],\"best\":\"%s\"}\n", cli_graph_name(m, best));
}

/*
 * TinySaver's own configuration: a saver (dyce_search_rank_savers: the
 * lowest delta_c on `rk`'s split) in front of the head, at the threshold
 * down to which the saver answers as well as the head on the samples it
 * accepts. Two of them (`tinysaver_configs`): `tinysaver` ranks on the
 * search split as the paper does (train), `tinysaver-val` on the eval
 * split. On train the head is the most over-fitted graph (a backbone
 * trained a dozen epochs on 3 000 images is near 100 % there), so the
 * saver looks worse than it is and the threshold comes out high: a new
 * user's VGG-style run, backbone 82.6 % on test, `tinysaver` 82.4 % at
 * 54.8 % of the MACs, the same rule on val 82.6 % at 24.9 %. On a few
 * hundred val images the rule is noisy in turn (another run: -1.7 pp on
 * test), so neither replaces the other; both are measured on val.
 * Kept even where the Pareto list, measured on a validation split of a
 * few hundred images, calls them dominated: a saver that scores a point
 * over the head there by chance (300 images: +-2 pp) made every
 * configuration that still runs the backbone vanish. The governor's table
 * keeps only what is Pareto-optimal, so they change nothing there.
 * Returns 1 with `c` filled, 0 when there is none (no saver accepts a
 * sample; a search of another width level) or `taken` (the Pareto list,
 * then the configurations made before) has it.
 */
static int tinysaver_config(const search_args *a, const dyce_model *m,
                            const dyce_records *r, const saver_ranking *rk,
                            const dyce_config *const *taken, size_t n_taken,
                            const char *name, named_config *c) {
  const dyce_saver_score *sc = rk->sc;
  size_t best = rk->best, i = 0;
  if (a->opt.level != DYCE_NO_LEVEL && a->opt.level != 0) return 0;
  if (!a->opt.use_savers) return 0; /* --no-savers: no configuration runs one */
  if (rk->n == 0 || best == DYCE_NO_GRAPH) return 0;
  while (sc[i].graph != best) i++;
  if (!(sc[i].e > 0)) return 0;
  dyce_config_backbone(m, &c->config);
  if (n_taken) c->config.confidence = taken[0]->confidence;
  c->config.saver = best;
  c->config.saver_threshold = sc[i].threshold;
  for (size_t k = 0; k < n_taken; k++) {
    const dyce_config *p = taken[k];
    int exits = 0;
    for (size_t q = 0; q < DYCE_MAX_POSITIONS; q++) exits += p->exit[q] != DYCE_NO_GRAPH;
    /* A threshold of 0 or below accepts every sample (confidences are > 0):
     * the saver alone, which the list holds at -1. */
    float t = sc[i].threshold, u = p->saver_threshold;
    if (p->saver == best && (u == t || (u <= 0 && t <= 0)) && !exits && p->level == 0)
      return 0;
  }
  snprintf(c->name, sizeof c->name, "%s", name);
  if (dyce_search_evaluate(m, r, a->opt.eval_split, &c->config, &c->accuracy,
                           &c->mean_macs, NULL))
    c->accuracy = c->mean_macs = -1.0;
  return 1;
}

/* Both TinySaver configurations that exist and differ from the Pareto
 * list and from each other, into ts[0..]; their count. `train` is the
 * ranking on the search split, printed with the list. */
static size_t tinysaver_configs(const search_args *a, const dyce_model *m,
                                const dyce_records *r, const saver_ranking *train,
                                const dyce_search_point *pts, size_t n, named_config ts[2]) {
  const dyce_config **taken = malloc((n + 1) * sizeof *taken);
  size_t count = 0;
  if (!taken) return 0;
  for (size_t k = 0; k < n; k++) taken[k] = &pts[k].config;
  count += tinysaver_config(a, m, r, train, taken, n, "tinysaver", &ts[count]);
  if (count) taken[n] = &ts[0].config;
  if (strcmp(a->opt.eval_split, a->opt.search_split) != 0) {
    saver_ranking held_out = {.n = 0};
    rank_savers(m, r, a->opt.eval_split, &held_out);
    count += tinysaver_config(a, m, r, &held_out, taken, n + count, "tinysaver-val", &ts[count]);
  }
  free(taken);
  return count;
}

/* A TinySaver configuration's line, after the Pareto list's ("tinysaver":
 * true in JSON: it is not one of the list's points). */
static void print_tinysaver(const dyce_model *m, const named_config *ts, int json) {
  if (json)
    printf("{\"config\":\"%s\",\"tinysaver\":true,\"accuracy\":%.6f,\"mean_macs\":%.1f,\"lambda\":null,",
           ts->name, ts->accuracy, ts->mean_macs);
  else
    printf("%s: accuracy %.4f, mean MACs %.0f: ", ts->name, ts->accuracy, ts->mean_macs);
  cli_print_config(m, &ts->config, json);
  printf(json ? "}\n" : "\n");
}

static int write_package(const search_args *a, const dyce_model *m,
                         const named_config *tinysaver, size_t n_ts,
                         const dyce_search_point *pts, size_t n) {
  /* After the Pareto list, TinySaver's configurations (above), then the
   * backbone of every width level searched: fixed-cost configurations (no
   * saver, no exit) a page can pin for a constant frame time, as the full
   * backbone always was. Unmeasured (accuracy -1), so the governor's
   * table leaves them out. */
  size_t first = a->opt.level == DYCE_NO_LEVEL ? 0 : a->opt.level;
  size_t last = a->opt.level == DYCE_NO_LEVEL ? dyce_model_level_count(m) - 1
                                              : a->opt.level;
  size_t total = n + n_ts + (last - first + 1);
  named_config *nc = calloc(total, sizeof *nc);
  size_t size, out_size;
  uint8_t *in = read_whole_file(a->model, &size), *out = NULL;
  int rc = CLI_FAIL;
  if (!nc || !in) goto done;
  for (size_t i = 0; i < n; i++) {
    snprintf(nc[i].name, sizeof nc[i].name, "pareto-%02zu", i);
    nc[i].config = pts[i].config;
    nc[i].accuracy = pts[i].accuracy;
    nc[i].mean_macs = pts[i].mean_macs;
  }
  for (size_t k = 0; k < n_ts; k++) nc[n + k] = tinysaver[k];
  for (size_t level = first, i = n + n_ts; level <= last; level++, i++) {
    if (level == 0)
      snprintf(nc[i].name, sizeof nc[i].name, "backbone");
    else
      snprintf(nc[i].name, sizeof nc[i].name, "backbone-%.20s",
               dyce_model_level_name(m, level));
    dyce_config_backbone(m, &nc[i].config);
    nc[i].config.level = level;
    nc[i].accuracy = nc[i].mean_macs = -1.0;
  }
  out = package_with_configs(in, size, m, nc, total, &out_size);
  dyce_model *check = NULL;
  dyce_error err;
  if (!out) {
    cli_error("cannot build the output package");
  } else if (dyce_model_load(out, out_size, &check, &err) != DYCE_OK) {
    cli_error("the written package does not load: %s", err.message);
  } else {
    errno = 0;
    FILE *f = fopen(a->output, "wb");
    int written = f && fwrite(out, 1, out_size, f) == out_size;
    if (f && fclose(f) != 0) written = 0;
    if (!written)
      cli_error("%s: cannot write: %s", a->output, errno ? strerror(errno) : "short write");
    else {
      fprintf(stderr, "search: wrote %zu configurations to %s\n", total, a->output);
      rc = CLI_OK;
    }
  }
  dyce_model_free(check);
done:
  free(nc);
  free(in);
  free(out);
  return rc;
}

int cmd_search(int argc, char **argv) {
  search_args a;
  if (parse(argc, argv, &a)) return CLI_USAGE;
  dyce_model *m = cli_load_model(a.model);
  if (!m) return CLI_FAIL;
  if ((a.output && cli_check_writable(a.output)) ||
      (a.level && cli_pick_level(m, a.level, &a.opt.level))) {
    dyce_model_free(m);
    return CLI_FAIL;
  }
  size_t size;
  uint8_t *bytes = read_whole_file(a.records, &size);
  dyce_records *r = NULL;
  dyce_error err;
  int rc = CLI_OK, last = -1;
  if (!bytes) rc = CLI_FAIL;
  if (!rc && dyce_records_load(bytes, size, &r, &err) != DYCE_OK)
    rc = cli_error("%s: %s", a.records, err.message);
  free(bytes);
  dyce_search_point *pts = NULL;
  size_t n = 0;
  a.opt.progress = progress;
  a.opt.progress_context = &last;
  if (!rc && dyce_search(m, r, &a.opt, &pts, &n, &err) != DYCE_OK)
    rc = cli_error("search: %s", err.message);
  saver_ranking rk = {.n = 0};
  if (!rc) rank_savers(m, r, a.opt.search_split, &rk);
  if (!rc) {
    print_savers(m, &rk, a.json);
    for (size_t i = 0; i < n; i++) {
      if (a.json) {
        printf("{\"config\":\"pareto-%02zu\",\"accuracy\":%.6f,\"mean_macs\":%.1f,\"lambda\":", i,
               pts[i].accuracy, pts[i].mean_macs);
        printf(isnan(pts[i].lambda) ? "null" : "%.3f", pts[i].lambda);
        printf(",");
        cli_print_config(m, &pts[i].config, 1);
        printf("}\n");
      } else {
        printf("pareto-%02zu: %s accuracy %.4f, mean MACs %.0f: ", i, a.opt.eval_split,
               pts[i].accuracy, pts[i].mean_macs);
        cli_print_config(m, &pts[i].config, 0);
        printf("\n");
      }
    }
  }
  named_config ts[2];
  size_t n_ts = rc ? 0 : tinysaver_configs(&a, m, r, &rk, pts, n, ts);
  for (size_t k = 0; k < n_ts; k++) print_tinysaver(m, &ts[k], a.json);
  if (!rc && a.output) rc = write_package(&a, m, ts, n_ts, pts, n);
  dyce_search_free_points(pts);
  dyce_records_free(r);
  dyce_model_free(m);
  return rc;
}
