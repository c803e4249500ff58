"""Benchmark models: ONNX (for onnxruntime-web), .dyce, and a fused op
list + weights for the TensorFlow.js peer, built from the .dyce so that
all three runtimes compute exactly the same graph.

    /usr/bin/python3 tests/bench/make_models.py OUTDIR

Writes OUTDIR/NAME.{onnx,dyce,tfjs.json,tfjs.bin} for:
  mobilenet_v2, resnet18    the torchvision nets (build/testmodels' exports)
  mobilenet_v3_small, efficientnet_b0
                            the same; not in the default list of bench.mjs
                            (5x5 depthwise, squeeze-excitation, hard-swish
                            and SiLU: `--models` picks them)
  fmnist_backbone           the Fashion-MNIST ResNet-20 (models/backbones/resnet_cifar.py)
  fmnist_saver0             its smallest tiny saver (same file)
  vit_tiny                  a ViT (28x28x1, 50 tokens, width 64, 6 blocks)
  conv3x3_56x56x64          one 3x3 conv, 56x56x64 -> 64, bias + ReLU,
                            behind a 1x1 conv 4 -> 64 (a package input has
                            at most 4 channels) and followed by global
                            pooling + a 64 -> 10 linear layer (a graph must
                            end in class scores): 0.7 % of the MACs
The Fashion-MNIST nets are built from their architecture with random
weights (the timings do not depend on the values); when a trained
models/fashion-mnist.dyce exists its graph list is printed for reference.
"""

import json
import os
import shutil
import sys
import warnings

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(ROOT, "models"))
import convert  # noqa: E402
from dyce_codes import P_GROUPS, P_KH, P_KW  # noqa: E402
import dyce_format  # noqa: E402
from backbones import plain_cnn, resnet_cifar  # noqa: E402  (models/backbones)

sys.path.insert(0, os.path.join(ROOT, "tests", "models"))
import attention_nets  # noqa: E402

FMNIST_INPUT = (1, 1, 28, 28)


class Conv3x3(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(4, 64, 1)
        self.conv = nn.Conv2d(64, 64, 3, 1, 1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = torch.relu(self.conv(torch.relu(self.stem(x))))
        return self.fc(x.mean((2, 3)))


def fmnist_backbone():
    return resnet_cifar.resnet20(10, 1)


def fmnist_saver0():
    return plain_cnn.tiny_s(10, 1)


def vit_tiny():
    """A ViT on 28x28x1: 4x4 patches (49 + a class token), width 64, six
    timm blocks (tests/models/attention_nets.py)."""
    return attention_nets.VitOpsNet(10, 1, 28, 4, 64, 6)


# name -> (constructor or None to copy build/testmodels/NAME.onnx, shape)
MODELS = {
    "mobilenet_v2": (None, (1, 3, 224, 224)),
    "resnet18": (None, (1, 3, 224, 224)),
    "mobilenet_v3_small": (None, (1, 3, 224, 224)),
    "efficientnet_b0": (None, (1, 3, 224, 224)),
    "fmnist_backbone": (fmnist_backbone, FMNIST_INPUT),
    "fmnist_saver0": (fmnist_saver0, FMNIST_INPUT),
    "conv3x3_56x56x64": (Conv3x3, (1, 4, 56, 56)),
    "vit_tiny": (vit_tiny, FMNIST_INPUT),
}


def export_onnx(name, build, shape, path):
    if build is None:
        src = os.path.join(ROOT, "build", "testmodels", name + ".onnx")
        if not os.path.exists(src):
            sys.exit(f"{src} is missing: run `npm test` (or "
                     "tests/models/export_models.py) first")
        shutil.copyfile(src, path)
        return
    torch.manual_seed(0)
    model = build().eval()
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.randn(shape), path, opset_version=13,
                          do_constant_folding=True,
                          training=torch.onnx.TrainingMode.EVAL,
                          input_names=["input"], output_names=["output"])


def fresh(path, sources):
    """path exists and is newer than every existing source file."""
    return os.path.exists(path) and all(
        os.path.getmtime(path) > os.path.getmtime(s)
        for s in sources if os.path.exists(s))


def tfjs_plan(graph, macs):
    """The graph as a list of fused ops with HWIO weights in one buffer."""
    blobs, at, ops = [], 0, []

    def put(array):
        nonlocal at
        a = np.ascontiguousarray(array, dtype="<f4")
        blobs.append(a.tobytes())
        at += a.size
        return [at - a.size, list(a.shape)]

    for n in graph.nodes:
        op = {"op": n.op, "in": n.inputs, "out": n.output, "act": n.act,
              "a": n.act_a, "b": n.act_b, "p": n.params[:11]}
        if n.op == "conv2d":
            _, oh, ow, cout = graph.shapes[n.output]
            cin = graph.shapes[n.inputs[0]][3]
            kh, kw, groups = n.params[P_KH], n.params[P_KW], n.params[P_GROUPS]
            w = n.weight.reshape(cout, kh, kw, cin // groups)
            if groups == 1:
                op["w"] = put(w.transpose(1, 2, 3, 0))          # HWIO
            elif groups == cin == cout:
                op["op"] = "depthwise"
                op["w"] = put(w.transpose(1, 2, 0, 3))          # HW C 1
            else:
                raise SystemExit(f"{graph.name}: grouped conv not in the "
                                 "tfjs peer")
        elif n.op == "fully_connected":
            cin = graph.shapes[n.inputs[0]][3]
            cout = graph.shapes[n.output][3]
            op["w"] = put(n.weight.reshape(cout, cin).T)        # K x N
        elif n.op == "channel_gather":
            op["w"] = put(dyce_format.gather_channels(n))       # blocks expanded
        elif n.weight is not None:
            op["w"] = put(n.weight)
        if n.bias is not None:
            op["bias"] = put(n.bias)
        ops.append(op)
    plan = {"input": graph.input, "output": graph.output,
            "shapes": [list(s) for s in graph.shapes], "ops": ops,
            "macs": macs}
    return plan, b"".join(blobs)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTDIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.set_num_threads(1)
    for name, (build, shape) in MODELS.items():
        base = os.path.join(out, name)
        sources = [os.path.abspath(__file__), *convert.SOURCES, resnet_cifar.__file__,
                   plain_cnn.__file__, attention_nets.__file__]
        if build is None:
            sources.append(os.path.join(ROOT, "build", "testmodels",
                                        name + ".onnx"))
        if not fresh(base + ".tfjs.bin", sources):
            export_onnx(name, build, shape, base + ".onnx")
            data = convert.convert_graphs([("main", base + ".onnx", None)])
            with open(base + ".dyce", "wb") as f:
                f.write(data)
            graphs, _, _, macs = dyce_format.read_package(data)
            plan, blob = tfjs_plan(graphs[0], macs["main"])
            with open(base + ".tfjs.json", "w") as f:
                json.dump(plan, f)
            with open(base + ".tfjs.bin", "wb") as f:
                f.write(blob)
        with open(base + ".tfjs.json") as f:
            print(f"{name}: {json.load(f)['macs']:,} MACs", flush=True)
    trained = os.path.join(ROOT, "models", "fashion-mnist.dyce")
    if os.path.exists(trained):
        with open(trained, "rb") as f:
            dyce_format.dump(f.read(), out=lambda s: print("trained: " + s))


if __name__ == "__main__":
    main()
