"""The command line shared by models/train_reds.py and
train_reds_resnet.py: --smoke, --out, --work, --until, --force, and where
they point; the fine-tuning options."""

import argparse
import dataclasses
import os

from .context import Context

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


def add_finetune_options(parser, threads):
    """--finetune-epochs/-lr/-kd and --threads of the REDS pipelines."""
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
                        help=f"PyTorch threads (default {threads}; 1 when "
                        "the machine is shared)")


def override(profile, args, fields):
    """The profile with every given option of `fields` (same names) set."""
    for field in fields:
        value = getattr(args, field)
        if value is not None:
            profile = dataclasses.replace(profile, **{field: value})
    return profile


def run(pipeline, args, profile):
    """pipeline.run up to --until with the parsed folders and --force."""
    ctx = Context(work=args.work, out=args.out, profile=profile,
                  package=pipeline.PACKAGE_NAME, force=args.force)
    pipeline.run(ctx, args.until)
    return 0
