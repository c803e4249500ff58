"""Command line of models/quantize.py, and the --int8 options that
models/convert.py shares with it."""

import argparse
import os
import subprocess
import sys
import time

import dyce_format as fmt

from .common import ConvertError
from .images_in import load_images
from .quantize import quantize_package


def add_options(parser, required):
    parser.add_argument("--calibration", required=required, metavar="DIR",
                        help="calibration images: an IDX directory, DIR/train/"
                             "<class>/* or DIR/<class>/* (training images)")
    parser.add_argument("--calibration-count", type=int, default=500,
                        metavar="N", help="calibration images (default 500)")
    parser.add_argument("--calibration-method", default="minmax",
                        choices=("minmax", "percentile", "mse"),
                        help="activation ranges (default minmax)")
    parser.add_argument("--percentile", type=float, default=99.99,
                        metavar="P", help="with --calibration-method "
                        "percentile: the range covers the (100-P)-th to the "
                        "P-th percentile (default 99.99)")
    parser.add_argument("--keep-float", default="", metavar="NODE,...",
                        help="graphs (NAME) or nodes (NAME/INDEX) to keep float")
    parser.add_argument("--bias-correction", default="on",
                        choices=("on", "off"),
                        help="shift each int8 conv / fc bias by its mean "
                             "pre-activation error on the calibration images "
                             "(node by node; default on)")


def quantize_bytes(data, args, out=print):
    """Quantize package bytes with the options of add_options; prints the
    summary with `out`; returns the int8 package bytes."""
    _, spec, _, _ = fmt.read_package(data)
    x, _ = load_images(args.calibration, spec, args.calibration_count)
    out(f"calibration: {len(x)} images from {args.calibration} "
        f"({args.calibration_method}"
        + (f" {args.percentile}" if args.calibration_method == "percentile"
           else "") + f", bias correction {args.bias_correction})")
    keep = [k for k in args.keep_float.split(",") if k]
    raw, lines = quantize_package(data, x, args.calibration_method,
                                  args.percentile, keep,
                                  bias_correction=args.bias_correction == "on")
    for line in lines:
        out(line)
    return raw


def search(raw, args, out=print):
    """Records of the int8 graphs on args.search's splits, then the
    engine's `dyce search` writing its configurations into args.output."""
    from .records_int8 import collect, load_splits
    from dyce_build import records_file
    from dyce_build.engine import DYCE
    start = time.time()
    _, spec, labels, _ = fmt.read_package(raw)
    splits = load_splits(args.search, spec, labels, args.val_fraction,
                         args.search_count, args.test_count, args.test_fraction)
    out("records: " + ", ".join(f"{s.name} {len(s.labels)}" for s in splits)
        + f" images of {args.search}")
    rec = collect(raw, splits)
    path = args.records or os.path.splitext(args.output)[0] + ".records"
    records_file.write(path, rec)
    acc = records_file.accuracies(rec)
    out(f"records: {len(rec['names'])} entries -> {path} "
        f"({time.time() - start:.1f} s); test top-1 "
        + ", ".join(f"{n} {100 * acc['test'][n]:.2f}" for n in rec["names"]))
    if not os.path.exists(DYCE):
        raise ConvertError(f"{DYCE} is missing: build it first "
                           "(bash scripts/build.sh native)")
    r = subprocess.run([DYCE, "search", args.output, "--records", path,
                        "--method", "both", "--lambda-step", args.lambda_step,
                        "-o", args.output], capture_output=True, text=True)
    if r.returncode != 0:
        raise ConvertError(f"dyce search failed: {r.stderr.strip()}")
    listed = [line for line in r.stdout.splitlines()
              if line.startswith("pareto-")]
    out(f"search: {len(listed)} configurations (+ each level's backbone) "
        f"written into {args.output} ({time.time() - start:.1f} s with the "
        "records)")
    for line in listed:
        out("  " + line)


def main(argv=None):
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
    parser.add_argument("--search-count", type=int, default=25000,
                        metavar="N", help="with --search: training images "
                        "the search reads (default 25000)")
    parser.add_argument("--val-fraction", type=float, default=0.1,
                        metavar="F", help="with --search: the validation "
                        "split carved from train when DATA has no val folder "
                        "(default 0.1; 1/12 is the Fashion-MNIST pipelines' "
                        "5 000 images)")
    parser.add_argument("--test-fraction", type=float, default=0.2, metavar="F",
                        help="with --search: DATA/<class>/* without split "
                        "folders: the share held out as the test split, by "
                        "path (default 0.2, as models/build.py)")
    parser.add_argument("--test-count", type=int, default=None, metavar="N",
                        help="with --search: the first N test images (all)")
    parser.add_argument("--lambda-step", default="0.002", metavar="X",
                        help="with --search: dyce search --lambda-step")
    parser.add_argument("--dump", action="store_true",
                        help="print a summary of the written package")
    args = parser.parse_args(argv)
    prog = os.path.basename(sys.argv[0])
    try:
        with open(args.package, "rb") as f:
            data = f.read()
        try:
            fmt.package_version(data)
        except (ValueError, Exception):
            raise ConvertError("not a .dyce package") from None
        start = time.time()
        raw = quantize_bytes(data, args)
        print(f"quantized in {time.time() - start:.1f} s")
        with open(args.output, "wb") as f:
            f.write(raw)
        if args.search:
            search(raw, args)
            with open(args.output, "rb") as f:
                raw = f.read()
    except ConvertError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    if args.dump:
        fmt.dump(raw)
    return 0
