"""Train dyce's Fashion-MNIST models from scratch and write package + records.

    /usr/bin/python3 models/train_fmnist.py [--smoke] [--out DIR] [--work DIR]
        [--until backbone|savers|exits|records|package|search] [--force]

Writes OUT/fashion-mnist.dyce and OUT/fashion-mnist.records (OUT defaults to
models/, or build/fmnist-smoke with --smoke); scratch files (checkpoints,
features, ONNX, logs) go to WORK (build/fmnist, build/fmnist-smoke). Steps
whose results exist in WORK are loaded, not retrained, unless --force;
an interrupted training resumes from its last epoch checkpoint.
The last step writes the configuration search's Pareto list into the
package with build/native/dyce (build it first: bash scripts/build.sh native).
--smoke trains on a few hundred samples for one epoch: the whole pipeline end
to end in well under a minute (for CI). See docs/MODELS.md.
"""

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from fmnist import pipeline  # noqa: E402


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few hundred samples, one epoch per model")
    parser.add_argument("--out", help="where the package and records go")
    parser.add_argument("--work", help="scratch directory")
    parser.add_argument("--until", choices=pipeline.STEPS,
                        default=pipeline.STEPS[-1],
                        help="stop after this step (default: search)")
    parser.add_argument("--force", action="store_true",
                        help="retrain even when cached results exist")
    args = parser.parse_args(argv)
    name = "fmnist-smoke" if args.smoke else "fmnist"
    args.work = args.work or os.path.join(ROOT, "build", name)
    args.out = args.out or (args.work if args.smoke else HERE)
    if args.smoke and os.path.realpath(args.out) == os.path.realpath(HERE):
        parser.error("--smoke never writes into models/")
    return args


def main(argv=None):
    args = parse_args(argv)
    profile = pipeline.SMOKE if args.smoke else pipeline.FULL
    ctx = pipeline.Context(work=args.work, out=args.out, profile=profile,
                           force=args.force)
    pipeline.run(ctx, args.until)
    return 0


if __name__ == "__main__":
    sys.exit(main())
