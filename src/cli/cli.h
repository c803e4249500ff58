/* Shared pieces of the `dyce` command-line tool. */
#ifndef DYCE_CLI_CLI_H
#define DYCE_CLI_CLI_H

#include <stddef.h>

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

int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);

#endif /* DYCE_CLI_CLI_H */
