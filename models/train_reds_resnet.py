"""Apply REDS to the Fashion-MNIST ResNet-20; write a width-level package.

    /usr/bin/python3 models/train_reds_resnet.py [--smoke] [--out DIR]
        [--work DIR] [--until STEP] [--force] [--backbone PT]
        [--finetune-epochs N] [--finetune-lr LR] [--finetune-kd W]
        [--threads N] [--no-milp] [--eval-limit N]

Steps: backbone, importance, reorder, knapsack, finetune, records,
package, verify (models/reds_resnet/). The backbone is
models/backbones/resnet_cifar.py:resnet20 as the Fashion-MNIST build
(models/train_fmnist.py) trained it: --backbone PT, else that build's
build/fmnist/backbone.pt, else trained here with its recipe. Writes
OUT/fashion-mnist-reds-resnet.dyce (stage1..9 + head, four width levels
w100, w75, w50, w25) and OUT/fashion-mnist-reds-resnet.records (the head
at every level); OUT defaults to models/, or the work directory with
--smoke. Scratch files go to WORK (build/reds-resnet,
build/reds-resnet-smoke). Cached results in WORK are loaded unless
--force; the fine-tuning resumes from its last epoch checkpoint. --smoke
runs the whole pipeline on a few hundred samples with one fine-tuning
epoch (and the engine check on 200 test images).
"""

import dataclasses
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reds import cli  # noqa: E402
from reds_resnet import pipeline  # noqa: E402


def parse_args(argv):
    parser = cli.make_parser(__doc__, pipeline.STEPS)
    parser.add_argument("--backbone",
                        help="state dict of models/backbones/resnet_cifar.py:"
                        "resnet20 (default build/fmnist/backbone.pt, the "
                        "Fashion-MNIST build's, else trained here)")
    cli.add_finetune_options(parser, pipeline.THREADS)
    parser.add_argument("--no-milp", action="store_true",
                        help="skip the scipy.optimize.milp cross-check of "
                        "the knapsack")
    parser.add_argument("--eval-limit", type=int,
                        help="engine check on the first N test images "
                        "(default: 200 with --smoke, else all)")
    return cli.parse(parser, argv, "reds-resnet")


def main(argv=None):
    args = parse_args(argv)
    profile = cli.override(pipeline.SMOKE if args.smoke else pipeline.FULL,
                           args, ("backbone", "finetune_epochs",
                                  "finetune_lr", "finetune_kd", "threads",
                                  "eval_limit"))
    if args.no_milp:
        profile = dataclasses.replace(profile, check_milp=False)
    return cli.run(pipeline, args, profile)


if __name__ == "__main__":
    sys.exit(main())
