/* `dyce` — the command-line tool, built natively and for WASI. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

static int usage(void) {
  fputs(
      "usage: dyce COMMAND ...\n"
      "  info MODEL.dyce [--json]       graphs, ops, MACs, arena bytes\n"
      "  run MODEL.dyce --input X.npy [--graph NAME] [--output Y.npy]\n"
      "                                 run one NCHW float32 input\n",
      stderr);
  return CLI_USAGE;
}

int main(int argc, char **argv) {
  if (argc < 2) return usage();
  if (strcmp(argv[1], "info") == 0) return cmd_info(argc - 2, argv + 2);
  if (strcmp(argv[1], "run") == 0) return cmd_run(argc - 2, argv + 2);
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
    usage();
    return CLI_OK;
  }
  cli_error("unknown command '%s'", argv[1]);
  return usage();
}
