"""The Python int8 oracle's answers for tests/node/int8_engine.test.mjs.

Usage: int8_oracle.py PACKAGE OUT_DIR [--count N]
Runs every graph of PACKAGE (an int8 .dyce) with models/converter's exact
int8 semantics on the first N Fashion-MNIST test images and writes
  OUT_DIR/inputs.f32   the normalised inputs, N x H x W x C float32 (NHWC)
  OUT_DIR/oracle.json  {graph name: [[logits of image i] ...]} for every
                       graph with a float output (savers, exits, head)
"""

import argparse
import json
import os
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
import dyce_format as fmt  # noqa: E402
from converter.executor import Runner, as_float  # noqa: E402
from dyce_build.data import read_idx  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("package")
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=64)
    a = ap.parse_args()
    with open(a.package, "rb") as f:
        graphs, spec, _, _ = fmt.read_package(f.read())
    pixels = read_idx(os.path.join(FMNIST, "t10k-images-idx3-ubyte.gz"))[:a.count]
    x = pixels.astype(np.float32) * np.float32(spec.pixel_scale)
    x = (x - np.float32(spec.mean[0])) / np.float32(spec.std[0])
    x = x.astype(np.float32).reshape(a.count, 1, 28, 28)  # NCHW, one channel
    with torch.no_grad():
        outs = Runner(graphs).run(x)
    answers = {}
    for gi, v in outs.items():
        g = graphs[gi]
        if g.is_int8(g.output):
            continue  # stages: int8 outputs, checked through their readers
        answers[g.name] = as_float(v, g, g.output).reshape(a.count, -1).tolist()
    os.makedirs(a.out, exist_ok=True)
    x.transpose(0, 2, 3, 1).tofile(os.path.join(a.out, "inputs.f32"))
    with open(os.path.join(a.out, "oracle.json"), "w") as f:
        json.dump(answers, f)


if __name__ == "__main__":
    main()
