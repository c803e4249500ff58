"""Fixture of tests/node/image_folder.test.mjs: a 300-class package and an
image folder whose classes include indices >= 256, with PyTorch's
predictions on it written as a version 2 records file exactly as
docs/FORMAT.md describes it (class indices as u16), so `dyce eval --records`
compares the engine with PyTorch at class indices that do not fit a byte.

Usage: records_v2_fixture.py OUT_DIR
Writes OUT_DIR/wide.dyce, OUT_DIR/data/test/<class>/*.png, OUT_DIR/wide.records
and OUT_DIR/expect.json (PyTorch's n, accuracy and top-1 per sample).
"""

import json
import os
import struct
import subprocess
import sys

import numpy as np
import torch
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
from dyce_build.images import to_tensor  # noqa: E402

CLASSES = 300
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def pad4(b):
    return b + bytes(-len(b) % 4)


def records_v2(graphs, macs, splits, classes):
    """splits: [(name, index[n], label[n], [(top1[n], conf[n]) per graph])]."""
    out = b"DYCERECS" + struct.pack("<IIII", 2, len(graphs), len(splits), classes)
    for g in graphs:
        out += struct.pack("<I", len(g)) + pad4(g.encode())
    out += b"".join(struct.pack("<Q", m) for m in macs)
    for name, index, label, preds in splits:
        out += struct.pack("<I", len(name)) + pad4(name.encode())
        out += struct.pack("<I", len(index)) + np.asarray(index, "<u4").tobytes()
        out += pad4(np.asarray(label, "<u2").tobytes())
        for top1, conf in preds:
            out += pad4(np.asarray(top1, "<u2").tobytes()) + np.asarray(conf, "<f4").tobytes()
    return out


def main():
    out = sys.argv[1]
    torch.manual_seed(14)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=2), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, CLASSES)).eval()
    with torch.no_grad():  # spread the logits (few near ties), favour classes >= 256
        net[-1].weight.mul_(20)
        net[-1].bias[256:] += 4
    labels = [f"c{i:03d}" for i in range(CLASSES)]
    labels[299] = "n/299"  # folder n_299
    with open(os.path.join(out, "labels.txt"), "w") as f:
        f.write("\n".join(labels) + "\n")
    onnx = os.path.join(out, "wide.onnx")
    torch.onnx.export(net, torch.zeros(1, 3, 32, 32), onnx, opset_version=13)
    pkg = os.path.join(out, "wide.dyce")
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert.py"), onnx, "-o", pkg,
                    "--labels", os.path.join(out, "labels.txt"),
                    "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD))],
                   check=True)
    rng = np.random.default_rng(3)
    chosen = [0, 7, 255, 256, 257, 274, 296, 299]
    for c in chosen:
        d = os.path.join(out, "data", "test", labels[c].replace("/", "_"))
        os.makedirs(d, exist_ok=True)
        for k in range(3):
            px = rng.integers(0, 256, (36, 40, 3), dtype=np.uint8)
            Image.fromarray(px, "RGB").save(os.path.join(d, f"{k}.png"))
    # Samples in the folder's order: classes by folder name, files by name.
    root = os.path.join(out, "data", "test")
    label, top1, conf = [], [], []
    for folder in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, folder))):
            x = to_tensor(os.path.join(root, folder, name), 32, 3, 1 / 255, MEAN, STD)
            with torch.no_grad():
                p = torch.softmax(net(torch.from_numpy(x)), 1)[0]
            label.append(labels.index(folder.replace("n_299", "n/299")))
            top1.append(int(p.argmax()))
            conf.append(float(p.max()))
    n = len(label)
    assert sum(t >= 256 for t in top1) >= n // 3, top1  # predictions beyond a byte
    data = records_v2(["main"], [0], [("test", list(range(n)), label, [(top1, conf)])], CLASSES)
    with open(os.path.join(out, "wide.records"), "wb") as f:
        f.write(data)
    correct = sum(a == b for a, b in zip(label, top1))
    assert correct > 0, "no sample is right: the label comparison goes untested"
    with open(os.path.join(out, "expect.json"), "w") as f:
        json.dump({"n": n, "accuracy": correct / n, "top1": top1}, f)


if __name__ == "__main__":
    main()
