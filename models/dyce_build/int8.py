"""`--int8`: the built package quantized (docs/INT8.md) next to it, as
OUT-int8.dyce, by models/quantize.py: calibrated on the training images,
with its own configurations searched on records of the int8 graphs'
predictions (the same train / validation split as the float build), then
its head's test accuracy measured by the engine next to the float one's."""

import os
import subprocess
import sys
import tempfile

from . import engine
from .data import test_split
from .errors import BuildError

QUANTIZE = os.path.join(engine.ROOT, "models", "quantize.py")


def quantize_args(opts, out):
    """models/quantize.py's command line for the float package opts.out."""
    args = [sys.executable, QUANTIZE, opts.out, "-o", out,
            "--calibration", opts.data, "--search", opts.data,
            "--val-fraction", str(opts.val_fraction),
            "--test-fraction", str(opts.test_fraction),
            "--lambda-step", str(opts.lambda_step)]
    if opts.limit:  # --smoke or --limit: a few samples per step
        args += ["--calibration-count", str(min(500, opts.limit)), "--search-count",
                 str(opts.limit), "--val-count", str(opts.limit), "--test-count", str(opts.limit)]
    return args


def head_accuracy(package, opts, limit):
    args = ["--split", test_split(opts.data), "--graph", "head"] + (["--limit", str(limit)] if limit else [])
    return engine.eval_lines(package, opts.data, *args, test_fraction=opts.test_fraction)[0]["accuracy"]


def run_quantize(args, log):
    """Runs models/quantize.py, logging each line of its output as
    `int8: LINE` as it comes (it takes minutes); BuildError with its
    stderr when it fails."""
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True,
                                env={**os.environ, "PYTHONUNBUFFERED": "1"})
        for line in proc.stdout:
            log("int8: " + line.rstrip())
        if proc.wait() != 0:
            err.seek(0)
            raise BuildError(f"--int8: quantizing failed: {err.read().strip()[-2000:]}")


def build(ctx, opts):
    """Writes OUT-int8.dyce; returns the report's `int8` entry."""
    out = os.path.splitext(opts.out)[0] + "-int8.dyce"
    run_quantize(quantize_args(opts, out), ctx.log)
    limit = opts.report_limit or opts.limit
    entry = {"package": out, "bytes": os.path.getsize(out),
             "float_bytes": os.path.getsize(opts.out),
             "head_test_accuracy": head_accuracy(out, opts, limit),
             "float_head_test_accuracy": head_accuracy(opts.out, opts, limit)}
    ctx.log(f"int8: wrote {out} ({entry['bytes']:,} bytes, "
            f"{entry['bytes'] / entry['float_bytes']:.3f}x); head on test "
            f"{entry['head_test_accuracy']:.4f} (float "
            f"{entry['float_head_test_accuracy']:.4f})")
    return entry
