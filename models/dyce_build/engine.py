"""The engine's CLI (build/native/dyce) as the builder uses it: run a graph
on an input, evaluate on a data directory, search configurations."""

import json
import os
import subprocess
import tempfile

import numpy as np

from .errors import BuildError

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DYCE = os.path.join(ROOT, "build", "native", "dyce")


def require():
    """The engine's CLI must be built: checked before any training, since
    the package's check, records and search run it."""
    if not os.path.exists(DYCE):
        raise BuildError(f"{DYCE} is missing (the builder checks, records and searches "
                         "with it): run `bash scripts/build.sh native` first")


def cli(*args):
    require()
    try:
        r = subprocess.run([DYCE, *map(str, args)], capture_output=True, text=True)
    except OSError as e:  # e.g. being rebuilt at this moment: not executable
        raise BuildError(f"cannot run {DYCE}: {e.strerror}; rebuild it with "
                         "`bash scripts/build.sh native` and run the command again "
                         "(it resumes)") from None
    if r.returncode != 0:
        raise BuildError(f"dyce {args[0]} failed: {r.stderr.strip()}")
    return r.stdout


def write_npy(path, array):
    np.save(path, np.ascontiguousarray(array, np.float32))


def run_graph(package, graph, x):
    """The engine's output of `graph` (its whole source path) on x (1, C, H, W)."""
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = os.path.join(tmp, "x.npy"), os.path.join(tmp, "y.npy")
        write_npy(inp, x)
        cli("run", package, "--input", inp, "--graph", graph, "--output", out)
        return np.load(out)


def eval_lines(package, data_dir, *args, test_fraction=None):
    """Parsed JSON lines of `dyce eval PACKAGE --data DIR ARGS --json`
    (test_fraction: of a folder without split folders, as the build's)."""
    more = ("--test-fraction", test_fraction) if test_fraction is not None else ()
    out = cli("eval", package, "--data", data_dir, *args, *more, "--json")
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def head_accuracy(package, data_dir, limit=0, level=None, test_fraction=None):
    """The head's accuracy on the test split (an image folder's val/ when it
    has no test/, as dyce eval reads it), at `level` when given."""
    args = ["--split", "test", "--graph", "head"] + (["--limit", str(limit)] if limit else [])
    args += ["--level", level] if level else []
    return eval_lines(package, data_dir, *args, test_fraction=test_fraction)[0]["accuracy"]


def level_names(package):
    """The package's width levels, widest first ([] without levels)."""
    return [lv["name"] for lv in json.loads(cli("info", package, "--json")).get("levels", [])]


def search(package, records, lambda_step, out, budgets=0):
    """Run the DyCE/TinySaver search (with `budgets` MAC budgets filled,
    dyce search --budgets); {config: {accuracy, mean_macs}} as the search
    measured them on the validation records."""
    text = cli("search", package, "--records", records, "--method", "both",
               "--lambda-step", lambda_step, *(["--budgets", budgets] if budgets else []),
               "-o", out, "--json")
    claims = {}
    for line in text.splitlines():
        if line.startswith('{"config"'):
            c = json.loads(line)
            claims[c["config"]] = c
    return claims

