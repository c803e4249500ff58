"""The command line shared by models/train_fmnist.py and train_reds.py:
--smoke, --out, --work, --until, --force, and where they point."""

import argparse
import os

MODELS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(MODELS)


def make_parser(doc, steps):
    """A parser with the pipelines' common options (the description is the
    first paragraph of the script's docstring)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="a few hundred samples, one epoch per training")
    parser.add_argument("--out", help="where the package and records go")
    parser.add_argument("--work", help="scratch directory")
    parser.add_argument("--until", choices=steps, default=steps[-1],
                        help=f"stop after this step (default: {steps[-1]})")
    parser.add_argument("--force", action="store_true",
                        help="retrain even when cached results exist")
    return parser


def parse(parser, argv, name):
    """Parsed arguments with WORK (build/NAME or build/NAME-smoke) and OUT
    (models/, or WORK with --smoke) filled in."""
    args = parser.parse_args(argv)
    args.work = args.work or os.path.join(
        ROOT, "build", f"{name}-smoke" if args.smoke else name)
    args.out = args.out or (args.work if args.smoke else MODELS)
    if args.smoke and os.path.realpath(args.out) == os.path.realpath(MODELS):
        parser.error("--smoke never writes into models/")
    return args
