"""Step 8: the engine runs the package at every width level.

`dyce info PKG --json` must list the levels in order with, per graph, the
MACs nets.graph_macs gives at the level's widths (the loader derives every
tensor's width from LEVL and refuses adds of different widths, so a wrong
stream width would fail here). `dyce eval PKG --data DIR --split test
--graph head --level L --json` then gives the engine's accuracy of every
level's full path and, with the records file beside the package, its
agreement with PyTorch's predictions. Needs build/native/dyce (not built
here).
"""

import json
import os
import subprocess


from . import nets

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
DYCE_CLI = os.path.join(ROOT, "build", "native", "dyce")


def _run(args):
    r = subprocess.run([DYCE_CLI] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"dyce {' '.join(args)} failed ({r.returncode}):"
                           f"\n{r.stdout}{r.stderr}")
    return r.stdout


def check_info(pkg, named_levels, log):
    """Per-level MACs of every graph as the engine computes them."""
    info = json.loads(_run(["info", pkg, "--json"]))
    names = [g["name"] for g in info["graphs"]]
    if names != list(nets.GRAPHS):
        raise RuntimeError(f"engine graphs {names}")
    got = [lv["name"] for lv in info["levels"]]
    if got != [n for n, _ in named_levels]:
        raise RuntimeError(f"engine levels {got}")
    full = nets.total_macs(nets.FULL)
    out = {}
    for lv, (name, widths) in zip(info["levels"], named_levels):
        want = nets.graph_macs(widths)
        engine = dict(zip(names, lv["graph_macs"]))
        bad = {g: (engine.get(g), want[g]) for g in nets.GRAPHS
               if engine.get(g) != want[g]}
        if bad or lv["head_path_macs"] != sum(want.values()):
            raise RuntimeError(f"level {name}: engine MACs differ (engine, "
                               f"PyTorch): {bad}, path "
                               f"{lv['head_path_macs']}")
        out[name] = {"head_path_macs": lv["head_path_macs"],
                     "fraction": lv["head_path_macs"] / full}
        log(f"engine info: level {name} head path {lv['head_path_macs']} "
            f"MACs ({100 * lv['head_path_macs'] / full:.2f} %), every "
            "graph's MACs equal PyTorch's")
    return out


def eval_levels(pkg, data_dir, named_levels, log, limit=None, split="test",
                test_fraction=None):
    """{level: engine eval JSON} of the head path at every level
    (test_fraction: of a folder without split folders, as the build's)."""
    out = {}
    for name, _ in named_levels:
        args = ["eval", pkg, "--data", data_dir, "--split", split,
                "--graph", "head", "--level", name, "--json"]
        if test_fraction is not None:
            args += ["--test-fraction", str(test_fraction)]
        if limit:
            args += ["--limit", str(limit)]
        res = json.loads(_run(args))
        out[name] = res
        log(f"engine eval: level {name} {split} n {res['n']} accuracy "
            f"{100 * res['accuracy']:.2f} %, mean MACs "
            f"{res['mean_macs']:.0f}, agreement with PyTorch "
            f"{res.get('agreement')} ({res.get('compared')} compared), "
            f"{res['mean_ms']:.2f} ms")
    return out


def available():
    return os.path.exists(DYCE_CLI)
