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

import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fmnist import cli  # noqa: E402
from fmnist.pipeline import Context  # noqa: E402
from reds import pipeline  # noqa: E402


def parse_args(argv):
    parser = cli.make_parser(__doc__, pipeline.STEPS)
    parser.add_argument("--finetune-epochs", type=int,
                        help="joint fine-tuning epochs (default: 1 with "
                        "--smoke, else the profile's)")
    parser.add_argument("--finetune-lr", type=float,
                        help="joint fine-tuning OneCycle max lr (default: "
                        "the profile's)")
    parser.add_argument("--finetune-kd", type=float,
                        help="in-place distillation weight of the narrow "
                        "levels, 0 = plain REDS loss, 1 = soft targets of "
                        "the full level only (default: the profile's)")
    parser.add_argument("--threads", type=int,
                        help=f"PyTorch threads (default {pipeline.THREADS})")
    return cli.parse(parser, argv, "reds")


def main(argv=None):
    args = parse_args(argv)
    profile = pipeline.SMOKE if args.smoke else pipeline.FULL
    for arg, field in (("finetune_epochs", "finetune_epochs"),
                       ("finetune_lr", "finetune_lr"),
                       ("finetune_kd", "finetune_kd"),
                       ("threads", "threads")):
        value = getattr(args, arg)
        if value is not None:
            profile = dataclasses.replace(profile, **{field: value})
    ctx = Context(work=args.work, out=args.out, profile=profile,
                  force=args.force)
    pipeline.run(ctx, args.until)
    return 0


if __name__ == "__main__":
    sys.exit(main())
