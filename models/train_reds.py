"""Train the REDS nested-width DS-CNN for Fashion-MNIST; package + records.

    /usr/bin/python3 models/train_reds.py [--smoke] [--out DIR] [--work DIR]
        [--until STEP] [--force] [--finetune-epochs N]

Steps: pretrain, importance, reorder, knapsack, finetune, exits, savers,
records, package, search (docs/REDS.md). Writes OUT/fashion-mnist-reds.dyce and
OUT/fashion-mnist-reds.records (OUT defaults to models/, or the work
directory with --smoke); scratch files go to WORK (build/reds,
build/reds-smoke). Cached results in WORK are loaded unless --force; an
interrupted training resumes from its last epoch checkpoint. --smoke runs
the whole pipeline on a few hundred samples, one epoch per training, in
under a minute (for the test suite).
"""

import argparse
import dataclasses
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from fmnist.pipeline import Context  # noqa: E402
from reds import pipeline  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few hundred samples, one epoch per training")
    parser.add_argument("--out", help="where the package and records go")
    parser.add_argument("--work", help="scratch directory")
    parser.add_argument("--until", choices=pipeline.STEPS,
                        default=pipeline.STEPS[-1],
                        help="stop after this step (default: search)")
    parser.add_argument("--force", action="store_true",
                        help="retrain even when cached results exist")
    parser.add_argument("--finetune-epochs", type=int,
                        help="joint fine-tuning epochs (default: 1 with "
                        "--smoke, else the profile's)")
    args = parser.parse_args(argv)
    name = "reds-smoke" if args.smoke else "reds"
    args.work = args.work or os.path.join(ROOT, "build", name)
    args.out = args.out or (args.work if args.smoke else HERE)
    if args.smoke and os.path.realpath(args.out) == os.path.realpath(HERE):
        parser.error("--smoke never writes into models/")
    return args


def main(argv=None):
    args = parse_args(argv)
    profile = pipeline.SMOKE if args.smoke else pipeline.FULL
    if args.finetune_epochs:
        profile = dataclasses.replace(profile,
                                      finetune_epochs=args.finetune_epochs)
    ctx = Context(work=args.work, out=args.out, profile=profile,
                  force=args.force)
    pipeline.run(ctx, args.until)
    return 0


if __name__ == "__main__":
    sys.exit(main())
