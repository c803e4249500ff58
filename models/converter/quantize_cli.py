"""Command line of models/quantize.py, and the --int8 options that
models/convert.py shares with it."""

import argparse
import os
import sys

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
                        choices=("minmax", "percentile"),
                        help="activation ranges (default minmax)")
    parser.add_argument("--percentile", type=float, default=99.99,
                        metavar="P", help="with --calibration-method "
                        "percentile: the range covers the (100-P)-th to the "
                        "P-th percentile (default 99.99)")
    parser.add_argument("--keep-float", default="", metavar="NODE,...",
                        help="graphs (NAME) or nodes (NAME/INDEX) to keep float")


def quantize_bytes(data, args, out=print):
    """Quantize package bytes with the options of add_options; prints the
    summary with `out`; returns the int8 package bytes."""
    _, spec, _, _ = fmt.read_package(data)
    x, _ = load_images(args.calibration, spec, args.calibration_count)
    out(f"calibration: {len(x)} images from {args.calibration} "
        f"({args.calibration_method}"
        + (f" {args.percentile}" if args.calibration_method == "percentile"
           else "") + ")")
    keep = [k for k in args.keep_float.split(",") if k]
    raw, lines = quantize_package(data, x, args.calibration_method,
                                  args.percentile, keep)
    for line in lines:
        out(line)
    return raw


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Quantize a .dyce package to int8 (docs/INT8.md): every "
                    "graph, calibrated on training images.")
    parser.add_argument("package", help="input .dyce (float, version 1)")
    parser.add_argument("-o", "--output", required=True, help="output .dyce")
    add_options(parser, required=True)
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
        raw = quantize_bytes(data, args)
        with open(args.output, "wb") as f:
            f.write(raw)
    except ConvertError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    except OSError as err:
        print(f"{prog}: {err}", file=sys.stderr)
        return 1
    if args.dump:
        fmt.dump(raw)
    return 0
