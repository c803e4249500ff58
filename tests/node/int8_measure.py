"""Float vs int8 (Python oracle) top-1 of every classifier graph of the
shipped Fashion-MNIST packages at every width level, on N test images
(default all 10 000), after quantizing each with 500 training images
(models/quantize.py's defaults). Not part of the suite (minutes).

Usage: int8_measure.py OUT_DIR [N]
       int8_measure.py pareto FLOAT.dyce INT8.dyce [DATA] [--json OUT]
       int8_measure.py graphs FLOAT.dyce INT8.records [DATA]

`graphs`: per records entry (graph at a width level, named as the
records name it), the float package's test top-1 (float executor, every
test image of DATA) next to the int8 records' test top-1 (what
models/quantize.py --search recorded: the int8 oracle, the engine's
numbers).

`pareto`: every configuration of both packages run by the engine
(`build/native/dyce eval --config all`, or `--graph head --level L` for
every level of a package without configurations; test split of DATA, default the
Fashion-MNIST IDX directory): accuracy and mean MACs; each package's
Pareto curve (points sorted by MACs, accuracy's running maximum, linear in
between); for every point of either curve, the other curve at the same
mean MACs (within the range both cover); the worst int8 - float gap.
"""

import json
import subprocess

import os
import sys

import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
import dyce_format as fmt  # noqa: E402
from converter.executor import Runner, as_float  # noqa: E402
from converter.images_in import load_images  # noqa: E402
from converter.quantize import classifiers, quantize_package  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"


def level_graphs(graphs, levels, li):
    """Classifier graphs that run at level li: no other level's suffix."""
    others = [n for i, (n, _) in enumerate(levels) if i != li and i > 0]
    return [i for i in sorted(classifiers(graphs))
            if not any(graphs[i].name.endswith("_" + o) for o in others)]


def top1(graphs, entries, wanted, x, labels, batch=500):
    runner, hits = Runner(graphs, entries or None), {}
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs = runner.run(x[i:i + batch], graphs=wanted)
            for gi in wanted:
                g = graphs[gi]
                pred = as_float(outs[gi], g, g.output).reshape(
                    len(outs[gi]), -1).argmax(1)
                hits[gi] = hits.get(gi, 0) + int((pred == labels[i:i + batch]).sum())
    return {gi: h / len(x) for gi, h in hits.items()}


DYCE = os.path.join(ROOT, "build", "native", "dyce")


def configs(package, data):
    """[(name, mean MACs, accuracy)] of every configuration, test split; a
    package without configurations: its head at every width level."""
    runs = [["--config", "all"]]
    raw = open(package, "rb").read()
    if "CONF" not in fmt.read_sections(raw):
        levels = fmt.read_levels(raw) or [("full", [])]
        runs = [["--graph", "head"] + (["--level", n] if fmt.read_levels(raw)
                                       else []) for n, _ in levels]
    lines = []
    for args in runs:
        r = subprocess.run([DYCE, "eval", package, "--data", data, *args,
                            "--json"], capture_output=True, text=True,
                           check=True)
        lines += [line for line in r.stdout.splitlines()
                  if line.startswith("{")]
    configs.lines[package] = lines
    rows = [json.loads(line) for line in lines]
    return [(c.get("config", c.get("graph")) + (
        "@" + c["level"] if c.get("level") not in (None, "full") else ""),
        c["mean_macs"], c["accuracy"]) for c in rows]


configs.lines = {}


def curve(points):
    """The Pareto curve: (MACs, accuracy) sorted by MACs, the accuracy's
    running maximum (a point is kept when it improves accuracy)."""
    out, best = [], -1.0
    for _, macs, acc in sorted(points, key=lambda p: (p[1], -p[2])):
        if acc > best:
            out.append((macs, acc))
            best = acc
    return out


def at(cur, macs):
    """The curve's accuracy at `macs` (step up at each point, linear
    between points), None outside its MAC range."""
    if macs < cur[0][0] or macs > cur[-1][0]:
        return None
    for (m0, a0), (m1, a1) in zip(cur, cur[1:]):
        if m0 <= macs <= m1:
            return a0 if m1 == m0 else a0 + (a1 - a0) * (macs - m0) / (m1 - m0)
    return cur[-1][1]


def pareto(fpkg, qpkg, data=FMNIST, json_out=None):
    fl, q8 = configs(fpkg, data), configs(qpkg, data)
    fc, qc = curve(fl), curve(q8)
    rows = []
    for who, cur, other in (("int8", qc, fc), ("float", fc, qc)):
        for macs, acc in cur:
            ref = at(other, macs)
            if ref is None:
                continue
            gap = acc - ref if who == "int8" else ref - acc
            rows.append({"point": who, "macs": macs, "accuracy": acc,
                         "other": ref, "int8_minus_float": gap})
    worst = min(rows, key=lambda r: r["int8_minus_float"])
    print(f"{os.path.basename(fpkg)}: {len(fl)} configurations, curve "
          f"{len(fc)} points; {os.path.basename(qpkg)}: {len(q8)}, curve "
          f"{len(qc)} points")
    for r in rows:
        print(f"  {r['point']:5} point {r['macs']:12.0f} MACs  "
              f"{100 * r['accuracy']:6.2f} %  other curve "
              f"{100 * r['other']:6.2f} %  int8 - float "
              f"{100 * r['int8_minus_float']:+.2f} pp")
    print(f"worst int8 - float at equal mean MACs: "
          f"{100 * worst['int8_minus_float']:+.2f} pp at "
          f"{worst['macs']:.0f} MACs ({worst['point']} point)")
    if json_out:
        stem = os.path.splitext(json_out)[0]
        for who, pkg in (("float", fpkg), ("int8", qpkg)):
            with open(f"{stem}-{who}.jsonl", "w") as f:
                f.write("\n".join(configs.lines[pkg]) + "\n")
        with open(json_out, "w") as f:
            json.dump({"float": fl, "int8": q8, "float_curve": fc,
                       "int8_curve": qc, "rows": rows, "worst": worst}, f,
                      indent=1)


def graphs_table(fpkg, records, data=FMNIST):
    from converter.records_int8 import collect, load_splits
    from dyce_build import records_file
    q = records_file.read(records)
    raw = open(fpkg, "rb").read()
    _, spec, labels, _ = fmt.read_package(raw)
    test = [s for s in load_splits(data, spec, labels) if s.name == "test"]
    fl = records_file.accuracies(collect(raw, test))["test"]
    qa = records_file.accuracies(q)["test"]
    worst = None
    for name in q["names"]:
        d = 100 * (qa[name] - fl[name])
        print(f"{name:14} float {100 * fl[name]:6.2f} int8 {100 * qa[name]:6.2f} "
              f"diff {d:+.2f}")
        if worst is None or abs(d) > abs(worst[1]):
            worst = (name, d)
    print(f"worst |diff|: {worst[0]} {worst[1]:+.2f} pp")


def main():
    if sys.argv[1] == "graphs":
        return graphs_table(*sys.argv[2:])
    if sys.argv[1] == "pareto":
        args = sys.argv[2:]
        json_out = None
        if "--json" in args:
            i = args.index("--json")
            json_out = args[i + 1]
            args = args[:i] + args[i + 2:]
        return pareto(*args, json_out=json_out)
    out, count = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 10000
    os.makedirs(out, exist_ok=True)
    for name in ("fashion-mnist", "fashion-mnist-reds", "fashion-mnist-reds-resnet"):
        data = open(os.path.join(ROOT, "models", name + ".dyce"), "rb").read()
        graphs, spec, _, _ = fmt.read_package(data)
        cal, _ = load_images(FMNIST, spec, 500)
        qdata, _ = quantize_package(data, cal)
        with open(os.path.join(out, name + "-int8.dyce"), "wb") as f:
            f.write(qdata)
        qgraphs = fmt.read_package(qdata)[0]
        levels = fmt.read_levels(data) or [("stored", [])]
        qlevels = fmt.read_levels(qdata) or [("stored", [])]
        x, labels = load_images(FMNIST, spec, count, split="test")
        print(f"## {name}: {len(data)} -> {len(qdata)} bytes "
              f"({len(qdata) / len(data):.3f}x), {count} test images", flush=True)
        for li, (lname, entries) in enumerate(levels):
            wanted = level_graphs(graphs, levels, li)
            fl = top1(graphs, entries, wanted, x, labels)
            q8 = top1(qgraphs, qlevels[li][1], wanted, x, labels)
            for gi in wanted:
                print(f"{lname:6} {graphs[gi].name:12} float {100 * fl[gi]:6.2f} "
                      f"int8 {100 * q8[gi]:6.2f} diff {100 * (q8[gi] - fl[gi]):+.2f}",
                      flush=True)


if __name__ == "__main__":
    main()
