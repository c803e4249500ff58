"""Command line of models/quantize.py, and the --int8 options that
models/convert.py shares with it."""

import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

import dyce_format as fmt

from .common import ConvertError
from .images_in import load_images
from .quantize import quantize_package

# add_options' defaults: an option left at None was not given (check_options).
# Under this many calibration images the ranges are said to be unreliable.
FEW_CALIBRATION_IMAGES = 100

DEFAULTS = {"calibration_count": 500, "calibration_method": "minmax",
            "percentile": 99.99, "keep_float": "", "bias_correction": "on"}
SEARCH_DEFAULTS = {"search_count": 25000, "val_fraction": 0.1,
                   "test_fraction": 0.2, "lambda_step": 0.002}


def _flag(name):
    return "--" + name.replace("_", "-")


def add_options(parser, required):
    parser.add_argument("--calibration", required=required, metavar="DIR",
                        help="calibration images: an IDX directory, DIR/train/"
                             "<class>/* or DIR/<class>/* (training images)")
    parser.add_argument("--calibration-count", type=int, metavar="N",
                        help="calibration images (default 500)")
    parser.add_argument("--calibration-method",
                        choices=("minmax", "percentile", "mse"),
                        help="activation ranges (default minmax)")
    parser.add_argument("--percentile", type=float,
                        metavar="P", help="with --calibration-method "
                        "percentile: the range covers the (100-P)-th to the "
                        "P-th percentile (50 < P <= 100, default 99.99)")
    parser.add_argument("--keep-float", metavar="NODE,...",
                        help="graphs (NAME) or nodes (NAME/INDEX) to keep float")
    parser.add_argument("--bias-correction", choices=("on", "off"),
                        help="shift each int8 conv / fc bias by its mean "
                             "pre-activation error on the calibration images "
                             "(node by node; default on)")


def check_options(parser, args, needs=None):
    """Usage errors for add_options' values, then their defaults. needs:
    the option without which they would be ignored (convert.py: --int8)."""
    given = [k for k in ["calibration"] + list(DEFAULTS)
             if getattr(args, k) is not None]
    if needs and given:
        parser.error(f"{_flag(given[0])} needs {needs}")
    if args.percentile is not None and args.calibration_method != "percentile":
        parser.error("--percentile needs --calibration-method percentile")
    if args.percentile is not None and not 50 < args.percentile <= 100:
        parser.error("--percentile: 50 < P <= 100")
    if args.calibration_count is not None and args.calibration_count < 1:
        parser.error("--calibration-count: at least 1")
    for k, v in DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)


def check_search_options(parser, args):
    """quantize.py's --search options: each needs --search, in range."""
    given = [k for k in ["records", "test_count", "val_count"] + list(SEARCH_DEFAULTS)
             if getattr(args, k) is not None]
    if given and not args.search:
        parser.error(f"{_flag(given[0])} needs --search DATA")
    for k in ("search_count", "test_count", "val_count"):
        if getattr(args, k) is not None and getattr(args, k) < 1:
            parser.error(f"{_flag(k)}: at least 1")
    for k in ("val_fraction", "test_fraction"):
        if getattr(args, k) is not None and not 0 < getattr(args, k) < 1:
            parser.error(f"{_flag(k)}: in (0, 1)")
    if args.lambda_step is not None and not args.lambda_step >= 1e-6:
        parser.error("--lambda-step: at least 1e-6")
    for k, v in SEARCH_DEFAULTS.items():
        if getattr(args, k) is None:
            setattr(args, k, v)


class Staged:
    """Output files written under temporary names in their own folders and
    renamed over the real ones by commit(): a command that fails leaves no
    half-made output and never replaces a file (not even its own input)."""

    def __init__(self):
        self.moves = []

    def path(self, final):
        folder = os.path.dirname(os.path.abspath(final))
        if not os.path.isdir(folder):
            raise ConvertError(f"{final}: folder {folder} does not exist")
        if os.path.isdir(final):
            raise ConvertError(f"-o {final} is a folder; give the package's file name "
                               f"({os.path.join(final, 'model.dyce')}, say)")
        fd, tmp = tempfile.mkstemp(".tmp", f".{os.path.basename(final)}.", folder)
        os.close(fd)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)   # as open() would create it
        self.moves.append((tmp, final))
        return tmp

    def commit(self):
        for tmp, final in self.moves:
            os.replace(tmp, final)
        self.moves = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for tmp, _ in self.moves:
            try:
                os.remove(tmp)
            except OSError:
                pass


def engine_refusal(path):
    """The engine's loader's reason for refusing the package at `path`
    (`dyce info`: it checks every graph's shapes against its ops, CONF,
    LEVL, the cascade's roles ...), or None: accepted, or no engine built
    to ask."""
    from dyce_build.engine import DYCE
    if not os.path.exists(DYCE):
        return None
    r = subprocess.run([DYCE, "info", path], capture_output=True, text=True,
                       errors="replace")
    if r.returncode == 0:
        return None
    lines = r.stderr.strip().splitlines() or [f"dyce info exited with {r.returncode}"]
    return lines[-1].split(f"{path}: ", 1)[-1]


def read_package_file(path):
    """A package's bytes, refused with the reason when dyce_format's
    reader cannot read them."""
    with open(path, "rb") as f:
        data = f.read()
    try:
        fmt.read_package(data)
        fmt.read_levels(data)
    except fmt.FormatError as err:
        raise ConvertError(f"{path} is not a valid .dyce package: {err}") from None
    return data


def quantize_bytes(data, args, out=print):
    """Quantize package bytes with the options of add_options; prints the
    summary with `out`; returns the int8 package bytes."""
    _, spec, _, _ = fmt.read_package(data)
    x, _ = load_images(args.calibration, spec, args.calibration_count)
    out(f"calibration: {len(x)} images from {args.calibration} "
        f"({args.calibration_method}"
        + (f" {args.percentile}" if args.calibration_method == "percentile"
           else "") + f", bias correction {args.bias_correction})")
    if len(x) < FEW_CALIBRATION_IMAGES:
        out(f"warning: calibrating on {len(x)} image{'s' * (len(x) != 1)}: activation ranges "
            f"seen on so few can clip what other images reach (use "
            f"{FEW_CALIBRATION_IMAGES} or more; default {DEFAULTS['calibration_count']})")
    keep = [k for k in args.keep_float.split(",") if k]
    raw, lines = quantize_package(data, x, args.calibration_method,
                                  args.percentile, keep,
                                  bias_correction=args.bias_correction == "on")
    for line in lines:
        out(line)
    return raw


def search_splits(data, args, out=print):
    """args.search's train / val / test splits, read (and so checked: a
    directory, readable, the package's classes) before anything is made."""
    from .records_int8 import load_splits
    from dyce_build.engine import DYCE
    if not os.path.exists(DYCE):
        raise ConvertError(f"{DYCE} is missing: build it first "
                           "(bash scripts/build.sh native)")
    _, spec, labels, _ = fmt.read_package(data)
    splits = load_splits(args.search, spec, labels, args.val_fraction,
                         args.search_count, args.test_count, args.test_fraction,
                         args.val_count)
    out("records: " + ", ".join(f"{s.name} {len(s.labels)}" for s in splits)
        + f" images of {args.search}")
    return splits


def search(raw, splits, args, package, records, out=print):
    """Records of the int8 graphs (`raw`, written at `package`) on the
    splits into `records`, then the engine's `dyce search` writing its
    configurations into the package. `package` and `records` are
    (Staged path, final path) pairs: messages name the final ones."""
    (package, package_name), (records, records_name) = package, records
    from .records_int8 import collect
    from dyce_build import records_file
    from dyce_build.engine import DYCE
    start = time.time()
    rec = collect(raw, splits, log=out)
    records_file.write(records, rec)
    acc = records_file.accuracies(rec)
    out(f"records: {len(rec['names'])} entries -> {records_name} "
        f"({time.time() - start:.1f} s); test top-1 "
        + ", ".join(f"{n} {100 * acc['test'][n]:.2f}" for n in rec["names"]))
    r = subprocess.run([DYCE, "search", package, "--records", records,
                        "--method", "both", "--lambda-step", str(args.lambda_step),
                        "-o", package], capture_output=True, text=True)
    if r.returncode != 0:
        raise ConvertError(f"dyce search failed: {r.stderr.strip()}")
    listed = [line for line in r.stdout.splitlines()
              if line.startswith("pareto-")]
    out(f"search: {len(listed)} configurations (+ each level's backbone) "
        f"written into {package_name} ({time.time() - start:.1f} s with the "
        "records)")
    for line in listed:
        out("  " + line)


def say(line):
    """print, flushed: a caller reading the pipe sees progress as it comes."""
    print(line, flush=True)


def _parser():
    parser = argparse.ArgumentParser(
        description="Quantize a .dyce package to int8 (docs/INT8.md): every "
                    "graph, calibrated on training images.")
    parser.add_argument("package", help="input .dyce (float, version 1)")
    parser.add_argument("-o", "--output", required=True, help="output .dyce")
    add_options(parser, required=True)
    parser.add_argument("--search", metavar="DATA",
                        help="then record the int8 graphs' predictions on "
                             "DATA's train / val / test splits (IDX directory "
                             "or image folder) and write the configurations "
                             "`dyce search` finds on them into the package")
    parser.add_argument("--records", metavar="FILE",
                        help="with --search: where the records go (default "
                             "OUTPUT with .records)")
    parser.add_argument("--search-count", type=int, metavar="N",
                        help="with --search: training images the search "
                             "reads (default 25000)")
    parser.add_argument("--val-fraction", type=float, metavar="F",
                        help="with --search: the validation split carved "
                        "from train when DATA has no val folder, in (0, 1) "
                        "(default 0.1; 1/12 is the Fashion-MNIST pipelines' "
                        "5 000 images)")
    parser.add_argument("--test-fraction", type=float, metavar="F",
                        help="with --search: DATA/<class>/* without split "
                        "folders: the share held out as the test split, by "
                        "path (default 0.2, as models/build.py)")
    parser.add_argument("--test-count", type=int, default=None, metavar="N",
                        help="with --search: the first N test images (all)")
    parser.add_argument("--val-count", type=int, default=None, metavar="N",
                        help="with --search: N of the validation images, the "
                             "seeded choice models/build.py --limit N makes (all)")
    parser.add_argument("--lambda-step", type=float, metavar="X",
                        help="with --search: dyce search --lambda-step "
                             "(default 0.002)")
    parser.add_argument("--dump", action="store_true",
                        help="print a summary of the written package")
    return parser


def run(args, data, staged):
    """quantize.py's work on the package bytes; returns the written bytes."""
    package = staged.path(args.output)
    if args.search:
        records = args.records or os.path.splitext(args.output)[0] + ".records"
        records = (staged.path(records), records)
        splits = search_splits(data, args, say)
    start = time.time()
    raw = quantize_bytes(data, args, say)
    say(f"quantized in {time.time() - start:.1f} s")
    with open(package, "wb") as f:
        f.write(raw)
    if args.search:
        search(raw, splits, args, (package, args.output), records, say)
        with open(package, "rb") as f:
            raw = f.read()
    return raw


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    check_options(parser, args)
    check_search_options(parser, args)
    prog = os.path.basename(sys.argv[0])
    try:  # numpy's overflow warnings: the non-finite results are refused
        with Staged() as staged, np.errstate(all="ignore"):
            data = read_package_file(args.package)
            try:
                raw = run(args, data, staged)
            except (ConvertError, OSError):
                raise
            except Exception:
                # dyce_format reads what it needs, the engine's loader checks
                # the rest (shapes against ops ...): a package it refuses is
                # the cause; for one it accepts, this is a bug: the traceback.
                reason = engine_refusal(args.package)
                if not reason:
                    raise
                raise ConvertError(f"{args.package} is not a valid .dyce "
                                   f"package: {reason}") from None
            staged.commit()
    except (ConvertError, OSError) as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    if args.dump:
        fmt.dump(raw)
    return 0
