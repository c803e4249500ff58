"""The command line of models/build.py."""

import argparse
import math
import os
import shutil
import sys
import tempfile

from . import widths
from .errors import BuildError

SMOKE = dict(limit=48, epochs=1, saver_epochs=1, exit_epochs=1, aug_views=0,
             lambda_step=0.01, report_limit=48, check_samples=1)


def _size(text):
    parts = text.lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--size {text}: N or HxW") from None
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or not all(8 <= d <= 512 for d in dims):
        raise argparse.ArgumentTypeError(f"--size {text}: sides of 8 .. 512 pixels")
    return tuple(dims)


def _floats(text):
    return [float(v) for v in text.split(",")]


# One add_argument per option, in the groups --help shows: long as the
# options are many, not as its logic is.
def parser():
    p = argparse.ArgumentParser(
        prog="models/build.py",
        description="Any PyTorch classifier + a folder of images -> an adaptive "
        ".dyce package: exits on the frozen backbone, tiny savers, records, the "
        "DyCE/TinySaver search and a report (docs/MODELS.md).")
    p.add_argument("--data", required=True, help="DIR/train/<class>/*, DIR/test/<class>/*, "
                   "optional DIR/val; or an IDX directory (Fashion-MNIST)")
    p.add_argument("--backbone", required=True,
                   help="torchvision:NAME, FILE.py:FUNCTION (FUNCTION(num_classes, in_channels)) "
                   "or FILE.onnx (a trained classifier; its weights are used as they are)")
    p.add_argument("--weights", help="state dict of the backbone (else it is trained first)")
    p.add_argument("--init", help="weights to train the backbone from (transfer learning): "
                   "every tensor whose name and shape fit, a first convolution adapted to "
                   "the input channels; the rest (a classifier for other classes) fresh")
    p.add_argument("--out", help="the package (default: OUT.dyce from the data folder's name); "
                   "OUT.records and OUT.report.{md,json,svg} go beside it")
    p.add_argument("--workdir", help="cache of every step (default: OUT's stem + .work)")
    g = p.add_argument_group("data")
    g.add_argument("--size", type=_size, help="input N or HxW (default: the images' own size)")
    g.add_argument("--channels", type=int, choices=(1, 3), help="default: 1 if every image is gray")
    g.add_argument("--val-fraction", type=float, default=0.1,
                   help="validation split carved from train without DIR/val (default 0.1)")
    g.add_argument("--test-fraction", type=float, default=0.2,
                   help="DIR/<class>/* without split folders: the share held out as the "
                   "test split, chosen by path (default 0.2; dyce eval --test-fraction)")
    g.add_argument("--mean", type=_floats, help="per-channel mean of pixel/255 (default: measured on train)")
    g.add_argument("--std", type=_floats, help="per-channel std (default: measured on train)")
    g.add_argument("--labels", help="file with one class name per line, in label order "
                   "(default: the train class folders, sorted)")
    g.add_argument("--no-flip", action="store_true", help="no horizontal flips in augmentation")
    g = p.add_argument_group("backbone and exits")
    g.add_argument("--keep-stem", action="store_true",
                   help="torchvision: keep the stride of the first convolution on small inputs")
    g.add_argument("--exits", default="auto", help="auto, or NODE,NODE,… (see --list-exits)")
    g.add_argument("--max-exits", type=int, default=8)
    g.add_argument("--exit-types", default="a,b", help="exit MLPs per position: a, b, c "
                   "(0, 1, 2 hidden layers; default a,b)")
    g.add_argument("--list-exits", action="store_true", help="print the candidate positions and stop")
    g.add_argument("--savers", default="auto", help="auto, none, or FILE.py:FUNCTION,… "
                   "(trained here) and FILE.onnx,… (trained models, kept as they are)")
    g.add_argument("--saver-fractions", type=_floats, default=[0.005, 0.02, 0.08],
                   help="built-in savers' target MACs, fractions of the backbone's")
    g.add_argument("--widths", help="REDS width levels, %% of the backbone's MACs, e.g. "
                   "75,50,25: any network whose channels can narrow (docs/REDS.md; "
                   "models/backbones' ds_cnn and CIFAR ResNets by their own pipelines, "
                   "others by their traced unit groups); a network that mixes channels "
                   "otherwise is refused naming the node")
    g.add_argument("--int8", action="store_true",
                   help="also write OUT-int8.dyce: the package quantized to int8 "
                        "(docs/INT8.md), calibrated on train, its configurations "
                        "searched on the int8 graphs' records")
    g.add_argument("--distill", type=float, default=0.0,
                   help="savers: weight of distillation from the backbone's logits (0..1)")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=15, help="backbone epochs (default 15)")
    g.add_argument("--saver-epochs", type=int, help="default: --epochs")
    g.add_argument("--exit-epochs", type=int, default=10)
    g.add_argument("--aug-views", type=int, default=1,
                   help="augmented passes of train for the exits' features (default 1)")
    g.add_argument("--batch-size", type=int, default=128)
    g.add_argument("--lr", type=learning_rate, default=None,
                   help="OneCycle peak learning rate of the backbone and savers, or auto "
                        "(default): the best of 0.2, 0.05, 0.0125, 0.003 by a short trial "
                        "of each before training); with --widths on a traced network also "
                        "the levels' joint fine-tuning rate (default there 0.05)")
    g.add_argument("--weight-decay", type=float, default=5e-4,
                   help="SGD weight decay of weight tensors (norms and biases: none)")
    g.add_argument("--seed", type=int, default=20240301)
    g.add_argument("--threads", type=int, help="PyTorch threads per process")
    g = p.add_argument_group("run")
    g.add_argument("--lambda-step", type=float, default=0.002, help="search λ sweep step")
    g.add_argument("--budgets", type=int, default=0, help="search: fill N MAC budgets (SEARCH.md)")
    g.add_argument("--smoke", action="store_true",
                   help="every step on a few samples, one epoch: seconds, not hours")
    g.add_argument("--limit", type=int, help="samples per split (default: all)")
    g.add_argument("--report-limit", type=int, help="test samples the report evaluates")
    g.add_argument("--check-samples", type=int, default=2,
                   help="test images every graph is compared with PyTorch on")
    g.add_argument("--force", action="store_true", help="recompute every step")
    return p


# Options of the exits-and-savers build that the REDS pipelines (--widths)
# do not take: given with --widths, they are refused rather than ignored.
NOT_WITH_WIDTHS = ("budgets", "exits", "max_exits", "exit_types", "list_exits", "savers",
                   "saver_fractions", "distill", "batch_size", "weight_decay",
                   "no_flip", "report_limit", "check_samples")


def parse(argv):
    p = parser()
    o = p.parse_args(argv)
    # What the user gave (before --smoke's own values): options a pipeline
    # has no use for are refused by name, never ignored.
    def named(k):   # typed on the command line, whatever its value
        flag = "--" + k.replace("_", "-")
        return any(a == flag or a.startswith(flag + "=") for a in argv)
    o.given = {k for k in vars(o) if getattr(o, k) != p.get_default(k) or named(k)}
    unused = [k for k in NOT_WITH_WIDTHS if k in o.given]
    if o.widths and unused:
        p.error("--widths runs a REDS pipeline with its own exits, savers and "
                "training recipe (docs/REDS.md): it does not take "
                + ", ".join("--" + k.replace("_", "-") for k in unused))
    if o.smoke:
        for k, v in SMOKE.items():
            if not named(k):
                setattr(o, k, v)
    for name, least in (("max_exits", 1), ("epochs", 1), ("saver_epochs", 1), ("exit_epochs", 1),
                        ("aug_views", 0), ("batch_size", 1), ("limit", 1), ("report_limit", 1),
                        ("threads", 1), ("check_samples", 0)):
        if getattr(o, name) is not None and getattr(o, name) < least:
            p.error(f"--{name.replace('_', '-')}: at least {least}, not {getattr(o, name)}")
    o.saver_epochs = o.saver_epochs or o.epochs
    o.exit_types = [t.strip() for t in o.exit_types.split(",") if t.strip()]
    if not o.exit_types or any(t not in ("a", "b", "c") for t in o.exit_types):
        p.error("--exit-types: a comma-separated subset of a, b, c")
    if o.widths:
        try:
            o.widths = widths.parse(o.widths)
        except ValueError as err:
            p.error(str(err))
    if "max_exits" in o.given and o.exits != "auto":
        p.error("--max-exits caps the positions --exits auto picks: not with --exits NODE,…")
    if "saver_fractions" in o.given and o.savers != "auto":
        p.error("--saver-fractions sizes the savers --savers auto trains: not with "
                f"--savers {o.savers}")
    if not 0 <= o.distill <= 1:
        p.error("--distill: a weight in 0 .. 1")
    if o.distill and o.savers == "none":
        p.error("--distill weights the savers' training: not with --savers none")
    if not 0 < o.val_fraction < 1:
        p.error("--val-fraction: in (0, 1)")
    if not 0 < o.test_fraction < 1:
        p.error("--test-fraction: in (0, 1)")
    if o.backbone.lower().endswith(".onnx") and (o.weights or o.init or o.widths):
        p.error("--backbone FILE.onnx brings its trained weights and is not trained: "
                "not with --weights, --init or --widths")
    if o.init and (o.weights or o.widths):
        p.error("--init starts the backbone's training: not with --weights (trained "
                "weights) or --widths")
    data = o.data.rstrip("/")
    o.out = o.out or os.path.basename(os.path.abspath(data)) + ".dyce"
    if not o.out.endswith(".dyce"):
        p.error("--out: a .dyce file")
    o.workdir = o.workdir or os.path.splitext(o.out)[0] + ".work"
    check_numbers(p, o)
    if o.labels:
        o.labels = read_labels(p, o.labels)
    return o


def check_numbers(p, o):
    """Values that would fail late (the search, after all the training) or
    build something other than asked: refused at once."""
    if not 0 < o.lambda_step < 1:
        p.error(f"--lambda-step: in (0, 1), not {o.lambda_step:g}")
    if not 0 <= o.budgets <= 4096:
        p.error(f"--budgets: 0 (none) to 4096, not {o.budgets}")
    if not all(0 < f < 1 for f in o.saver_fractions):
        p.error("--saver-fractions: each a share of the backbone's MACs in (0, 1), not "
                + ",".join(f"{f:g}" for f in o.saver_fractions))
    for name, values, least in (("mean", o.mean, ""), ("std", o.std, " above 0")):
        if values and not all(math.isfinite(v) and (v > 0 or not least) for v in values):
            p.error(f"--{name}: finite numbers{least}, one per channel, "
                    f"not {','.join(f'{v:g}' for v in values)}")


def read_labels(p, path):
    """--labels: one class name per line (a byte-order mark, as Windows
    editors write, is not part of the first name); a name twice is refused."""
    try:
        with open(path, encoding="utf-8-sig") as f:
            names = [line.strip() for line in f if line.strip()]
    except (OSError, UnicodeDecodeError) as err:
        p.error(f"--labels {path}: cannot read it ({err})")
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        p.error(f"--labels {path}: '{twice[0]}' is named more than once")
    return names


def learning_rate(text):
    """--lr: a positive number, or 'auto' (None: chosen by dyce_build.lr_probe)."""
    if text == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not value > 0 or math.isinf(value):
        raise argparse.ArgumentTypeError(f"{text!r}: a positive number or auto")
    return value


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    opts = parse(argv)
    from . import pipeline
    # --list-exits alone builds nothing: its scratch (decoded images) goes to
    # a temporary folder, not to <data>.work beside wherever it was run.
    scratch = None
    if opts.list_exits and not any(a.startswith(("--out", "--workdir")) for a in argv):
        scratch = opts.workdir = tempfile.mkdtemp(prefix="dyce-list-exits-")
    try:
        if not opts.list_exits:
            from . import engine
            engine.require()
        pipeline.run(opts)
    except BuildError as err:
        print(f"build: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:   # Ctrl-C: what is done is kept
        print(f"\nbuild: interrupted; the same command resumes from {opts.workdir}",
              file=sys.stderr)
        return 130
    finally:
        if scratch:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0
