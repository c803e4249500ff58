"""The command line shared by models/train_reds.py and
train_reds_resnet.py: --smoke, --out, --work, --until, --force, and where
they point; the fine-tuning options."""

import argparse
import dataclasses
import json
import os
import sys

from dyce_build import engine
from dyce_build.errors import BuildError

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


def check_recipe(work, profile, force):
    """WORK's cached steps were made with one recipe (the profile: epochs,
    rates, distillation weight; not the thread count): a rerun with
    another would load them as if made with it, so it is refused unless
    --force retrains. Records the recipe of a new WORK."""
    recipe = json.loads(json.dumps(  # as JSON holds it: tuples are lists
        {k: v for k, v in dataclasses.asdict(profile).items() if k != "threads"}))
    path = os.path.join(work, "recipe.json")
    if os.path.exists(path) and not force:
        with open(path) as f:
            before = json.load(f)
        changed = sorted(k for k in recipe if k in before and before[k] != recipe[k])
        if changed:
            was = ", ".join(f"{k} {before[k]} -> {recipe[k]}" for k in changed)
            raise BuildError(f"{work} holds steps made with another recipe ({was}): give "
                             "--force to retrain them, or another --work")
    os.makedirs(work, exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"   # torchrun's ranks write it at once
    with open(tmp, "w") as f:
        json.dump(recipe, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


def run(pipeline, args, profile):
    """pipeline.run up to --until with the parsed folders and --force; a
    bad option or a missing engine CLI is one line and status 1 or 2, before
    any training."""
    try:
        if profile.threads is not None and profile.threads < 1:
            print(f"{os.path.basename(sys.argv[0])}: error: --threads: at least 1, not "
                  f"{profile.threads}", file=sys.stderr)
            return 2
        engine.require()
        check_recipe(args.work, profile, args.force)
        ctx = Context(work=args.work, out=args.out, profile=profile,
                      package=pipeline.PACKAGE_NAME, force=args.force)
        pipeline.run(ctx, args.until)
    except BuildError as err:
        print(f"{os.path.basename(sys.argv[0])}: error: {err}", file=sys.stderr)
        return 1
    return 0
