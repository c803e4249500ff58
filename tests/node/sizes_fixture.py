"""Fixture of tests/node/sizes.test.mjs: packages at real-world size, made
by models/convert.py from small PyTorch networks with many classes and
large colour inputs, with one input tensor each and PyTorch's logits.

Usage: sizes_fixture.py OUT_DIR
Writes OUT_DIR/<name>.dyce, <name>.input.npy, <name>.torch.npy and
<name>.labels.txt for name = c1000-224 (1 000 classes, 224x224x3) and
c65535-512 (65 535 classes, 512x512x3).
"""

import os
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make(out, name, classes, size):
    torch.manual_seed(classes)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, stride=4), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(), torch.nn.Linear(8, classes)).eval()
    with torch.no_grad():
        net[-1].weight.mul_(10)
    # A normalised picture of random pixels (what the JS API accepts).
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    x = (torch.randint(0, 256, (1, 3, size, size)).float() / 255 - mean) / std
    with torch.no_grad():
        y = net(x)
    base = os.path.join(out, name)
    np.save(base + ".input.npy", x.numpy())
    np.save(base + ".torch.npy", y.numpy())
    labels = [f"n{i:08d}" if i % 3 else f"class/{i}" for i in range(classes)]
    with open(base + ".labels.txt", "w") as f:
        f.write("\n".join(labels) + "\n")
    torch.onnx.export(net, x, base + ".onnx", opset_version=13)
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert.py"), base + ".onnx",
                    "-o", base + ".dyce", "--labels", base + ".labels.txt",
                    "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225"], check=True)


def main():
    out = sys.argv[1]
    make(out, "c1000-224", 1000, 224)
    make(out, "c65535-512", 65535, 512)


if __name__ == "__main__":
    main()
