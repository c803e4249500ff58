/* Search tests on synthetic records for builder.c's cascade: 60 % of the
 * samples are easy (every classifier confident, the saver right 98 % of
 * the time), 40 % hard (low confidence). The searches must find the
 * saver's savings, keep a valid Pareto list whose figures reproduce, and
 * TinySaver's ranking must stop where the saver gets worse than the head.
 * The records loader's checks are tested here too. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "builder.h"
#include "dyce.h"
#include "test.h"

#define N 2000
enum { G_SAVER, G_EXIT1A, G_EXIT1B, G_EXIT2A, G_HEAD, G_COUNT };
static const char *const names[G_COUNT] = {"saver0", "exit1_a", "exit1_b", "exit2_a", "head"};
static const uint64_t macs[G_COUNT] = {3, 6, 6, 6, 6};

typedef struct data {
  uint16_t label[N], top1[G_COUNT][N];
  float conf[G_COUNT][N];
  int easy[N];
} data;

/* Classes 0..2, or with `shift` the same draws at shift..shift+2. */
static void make_split(data *d, unsigned seed, uint16_t shift) {
  /* Per classifier: (conf, P(correct)) for easy and for hard samples. */
  static const float easy[G_COUNT][2] = {{0.95f, 0.98f}, {0.8f, 0.9f}, {0.5f, 0.6f}, {0.9f, 0.95f}, {0.9f, 0.95f}};
  static const float hard[G_COUNT][2] = {{0.4f, 0.4f}, {0.5f, 0.5f}, {0.5f, 0.6f}, {0.6f, 0.6f}, {0.9f, 0.7f}};
  test_seed(seed);
  for (int i = 0; i < N; i++) {
    d->label[i] = (uint16_t)(test_rand() % 3);
    d->easy[i] = test_rand() % 10 < 6;
    for (int g = 0; g < G_COUNT; g++) {
      const float *p = d->easy[i] ? easy[g] : hard[g];
      int right = (float)(test_rand() % 1000) < p[1] * 1000.0f;
      d->top1[g][i] = (uint16_t)(shift + (right ? d->label[i] : (d->label[i] + 1) % 3));
      d->conf[g][i] = p[0] + 0.01f * test_randf(); /* small spread */
    }
    d->label[i] = (uint16_t)(d->label[i] + shift);
  }
}

static data train_data, val_data;

/* Records of 3 classes (version 1), or of `classes` > 255 (version 2)
 * with the same draws at class indices classes-3 .. classes-1. */
static uint8_t *make_records_of(size_t *size, uint32_t graphs, uint32_t classes) {
  make_split(&train_data, 1, (uint16_t)(classes - 3));
  make_split(&val_data, 2, (uint16_t)(classes - 3));
  const uint16_t *t1[G_COUNT], *v1[G_COUNT];
  const float *tc[G_COUNT], *vc[G_COUNT];
  for (int g = 0; g < G_COUNT; g++) {
    t1[g] = train_data.top1[g];
    tc[g] = train_data.conf[g];
    v1[g] = val_data.top1[g];
    vc[g] = val_data.conf[g];
  }
  tb_split splits[2] = {{"train", N, train_data.label, t1, tc},
                        {"val", N, val_data.label, v1, vc}};
  return tb_records(names, macs, graphs, splits, 2, classes, size);
}

static uint8_t *make_records(size_t *size, uint32_t graphs) {
  return make_records_of(size, graphs, 3);
}

typedef struct fixture {
  dyce_model *m;
  dyce_records *r;
} fixture;

static fixture open_fixture(void) {
  fixture f = {0};
  size_t size;
  uint8_t *model = tb_cascade_model(&size);
  CHECK(dyce_model_load(model, size, &f.m, NULL) == DYCE_OK);
  free(model);
  uint8_t *rec = make_records(&size, G_COUNT);
  dyce_error err;
  CHECK_MSG(dyce_records_load(rec, size, &f.r, &err) == DYCE_OK, "%s", err.message);
  free(rec);
  return f;
}

static void close_fixture(fixture f) {
  dyce_records_free(f.r);
  dyce_model_free(f.m);
}

static void check_pareto(fixture *f, const dyce_search_point *p, size_t n) {
  CHECK(n >= 2);
  for (size_t i = 0; i < n; i++) {
    double acc, mm;
    CHECK(dyce_search_evaluate(f->m, f->r, "val", &p[i].config, &acc, &mm, NULL) == DYCE_OK);
    CHECK(fabs(acc - p[i].accuracy) < 1e-12 && fabs(mm - p[i].mean_macs) < 1e-9);
    if (i) CHECK(p[i].mean_macs >= p[i - 1].mean_macs && p[i].accuracy > p[i - 1].accuracy);
    /* No classifier that can never answer (threshold >= 1): it would only
     * cost its MACs (a search wrote 'saver2>1.000 exit1_b_w50>1.000'). */
    const dyce_config *c = &p[i].config;
    if (c->saver != DYCE_NO_GRAPH) CHECK(c->saver_threshold < 1.0f);
    for (size_t k = 0; k < DYCE_MAX_POSITIONS; k++)
      if (c->exit[k] != DYCE_NO_GRAPH) CHECK(c->threshold[k] < 1.0f);
  }
}

static const dyce_search_point *run_search(fixture *f, dyce_search_method method,
                                           size_t *n) {
  dyce_search_options o;
  dyce_search_defaults(&o);
  o.method = method;
  o.lambda_step = 0.01;
  dyce_search_point *p = NULL;
  dyce_error err;
  CHECK_MSG(dyce_search(f->m, f->r, &o, &p, n, &err) == DYCE_OK, "%s", err.message);
  return p;
}

/* The backbone on val, and whether the list saves half the MACs without
 * losing accuracy. */
static int finds_saver_savings(fixture *f, const dyce_search_point *p, size_t n) {
  dyce_config bb;
  double acc, mm;
  dyce_config_backbone(f->m, &bb);
  dyce_search_evaluate(f->m, f->r, "val", &bb, &acc, &mm, NULL);
  for (size_t i = 0; i < n; i++)
    if (p[i].mean_macs <= 0.5 * mm && p[i].accuracy >= acc) return 1;
  return 0;
}

static void onepass_and_circular_find_the_saver(void) {
  fixture f = open_fixture();
  dyce_search_method methods[2] = {DYCE_SEARCH_ONEPASS, DYCE_SEARCH_CIRCULAR};
  for (int k = 0; k < 2; k++) {
    size_t n;
    const dyce_search_point *p = run_search(&f, methods[k], &n);
    check_pareto(&f, p, n);
    CHECK(p[0].mean_macs == 3.0); /* the saver alone is the cheapest end */
    CHECK_MSG(finds_saver_savings(&f, p, n), "method %d", k);
    dyce_search_free_points((dyce_search_point *)p);
  }
  close_fixture(f);
}

static void onepass_dominates_samethres(void) {
  fixture f = open_fixture();
  size_t n, ns;
  const dyce_search_point *p = run_search(&f, DYCE_SEARCH_ONEPASS, &n);
  const dyce_search_point *s = run_search(&f, DYCE_SEARCH_SAMETHRES, &ns);
  check_pareto(&f, s, ns);
  for (size_t j = 0; j < ns; j++) {
    int dominated = 0;
    for (size_t i = 0; i < n; i++)
      dominated |= p[i].mean_macs <= s[j].mean_macs && p[i].accuracy >= s[j].accuracy - 0.005;
    CHECK_MSG(dominated, "samethres point %zu (%.4f, %.1f) beats onepass", j,
              s[j].accuracy, s[j].mean_macs);
  }
  dyce_search_free_points((dyce_search_point *)p);
  dyce_search_free_points((dyce_search_point *)s);
  close_fixture(f);
}

/* The budget fill adds candidates to the lambda sweep's, so its Pareto
 * list is at least as good everywhere, and on these records it finds
 * points the sweep cannot (off the convex hull). */
static void budget_fill_adds_points(void) {
  fixture f = open_fixture();
  dyce_search_options o;
  dyce_search_defaults(&o);
  o.method = DYCE_SEARCH_BOTH;
  o.lambda_step = 0.01;
  dyce_search_point *p = NULL, *q = NULL;
  size_t n, nq;
  dyce_error err;
  CHECK_MSG(dyce_search(f.m, f.r, &o, &p, &n, &err) == DYCE_OK, "%s", err.message);
  o.budgets = 32;
  CHECK_MSG(dyce_search(f.m, f.r, &o, &q, &nq, &err) == DYCE_OK, "%s", err.message);
  check_pareto(&f, q, nq);
  size_t filled = 0;
  for (size_t j = 0; j < nq; j++) /* fill points: NaN lambda, not a reference */
    filled += isnan(q[j].lambda) && q[j].config.exit[0] != DYCE_NO_GRAPH;
  CHECK_MSG(filled > 0, "%zu points, none from the fill", nq);
  for (size_t i = 0; i < n; i++) {
    int covered = 0;
    for (size_t j = 0; j < nq; j++)
      covered |= q[j].mean_macs <= p[i].mean_macs && q[j].accuracy >= p[i].accuracy;
    CHECK_MSG(covered, "point %zu (%.4f, %.1f) lost by the fill", i, p[i].accuracy, p[i].mean_macs);
  }
  o.budgets = 4097;
  dyce_search_free_points(q);
  CHECK(dyce_search(f.m, f.r, &o, &q, &nq, &err) == DYCE_INVALID_ARGUMENT);
  CHECK(strstr(err.message, "budgets") != NULL);
  dyce_search_free_points(p);
  close_fixture(f);
}

static void tinysaver_ranking(void) {
  fixture f = open_fixture();
  dyce_saver_score sc[DYCE_MAX_SAVERS];
  size_t n, best;
  CHECK(dyce_search_rank_savers(f.m, f.r, "train", sc, &n, &best, NULL) == DYCE_OK);
  CHECK(n == 1 && best == 0 && sc[0].graph == 0);
  /* The rule, checked on the data: at the chosen threshold the saver is
   * at least as accurate as the head on what it accepts, one step lower
   * it is not; every easy sample is accepted, not every hard one. */
  for (int step = 0; step < 2; step++) {
    float t = step ? sc[0].threshold - 0.001f : sc[0].threshold;
    int saver_ok = 0, head_ok = 0, accepted = 0, easy = 0;
    for (int i = 0; i < N; i++) {
      easy += train_data.easy[i];
      if (!(train_data.conf[G_SAVER][i] > t)) continue;
      accepted++;
      saver_ok += train_data.top1[G_SAVER][i] == train_data.label[i];
      head_ok += train_data.top1[G_HEAD][i] == train_data.label[i];
    }
    CHECK_MSG(step ? saver_ok < head_ok : saver_ok >= head_ok, "step %d", step);
    if (!step) {
      CHECK(fabs(sc[0].e - (double)accepted / N) < 1e-12);
      CHECK(accepted > easy && accepted < N);
    }
  }
  CHECK(fabs(sc[0].r - 3.0 / 102.0) < 1e-12);
  CHECK(fabs(sc[0].delta_c - (sc[0].r - sc[0].e)) < 1e-12);
  close_fixture(f);
}

static void search_errors(void) {
  fixture f = open_fixture();
  dyce_search_options o;
  dyce_search_point *p;
  size_t n;
  dyce_error err;
  dyce_search_defaults(&o);
  o.eval_split = "test";
  CHECK(dyce_search(f.m, f.r, &o, &p, &n, &err) == DYCE_NOT_FOUND);
  CHECK(strstr(err.message, "no split 'test'") != NULL);
  o.eval_split = "val";
  o.lambda_step = 0;
  CHECK(dyce_search(f.m, f.r, &o, &p, &n, &err) == DYCE_INVALID_ARGUMENT);
  /* Records without the head cannot drive the search. */
  size_t size;
  uint8_t *rec = make_records(&size, G_COUNT - 1);
  dyce_records *partial;
  CHECK(dyce_records_load(rec, size, &partial, NULL) == DYCE_OK);
  dyce_search_defaults(&o);
  CHECK(dyce_search(f.m, partial, &o, &p, &n, &err) == DYCE_NOT_FOUND);
  CHECK(strstr(err.message, "'head'") != NULL);
  dyce_records_free(partial);
  free(rec);
  close_fixture(f);
}

static void records_are_validated(void) {
  size_t size;
  uint8_t *rec = make_records(&size, G_COUNT);
  dyce_records *r = NULL;
  dyce_error err;
  for (size_t cut = 0; cut < size; cut += 97) {
    CHECK(dyce_records_load(rec, cut, &r, &err) == DYCE_BAD_FORMAT && r == NULL);
  }
  uint8_t *bad = malloc(size);
  memcpy(bad, rec, size);
  bad[0] = 'X';
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_BAD_FORMAT);
  CHECK(strstr(err.message, "magic") != NULL);
  memcpy(bad, rec, size);
  tb_put_u32(bad + 8, 3);
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_UNSUPPORTED);
  memcpy(bad, rec, size);
  float nan = NAN;
  memcpy(bad + size - 4, &nan, 4); /* the last confidence */
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_BAD_FORMAT);
  CHECK(strstr(err.message, "out of range") != NULL);
  CHECK(dyce_records_load(rec, size, &r, &err) == DYCE_OK);
  CHECK(dyce_records_graph_count(r) == G_COUNT && dyce_records_class_count(r) == 3);
  CHECK(strcmp(dyce_records_graph_name(r, 4), "head") == 0 && dyce_records_graph_macs(r, 0) == 3);
  dyce_records_free(r);
  free(bad);
  free(rec);
}

/* Version 2 records (1 000 classes, every index >= 997): the search sees
 * the same correctness as on the 3-class version 1 records and must find
 * exactly the same Pareto list and saver ranking. */
static void many_classes(void) {
  fixture f = open_fixture();
  size_t n1, n2, size;
  const dyce_search_point *p1 = run_search(&f, DYCE_SEARCH_BOTH, &n1);
  dyce_saver_score s1[DYCE_MAX_SAVERS], s2[DYCE_MAX_SAVERS];
  size_t k1, k2, b1, b2;
  CHECK(dyce_search_rank_savers(f.m, f.r, "train", s1, &k1, &b1, NULL) == DYCE_OK);
  uint8_t *rec = make_records_of(&size, G_COUNT, 1000);
  CHECK(rec[8] == 2); /* version 2 */
  dyce_records *wide = NULL;
  dyce_error err;
  CHECK_MSG(dyce_records_load(rec, size, &wide, &err) == DYCE_OK, "%s", err.message);
  CHECK(dyce_records_class_count(wide) == 1000);
  dyce_split sp;
  const uint16_t *top1;
  const float *conf;
  CHECK(dyce_records_split(wide, 0, &sp, NULL) == DYCE_OK);
  CHECK(dyce_records_predictions(wide, 0, G_HEAD, &top1, &conf, NULL) == DYCE_OK);
  for (size_t i = 0; i < 10; i++)
    CHECK(sp.label[i] == train_data.label[i] && sp.label[i] >= 997 &&
          top1[i] == train_data.top1[G_HEAD][i]);
  dyce_records_free(f.r);
  f.r = wide;
  const dyce_search_point *p2 = run_search(&f, DYCE_SEARCH_BOTH, &n2);
  check_pareto(&f, p2, n2);
  CHECK(n1 == n2);
  for (size_t i = 0; i < n1 && i < n2; i++)
    CHECK(p1[i].accuracy == p2[i].accuracy && p1[i].mean_macs == p2[i].mean_macs);
  CHECK(dyce_search_rank_savers(f.m, f.r, "train", s2, &k2, &b2, NULL) == DYCE_OK);
  CHECK(k1 == k2 && b1 == b2 && s1[0].threshold == s2[0].threshold);
  dyce_search_free_points((dyce_search_point *)p1);
  dyce_search_free_points((dyce_search_point *)p2);
  free(rec);
  close_fixture(f);
}

/* Damaged version 2 records: every truncation, a label or a prediction
 * outside the classes, a class count beyond each version's limit. */
static void many_classes_corrupt(void) {
  size_t size;
  uint8_t *rec = make_records_of(&size, G_COUNT, 1000);
  dyce_records *r = NULL;
  dyce_error err;
  for (size_t cut = 0; cut < size; cut += 61)
    CHECK(dyce_records_load(rec, cut, &r, &err) == DYCE_BAD_FORMAT && r == NULL);
  CHECK(dyce_records_load(rec, size - 1, &r, &err) == DYCE_BAD_FORMAT);
  uint8_t *bad = malloc(size);
  /* Header 24 bytes, names: "saver0" 4+8, "exit1_a" 4+8, "exit1_b" 4+8,
   * "exit2_a" 4+8, "head" 4+4, MACs 5 x 8; split "train": 4+8, n, index. */
  size_t split = 24 + 12 * 4 + 8 + 40, labels = split + 12 + 4 + 4 * N;
  size_t top1 = labels + 2 * N; /* N is even: no padding */
  memcpy(bad, rec, size);
  CHECK(bad[labels] == (uint8_t)train_data.label[0] && bad[labels + 1] == train_data.label[0] >> 8);
  tb_put_u32(bad + 20, 999); /* class_count: 999 < label 999 */
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_BAD_FORMAT);
  CHECK_MSG(strstr(err.message, "of 999 classes") != NULL, "%s", err.message);
  memcpy(bad, rec, size);
  bad[labels + 2 * 7] = 0xe8; /* sample 7: label 1000 (0x03e8) */
  bad[labels + 2 * 7 + 1] = 0x03;
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_BAD_FORMAT);
  CHECK_MSG(strstr(err.message, "sample 7 has label 1000 of 1000 classes") != NULL, "%s",
            err.message);
  memcpy(bad, rec, size);
  bad[top1 + 1] = 0xff; /* graph saver0, sample 0: class >= 65280 */
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_BAD_FORMAT);
  CHECK_MSG(strstr(err.message, "'saver0' sample 0") != NULL, "%s", err.message);
  memcpy(bad, rec, size);
  tb_put_u32(bad + 20, 65536);
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_LIMIT);
  CHECK_MSG(strstr(err.message, "2..65535") != NULL, "%s", err.message);
  memcpy(bad, rec, size);
  tb_put_u32(bad + 8, 1); /* version 1 cannot hold 1 000 classes */
  CHECK(dyce_records_load(bad, size, &r, &err) == DYCE_LIMIT);
  CHECK_MSG(strstr(err.message, "2..255") != NULL, "%s", err.message);
  free(bad);
  free(rec);
}

const test_case search_tests[] = {
    {"search", "many_classes", many_classes},
    {"search", "many_classes_corrupt", many_classes_corrupt},
    {"search", "onepass_and_circular_find_the_saver", onepass_and_circular_find_the_saver},
    {"search", "onepass_dominates_samethres", onepass_dominates_samethres},
    {"search", "budget_fill_adds_points", budget_fill_adds_points},
    {"search", "tinysaver_ranking", tinysaver_ranking},
    {"search", "search_errors", search_errors},
    {"search", "records_are_validated", records_are_validated},
    {0, 0, 0}};
