"""Checks of the int8 converter for tests/node/int8_convert.test.mjs.

Usage: int8_check.py OUT_DIR [--test-count N]
Writes OUT_DIR/fashion-mnist-int8.dyce and OUT_DIR/report.json:
  accuracy: per classifier graph, float and int8 (Python oracle) top-1 on
            the first N Fashion-MNIST test images, and the sizes;
  roundtrip: version 2 read / write, version 1 packages byte for byte;
  oracle:   a hand-computed quantize / conv2d / add / avg_pool / dequantize
            graph, intermediate values compared;
  refusals: models/quantize.py on bad calibration inputs (status, stderr).
"""

import json
import os
import subprocess
import sys

import numpy as np
import torch

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
import dyce_format as fmt  # noqa: E402
from converter.executor import Runner, as_float  # noqa: E402
from converter.images_in import load_images  # noqa: E402

PY = "/usr/bin/python3"
FMNIST = "/usr/share/datasets/fashion-mnist"
PACKAGES = ["fashion-mnist.dyce", "fashion-mnist-reds.dyce",
            "fashion-mnist-reds-resnet.dyce"]


def quantize_cli(args):
    return subprocess.run([PY, os.path.join(ROOT, "models/quantize.py")] + args,
                          capture_output=True, text=True, cwd=ROOT)


def accuracies(graphs, x, labels, batch=250):
    hits = {}
    runner = Runner(graphs)
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs = runner.run(x[i:i + batch])
            for gi, v in outs.items():
                g = graphs[gi]
                if g.name.startswith("stage"):
                    continue
                pred = as_float(v, g, g.output).reshape(len(v), -1).argmax(1)
                hits[g.name] = hits.get(g.name, 0) + int(
                    (pred == labels[i:i + batch]).sum())
    return {k: v / len(x) for k, v in hits.items()}


def check_accuracy(out, count):
    src = os.path.join(ROOT, "models/fashion-mnist.dyce")
    dst = os.path.join(out, "fashion-mnist-int8.dyce")
    r = quantize_cli([src, "-o", dst, "--calibration", FMNIST,
                      "--calibration-count", "500"])
    if r.returncode != 0:
        raise SystemExit(f"quantize.py failed: {r.stderr}")
    data, qdata = open(src, "rb").read(), open(dst, "rb").read()
    graphs, spec, _, _ = fmt.read_package(data)
    qgraphs = fmt.read_package(qdata)[0]
    x, labels = load_images(FMNIST, spec, count, split="test")
    fl, q8 = accuracies(graphs, x, labels), accuracies(qgraphs, x, labels)
    return {"float_bytes": len(data), "int8_bytes": len(qdata),
            "version": fmt.package_version(qdata), "summary": r.stdout,
            "graphs": {k: {"float": fl[k], "int8": q8[k]} for k in fl},
            "count": count}, qdata


def check_roundtrip(qdata):
    out = {}
    for name in PACKAGES:
        data = open(os.path.join(ROOT, "models", name), "rb").read()
        graphs, spec, labels, _ = fmt.read_package(data)
        extra = [(t, b) for t, b in fmt.read_sections(data).items() if t == "CONF"]
        again = fmt.write_package(graphs, spec, labels, fmt.read_levels(data), extra)
        out[name] = {"v1": fmt.package_version(data) == 1, "same": again == data}
    graphs, spec, labels, _ = fmt.read_package(qdata)
    extra = [(t, b) for t, b in fmt.read_sections(qdata).items() if t == "CONF"]
    again = fmt.write_package(graphs, spec, labels, fmt.read_levels(qdata), extra)
    int8_nodes = sum(1 for g in graphs for n in g.nodes
                     if n.weight is not None and n.weight.dtype == np.int8)
    out["int8"] = {"v2": fmt.package_version(qdata) == 2, "same": again == qdata,
                   "int8_weight_nodes": int8_nodes,
                   "sections": list(fmt.read_sections(qdata))}
    return out


def tiny_graph():
    """quantize -> conv2d 1x1 (+relu) -> add constant -> avg_pool 2x2 ->
    dequantize; values worked out by hand in docs of check_oracle."""
    N = fmt.Node
    nodes = [
        N("quantize", [0], 1),
        N("conv2d", [1], 2, act="relu", weight=np.array([2, -3], np.int8),
          bias=np.array([3, -2], np.int32),
          wscale=np.array([0.25, 0.5], np.float32),
          params=fmt.node_params(KH=1, KW=1, SH=1, SW=1, DH=1, DW=1, GROUPS=1)),
        N("add", [2], 3, weight=np.array([10, -4], np.int8),
          params=[fmt.f32_bits(0.1), 2]),
        N("avg_pool", [3], 4, params=fmt.node_params(KH=2, KW=2, SH=2, SW=2)),
        N("dequantize", [4], 5),
    ]
    shapes = [(1, 2, 2, 1), (1, 2, 2, 1), (1, 2, 2, 2), (1, 2, 2, 2),
              (1, 1, 1, 2), (1, 1, 1, 2)]
    quant = [None, (0.5, 1), (0.4, -2), (0.5, 0), (0.3, 5), None]
    return fmt.Graph("tiny", fmt.NONE, shapes, nodes, 0, 5, quant)


def check_oracle():
    """Hand computation (binary32 where the contract says so):
    x = [[1, -0.5], [2.2, 0.25]]; quantize (0.5, 1): rne(2x) + 1 =
      [[3, 0], [5, 1]] (0.5 rounds to even 0);
    conv c0: acc = 3 + 2 (q - 1) = [[7, 1], [11, 3]], mult = 0.125f / 0.4f
      = 0.3125: rne -> [[2, 0], [3, 1]] - 2 = [[0, -2], [1, -1]];
    conv c1: acc = -2 - 3 (q - 1) = [[-8, 1], [-14, -2]], mult 0.625:
      [[-5, 1], [-9, -1]] - 2 = [[-7, -1], [-11, -3]], ReLU (qmin = zp -2):
      [[-2, -1], [-2, -2]];
    add constant (0.1, zp 2) = [0.8, -0.6]: ma = 0.4f / 0.5f = 0.8f,
      mb = 0.1f / 0.5f = 0.2f; c0: (a + 2) 0.8f + 8 * 0.2f = [[3.2, 1.6],
      [4.0000001, 2.4000001]] -> [[3, 2], [4, 2]]; c1: (a + 2) 0.8f - 1.2f
      = [[-1.2, -0.4], [-1.2, -1.2]] -> [[-1, 0], [-1, -1]];
    avg_pool: acc = [11, -3], m = (0.5f / 0.3f) / 4 = 0.41666666:
      rne([4.5833, -1.25]) + 5 = [10, 4];
    dequantize: [5 * 0.3f, -1 * 0.3f] = [1.5 (a tie in binary32, to
      even), -0.3f]."""
    g = tiny_graph()
    raw = fmt.write_package([g], fmt.InputSpec(2, 2, 1, [0.0], [1.0]))
    g2 = fmt.read_package(raw)[0][0]
    x = np.array([[[[1.0, -0.5], [2.2, 0.25]]]], np.float32)
    seen = {}
    Runner([g2]).run(x, lambda gi, t, v: seen.__setitem__(
        t, v.tolist() if isinstance(v, np.ndarray) else v.numpy().tolist()))
    want = {
        1: [[[[3, 0], [5, 1]]]],
        2: [[[[0, -2], [1, -1]], [[-2, -1], [-2, -2]]]],
        3: [[[[3, 2], [4, 2]], [[-1, 0], [-1, -1]]]],
        4: [[[[10]], [[4]]]],
        5: [[[[1.5]], [[float(np.float32(-0.3))]]]],
    }
    return {"got": {str(k): seen[k] for k in want},
            "want": {str(k): v for k, v in want.items()},
            "version": fmt.package_version(raw),
            "bytes_again": fmt.write_package(
                [g2], fmt.InputSpec(2, 2, 1, [0.0], [1.0])) == raw}


def check_refusals(out):
    src = os.path.join(ROOT, "models/fashion-mnist.dyce")
    empty = os.path.join(out, "empty")
    bad = os.path.join(out, "bad")
    os.makedirs(empty, exist_ok=True)
    for c in ("a", "b"):
        os.makedirs(os.path.join(bad, c), exist_ok=True)
        with open(os.path.join(bad, c, "x.png"), "w") as f:
            f.write("not an image")
    def package(c):
        """A 1 x 1 convolution of a c-channel 28 x 28 input."""
        path = os.path.join(out, f"in{c}.dyce")
        conv = fmt.Node("conv2d", [0], 1, weight=np.ones(c, np.float32),
                        params=fmt.node_params(KH=1, KW=1, SH=1, SW=1, DH=1, DW=1,
                                               GROUPS=1))
        with open(path, "wb") as f:
            f.write(fmt.write_package(
                [fmt.Graph("head", fmt.NONE, [(1, 28, 28, c), (1, 28, 28, 1)],
                           [conv], 0, 1)],
                fmt.InputSpec(28, 28, c, [0.0] * c, [1.0] * c)))
        return path
    cases = {"missing": (src, os.path.join(out, "nowhere")),
             "empty": (src, empty), "unreadable": (src, bad),
             "channels": (package(4), FMNIST),
             # gray IDX images feed a colour model, their value in each channel
             "rgb_idx": (package(3), FMNIST)}
    res = {}
    for name, (pkg, cal) in cases.items():
        r = quantize_cli([pkg, "-o", os.path.join(out, f"{name}.dyce"),
                          "--calibration", cal])
        res[name] = {"status": r.returncode, "stderr": r.stderr,
                     "written": os.path.exists(os.path.join(out, f"{name}.dyce"))}
    return res


def main():
    out = sys.argv[1]
    count = int(sys.argv[sys.argv.index("--test-count") + 1]) \
        if "--test-count" in sys.argv else 2000
    os.makedirs(out, exist_ok=True)
    accuracy, qdata = check_accuracy(out, count)
    report = {"accuracy": accuracy, "roundtrip": check_roundtrip(qdata),
              "oracle": check_oracle(), "refusals": check_refusals(out)}
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
