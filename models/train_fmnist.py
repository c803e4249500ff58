"""Train dyce's Fashion-MNIST package from scratch: models/build.py with the
shipped recipe (the one core every pipeline uses; docs/MODELS.md).

    /usr/bin/python3 models/train_fmnist.py [--smoke] [--out DIR] [--work DIR]
        [--force] [-- BUILD_OPTIONS…]

is `models/build.py --data /usr/share/datasets/fashion-mnist --backbone
models/backbones/resnet_cifar.py:resnet20` with the three plain-CNN savers of
models/backbones/plain_cnn.py, DyCE exits of types a, b, c after the first
eight of the nine residual blocks, 22 backbone epochs, 24 saver epochs, 10
exit epochs on two augmented feature views, a peak learning rate of 0.2,
a validation split of 1/12
of train, and the search's budget fill at 32 budgets (docs/MODELS.md
"Rebuilt through the core": without it the λ sweep leaves a gap of 1 M
MACs in the list). Writes OUT/fashion-mnist.dyce (+ .records, .report.md/.json/.svg);
OUT defaults to models/ (build/fmnist-smoke with --smoke, which trains on
300 samples per split for one epoch), the step cache to WORK
(build/fmnist, build/fmnist-smoke). Options after `--` go to build.py as
they are (e.g. `-- --threads 2`); the full run prints the command it runs.
"""

import argparse
import os
import sys

MODELS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(MODELS)
sys.path.insert(0, MODELS)
from dyce_build import cli as build_cli  # noqa: E402

DATA = "/usr/share/datasets/fashion-mnist"
VAL_FRACTION = 1 / 12   # 5 000 of the 60 000 training images
WORK = os.path.join(ROOT, "build", "fmnist")   # the full run's step cache
NAME = "fashion-mnist"
BACKBONE = os.path.join(MODELS, "backbones", "resnet_cifar.py") + ":resnet20"
SAVERS = [os.path.join(MODELS, "backbones", "plain_cnn.py") + ":" + f
          for f in ("tiny_s", "tiny_m", "tiny_l")]
# After blocks 1 .. 8 of 9 (the torch.fx names `--list-exits` prints).
EXITS = [f"stages.{s}.{b}.relu" for s in range(3) for b in range(3)][:-1]
BACKBONE_EPOCHS, SAVER_EPOCHS = 22, 24
SEED = 20240301  # models/build.py's default: savers are seeded SEED + 10 + i
NETWORKS = ["--backbone", BACKBONE, "--savers", ",".join(SAVERS), "--exits", ",".join(EXITS),
            "--exit-types", "a,b,c", "--val-fraction", str(VAL_FRACTION)]
TRAINING = ["--epochs", str(BACKBONE_EPOCHS), "--saver-epochs", str(SAVER_EPOCHS),
            "--exit-epochs", "10", "--aug-views", "2", "--lr", "0.2", "--budgets", "32"]
SMOKE = ["--smoke", "--limit", "300"]


def build_argv(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--smoke", action="store_true", help="300 samples, one epoch per training")
    p.add_argument("--out", help="folder of the package (default models/, "
                   "build/fmnist-smoke with --smoke)")
    p.add_argument("--work", help="the step cache (default build/fmnist[-smoke])")
    p.add_argument("--force", action="store_true", help="recompute every step")
    p.add_argument("extra", nargs="*", help="options for models/build.py (after --)")
    args = p.parse_args(argv)
    work = args.work or (WORK + "-smoke" if args.smoke else WORK)
    out = args.out or (work if args.smoke else MODELS)
    if args.smoke and os.path.realpath(out) == os.path.realpath(MODELS):
        p.error("--smoke never writes into models/")
    os.makedirs(out, exist_ok=True)
    return (["--data", DATA, *NETWORKS, "--out", os.path.join(out, NAME + ".dyce"),
             "--workdir", work] + (SMOKE if args.smoke else TRAINING)
            + (["--force"] if args.force else []) + args.extra)


def main(argv=None):
    argv = build_argv(sys.argv[1:] if argv is None else argv)
    print("models/build.py " + " ".join(argv), flush=True)
    return build_cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
