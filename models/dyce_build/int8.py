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


def head_accuracy(package, opts, limit, level=None):
    return engine.head_accuracy(package, opts.data, limit, level, opts.test_fraction)


# An int8 head this far below its float one on test is said in the log: a
# narrow width level can quantize much worse than the full width (its
# activations' ranges are calibrated per tensor over every level's run).
WARN_DROP = 0.01


def level_accuracies(out, opts, limit, log, float_heads):
    """Each width level's head on test, int8 beside float (`float_heads`:
    {level: accuracy}, widest first), from the second level on (the first
    is the head's own line); a large drop logged."""
    rows = []
    for level, f in list(float_heads.items())[1:]:
        q = head_accuracy(out, opts, limit, level)
        rows.append({"level": level, "head_test_accuracy": q, "float_head_test_accuracy": f})
        log(f"int8: head at {level} on test {q:.4f} (float {f:.4f})"
            + (f"; WARNING: {100 * (f - q):.1f} pp lost by quantizing this level" if f - q > WARN_DROP + 1e-9 else ""))
    return rows


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


def build(ctx, opts, float_heads=None):
    """Writes OUT-int8.dyce; returns the report's `int8` entry. `float_heads`:
    the float package's head on test at each width level, {level:
    accuracy} widest first, when the caller has measured them (with this
    limit); else measured here."""
    out = os.path.splitext(opts.out)[0] + "-int8.dyce"
    run_quantize(quantize_args(opts, out), ctx.log)
    limit = opts.report_limit or opts.limit
    if float_heads is None:   # the full width (the head as it is), then each narrower level
        levels = engine.level_names(opts.out) or [None]
        float_heads = {lv: head_accuracy(opts.out, opts, limit, lv if i else None)
                       for i, lv in enumerate(levels)}
    entry = {"package": out, "bytes": os.path.getsize(out),
             "float_bytes": os.path.getsize(opts.out),
             "head_test_accuracy": head_accuracy(out, opts, limit),
             "float_head_test_accuracy": next(iter(float_heads.values()))}
    ctx.log(f"int8: wrote {out} ({entry['bytes']:,} bytes, "
            f"{entry['bytes'] / entry['float_bytes']:.3f}x); head on test "
            f"{entry['head_test_accuracy']:.4f} (float "
            f"{entry['float_head_test_accuracy']:.4f})")
    entry["levels"] = level_accuracies(out, opts, limit, ctx.log, float_heads)
    return entry
