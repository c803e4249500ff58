/* `dyce` — the command-line tool, built natively and for WASI. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __wasi__
#include <unistd.h>
#endif

#include "cli.h"

static int usage(FILE *to) {
  fputs(
      "usage: dyce COMMAND ...\n"
      "  info MODEL.dyce [--json]       graphs, ops, MACs, arena bytes\n"
      "  run MODEL.dyce --input X.npy|IMAGE.png|.jpg [--graph NAME] [--level L]\n"
      "      [--output Y.npy] [--save-input X.npy]\n"
      "                                 run one NCHW float32 input or picture\n"
      "  eval MODEL.dyce --data DIR [--split test|train|val]\n"
      "       [--graph NAME [--level L] | --config NAME|INDEX|backbone|all]\n"
      "       [--records FILE|none] [--limit N] [--dump FILE] [--json] [--threads N]\n"
      "       [--test-fraction F]       accuracy, MACs and latency on IDX files\n"
      "                                 or DIR/<split>/<class>/*.png|jpg; without\n"
      "                                 --graph or --config: the head (else the\n"
      "                                 last graph) alone\n"
      "  search MODEL.dyce --records FILE [--method onepass|circular|both|samethres]\n"
      "       [--search-split S] [--eval-split S] [--lambda-step X] [--budgets N]\n"
      "       [--no-savers] [--level L]\n"
      "       [-o OUT.dyce] [--json]    configuration search (Pareto list)\n"
      "  help                           this text (also --help / -h after any command)\n",
      to);
  return CLI_USAGE;
}

int main(int argc, char **argv) {
#ifdef __wasi__
  /* WASI starts in "/"; the runner passes the caller's directory as PWD
   * (with "/" preopened) so that relative paths mean what they mean
   * natively. */
  const char *pwd = getenv("PWD");
  if (pwd && chdir(pwd) != 0) return cli_error("cannot enter %s", pwd);
#endif
  if (argc < 2) return usage(stderr);
  /* Help asked for anywhere (`dyce eval --help`) is an answer, not an error. */
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ||
        (i == 1 && strcmp(argv[i], "help") == 0)) {
      usage(stdout);
      return CLI_OK;
    }
  if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 2, argv + 2);
  if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(argv[1], "eval") == 0) return cmd_eval(argc - 2, argv + 2);
  if (strcmp(argv[1], "search") == 0) return cmd_search(argc - 2, argv + 2);
  cli_error("unknown command '%s' (dyce --help lists them)", argv[1]);
  return CLI_USAGE;
}
