"""Train the REDS nested-width DS-CNN for Fashion-MNIST; package + records.

    /usr/bin/python3 models/train_reds.py [--smoke] [--out DIR] [--work DIR]
        [--until STEP] [--force] [--finetune-epochs N] [--finetune-lr LR]
        [--finetune-kd W] [--threads N]

Steps: pretrain, importance, reorder, knapsack, finetune, exits, savers,
records, package, search (docs/REDS.md). Writes OUT/fashion-mnist-reds.dyce and
OUT/fashion-mnist-reds.records (OUT defaults to models/, or the work
directory with --smoke); scratch files go to WORK (build/reds,
build/reds-smoke). Cached results in WORK are loaded unless --force; an
interrupted training resumes from its last epoch checkpoint. --smoke runs
the whole pipeline on a few hundred samples, one epoch per training, in
under a minute (for the test suite).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reds import cli  # noqa: E402
from reds import pipeline  # noqa: E402


def parse_args(argv):
    parser = cli.make_parser(__doc__, pipeline.STEPS)
    cli.add_finetune_options(parser, pipeline.THREADS)
    return cli.parse(parser, argv, "reds")


def main(argv=None):
    args = parse_args(argv)
    profile = cli.override(pipeline.SMOKE if args.smoke else pipeline.FULL,
                           args, ("finetune_epochs", "finetune_lr",
                                  "finetune_kd", "threads"))
    return cli.run(pipeline, args, profile)


if __name__ == "__main__":
    sys.exit(main())
