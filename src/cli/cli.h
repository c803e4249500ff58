/* Shared pieces of the `dyce` command-line tool. */
#ifndef DYCE_CLI_CLI_H
#define DYCE_CLI_CLI_H

#include <stddef.h>
#include <stdint.h>

#include "../dyce.h"

/* Exit statuses: 0 success, 1 failure with a reason on stderr, 2 usage. */
enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

/* Prints "dyce: error: ..." as one line on stderr; returns CLI_FAIL. */
int cli_error(const char *fmt, ...);

/* Reads the whole file and loads it as a model; prints why on failure. */
dyce_model *cli_load_model(const char *path);

/* Monotonic time in milliseconds. */
double cli_now_ms(void);

/* Prints `s` as a JSON string literal (with quotes). */
void cli_json_string(const char *s);

/* The graph named `name`, or by default "head" when the package has one,
 * else the last graph. Prints why on failure. */
int cli_pick_graph(const dyce_model *m, const char *name, size_t *graph);

/* A whole number written in decimal digits only (no sign, no space) that
 * fits in 32 bits; 0 when it is one. (strtoul alone takes "-5" and, where
 * long is 32 bits as on wasm32, wraps what is too large.) */
int cli_parse_u32(const char *text, uint32_t *value);

/* Fails with the OS's reason (one line) when `path` cannot be written,
 * leaving no file behind: checked before a long run that ends by writing. */
int cli_check_writable(const char *path);

/* "a, b, c" of name(m, 0 .. count-1), cut to about a line with how many
 * there are in all: the names an unknown one could have meant. */
void cli_list_names(char *buf, size_t size, size_t count,
                    const char *(*name)(const dyce_model *, size_t), const dyce_model *m);

/* 1 when `graph` is a backbone stage (its output a feature map, not
 * class scores). */
int cli_graph_is_stage(const dyce_model *m, size_t graph);
/* The width level `graph` runs at for `--level level_name` (NULL: none
 * given): an exit of one level runs at that level, the full width's exit
 * is refused at a level with its own. Prints why (naming `command`) on
 * failure. */
int cli_pick_graph_level(const dyce_model *m, size_t graph, const char *level_name,
                         const char *command, size_t *level);
/* A width level by name or index. Prints why on failure. */
int cli_pick_level(const dyce_model *m, const char *name, size_t *level);

/* Top-1 class of a logit (or probability) vector, its softmax probability
 * and the gap between the two largest values. */
typedef struct cli_top1 {
  size_t index;
  double score, gap;
} cli_top1;
cli_top1 cli_top1_of(const float *y, size_t n, int is_prob);

int cmd_info(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_run(int argc, char **argv);

/* A graph's name ("?" when out of range). */
const char *cli_graph_name(const dyce_model *m, size_t g);
/* Prints a configuration as `saver1>0.95 exit2_b>0.87 ...` (text, with
 * `[level] ` first where the package has width levels) or the JSON
 * members "level" (with levels) and "classifiers": [{graph, threshold}]. */
void cli_print_config(const dyce_model *m, const dyce_config *c, int json);

#endif /* DYCE_CLI_CLI_H */
