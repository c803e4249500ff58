"""Convert ONNX models exported by torch.onnx.export into `.dyce` packages.

The command line of models/convert.py (see its docstring)."""

import argparse
import os
import subprocess
import sys

from google.protobuf.message import DecodeError

import dyce_format as fmt

from .common import ConvertError
from .package import convert_graphs, read_labels
from .quantize_cli import Staged, add_options, check_options, quantize_bytes
from dyce_build.engine import DYCE  # noqa: E402  (on the path images_in puts models/ on)


def engine_check(path):
    """The engine's loader reads the package just written (`dyce info`,
    when build/native/dyce is built): a package it refuses is a converter
    bug, said here rather than left for the user's page to meet."""
    if not os.path.exists(DYCE):
        return
    r = subprocess.run([DYCE, "info", path], capture_output=True, text=True)
    if r.returncode != 0:
        why = r.stderr.strip().splitlines()[-1].split(f"{path}: ", 1)[-1]
        raise ConvertError(f"the engine refuses the package made of it ({why}): a "
                           "converter bug on this model; please report it with the model")


def _floats(text):
    return [float(v) for v in text.split(",")]


def _sizes(text):
    try:
        h, w = (int(v) for v in text.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}': H,W, e.g. 224,224") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"'{text}': sizes must be positive")
    return h, w


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", help="input ONNX model")
    parser.add_argument("-o", "--output", required=True, help="output .dyce")
    parser.add_argument("--labels", help="file with one class label per line")
    parser.add_argument("--name", default="main", help="graph name")
    parser.add_argument("--mean", type=_floats, help="per-channel means")
    parser.add_argument("--std", type=_floats, help="per-channel stds")
    parser.add_argument("--pixel-scale", type=float,
                        help="input = pixel * scale (default 1/255)")
    parser.add_argument("--size", type=_sizes, metavar="H,W",
                        help="height and width for an input exported with "
                             "symbolic ones (a symbolic batch is taken as 1)")
    parser.add_argument("--dump", action="store_true",
                        help="print a summary of the written package")
    parser.add_argument("--int8", action="store_true",
                        help="quantize to int8 (docs/INT8.md); needs "
                             "--calibration")
    add_options(parser, required=False)
    args = parser.parse_args(argv)
    if args.int8 and not args.calibration:
        parser.error("--int8 needs --calibration DIR")
    check_options(parser, args, needs=None if args.int8 else "--int8")
    spec = {k: v for k, v in (("mean", args.mean), ("std", args.std),
                              ("pixel_scale", args.pixel_scale)) if v is not None}
    prog = os.path.basename(sys.argv[0])
    try:
        labels = read_labels(args.labels) if args.labels else None
        data = convert_graphs([(args.name, args.onnx, None)], labels, spec, sizes=args.size)
        if args.mean is None and args.std is None:   # said once there is a package to say it of
            print(f"{prog}: warning: no --mean/--std: pictures go in as pixels scaled to 0-1, "
                  "unnormalised; give the normalisation the model was trained with, or it "
                  "answers pictures wrongly", file=sys.stderr)
        if args.int8:
            data = quantize_bytes(data, args)
        with Staged() as staged:
            with open(staged.path(args.output), "wb") as f:
                f.write(data)
            engine_check(staged.moves[-1][0])
            staged.commit()
    except ConvertError as err:
        print(f"{prog}: {args.onnx}: {err}", file=sys.stderr)
        return 1
    except (OSError, DecodeError) as err:  # unreadable or not ONNX
        print(f"{prog}: {args.onnx}: {type(err).__name__}: {err}",
              file=sys.stderr)
        return 1
    if args.dump:
        fmt.dump(data)
    return 0
