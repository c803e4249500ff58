"""Float vs int8 (Python oracle) top-1 of every classifier graph of the
shipped Fashion-MNIST packages at every width level, on N test images
(default all 10 000), after quantizing each with 500 training images
(models/quantize.py's defaults). Not part of the suite (minutes).

Usage: int8_measure.py OUT_DIR [N]
"""

import os
import sys

import numpy as np
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


def main():
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
