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

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fmnist import cli, pipeline  # noqa: E402


def parse_args(argv):
    return cli.parse(cli.make_parser(__doc__, pipeline.STEPS), argv, "fmnist")


def main(argv=None):
    args = parse_args(argv)
    return cli.run(pipeline, args,
                   pipeline.SMOKE if args.smoke else pipeline.FULL)


if __name__ == "__main__":
    sys.exit(main())
