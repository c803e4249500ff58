"""ONNX classifiers for the build tests' `--backbone FILE.onnx` (written under
a temporary directory), each checked against the PyTorch module it was
exported from:

    /usr/bin/python3 tests/build/onnx_backbones.py DIR

DIR/resnet.onnx: a small residual network for 28x28x1 images and ten
classes, exported by PyTorch (opset 13, node names that nest:
/layer1/c1/Conv), with `x.view(x.size(0), -1)` before its classifier (a
Shape, Gather, Concat, Reshape chain the builder folds); BatchNorm
statistics randomised so that folding them is tested. DIR/batch1.onnx: the same network exported without a batch axis (its
reshape holds a batch of one, which the builder makes -1). DIR/vit.onnx:
torchvision's VisionTransformer, small (its class token expanded to the
batch by a Shape-derived Expand); DIR/vit-batch1.onnx: the same without a
batch axis, whose attention reshapes hold the batch of one (refused,
saying how to export it). DIR/flat.onnx: the
same graph with its node names removed (exit positions then come from
the convolutions). DIR/nhwc.onnx: the network behind a channels-last
input (N, H, W, C, as tf2onnx writes Keras models) and ending in a
softmax. DIR/bn.onnx: exported without constant folding (BatchNormalization
nodes kept), opset 11. DIR/saver.onnx: a small
network to put in front as a saver. DIR/cumsum.onnx: an operator the builder does not
take. DIR/rgb32.onnx: 32x32x3 input (refused for the gray 28x28 data).
DIR/corrupt.onnx: a truncated file. Then torchvision's
mobilenet_v3_small, shufflenet_v2_x0_5, squeezenet1_1 and densenet121
(64x64x3, 10 classes, random weights) are exported and read back.

DIR/keras.onnx: a graph written as tf2onnx writes a Keras CNN, with no
PyTorch model behind it. DIR/strided.onnx: strided and reversed slices (a
CIFAR ResNet's x[:, :, ::2, ::2] shortcut, torch.flip). DIR/masked.onnx:
Swin's ways, exported without constant folding: padding to a multiple
of a window computed from the shape (Mod), a region mask written into a
constant (ScatterND). DIR/legacy.onnx:
older exporters' ways, written by hand (opset 9: unnamed nodes, an
Identity chain, Upsample, Clip's bounds as attributes, a float Cast, an
AveragePool with SAME_UPPER's uneven padding left out of its counts,
Dropout's mask output, Gemm with transB=0). DIR/train.onnx (not printed:
onnxruntime computes its batch statistics): exported with
training=TrainingMode.TRAINING, read as the frozen classifier it is. Every file that is read back also gets
NAME.in.bin, NAME.out.bin and NAME.io.json (a batch of 3 and the ONNX
backbone's output) for the test to run the file in onnxruntime-node, an
oracle independent of PyTorch.

Prints one line per file: `NAME DIFFERENCE SCALE`, the largest absolute
difference between the ONNX backbone (models/dyce_build/onnx_backbone.py)
and PyTorch at batch 1 and 3, and PyTorch's largest absolute output; the
test requires DIFFERENCE under 1e-5 of SCALE, and SCALE above 0.
"""

import json
import os
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "../../models"))
from dyce_build import onnx_backbone  # noqa: E402


class Block(nn.Module):
    def __init__(self, c, o, stride):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, o, 3, stride, 1, bias=False), nn.BatchNorm2d(o)
        self.c2, self.b2 = nn.Conv2d(o, o, 3, 1, 1, bias=False), nn.BatchNorm2d(o)
        self.short = (nn.Sequential() if stride == 1 and c == o else
                      nn.Sequential(nn.Conv2d(c, o, 1, stride, bias=False), nn.BatchNorm2d(o)))

    def forward(self, x):
        return F.relu(self.b2(self.c2(F.relu(self.b1(self.c1(x))))) + self.short(x))


class ResNet(nn.Module):
    def __init__(self, channels=1, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(channels, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU())
        self.layer1, self.layer2, self.layer3 = Block(16, 16, 1), Block(16, 32, 2), Block(32, 64, 2)
        self.fc = nn.Linear(64, classes)

    def forward(self, x):
        x = F.adaptive_avg_pool2d(self.layer3(self.layer2(self.layer1(self.stem(x)))), 1)
        return self.fc(x.view(x.size(0), -1))


class NHWC(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = ResNet()

    def forward(self, x):
        return torch.softmax(self.net(x.permute(0, 3, 1, 2)), 1)


class Saver(nn.Module):
    """A small trained-elsewhere model to put in front (--savers FILE.onnx)."""

    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 8, 3, 2, 1), nn.Linear(8, 10)

    def forward(self, x):
        return self.fc(F.adaptive_avg_pool2d(F.relu(self.conv(x)), 1).flatten(1))


class CumSum(ResNet):
    def forward(self, x):
        return super().forward(torch.cumsum(x, 2))


def randomise_norms(model):
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def small_vit():
    """torchvision's VisionTransformer for 28x28x1 (16 patches + the class
    token, three encoder layers), its head not zero."""
    from torchvision.models.vision_transformer import VisionTransformer
    vit = VisionTransformer(image_size=28, patch_size=7, num_layers=3, num_heads=2,
                            hidden_dim=32, mlp_dim=64, num_classes=10)
    vit.conv_proj = nn.Conv2d(1, 32, 7, 7)
    nn.init.normal_(vit.heads.head.weight)
    return vit.eval()


def export(model, shape, path, opset=13, fold=True, batch_axis=True):
    torch.onnx.export(model, torch.randn(shape), path, input_names=["image"],
                      output_names=["logits"],
                      dynamic_axes={"image": {0: "n"}} if batch_axis else None,
                      opset_version=opset, do_constant_folding=fold)


def compare(model, path, shape, nhwc=False):
    """Max |ONNX backbone - PyTorch| at batch 1 and 3 (NCHW images); the
    batch of 3 and the ONNX backbone's answer are written beside the file
    for onnxruntime to check (oracle_files)."""
    c, size = (shape[3], shape[1:3]) if nhwc else (shape[1], shape[2:])
    ob = onnx_backbone.load(path, c, tuple(size))
    worst = scale = 0.0
    for b in (1, 3):
        x = torch.randn((b, c) + tuple(size))
        with torch.no_grad():
            got = ob(x)
            want = model(x.permute(0, 2, 3, 1) if nhwc else x) if model is not None else got
            worst = max(worst, float((got - want).abs().max()))
        scale = max(scale, float(want.abs().max()))
    oracle_files(path, x.permute(0, 2, 3, 1) if nhwc else x, got)
    print(f"{os.path.basename(path)} {worst:.3e} {scale:.3e}", flush=True)


def oracle_files(path, x, y):
    """PATH.in.bin / PATH.out.bin (float32) and PATH.io.json (their shapes;
    batch1: the file takes one image at a time): the file's input as the
    file takes it, and the ONNX backbone's output."""
    x.numpy().astype("<f4").tofile(path + ".in.bin")
    y.numpy().astype("<f4").tofile(path + ".out.bin")
    dim0 = onnx.load(path).graph.input[0].type.tensor_type.shape.dim[0]
    with open(path + ".io.json", "w") as f:   # batch1: onnxruntime takes one image at a time
        json.dump({"input": list(x.shape), "output": list(y.shape),
                   "batch1": dim0.HasField("dim_value") and dim0.dim_value == 1}, f)


def keras_like(path):
    """A graph written as tf2onnx writes a small Keras Sequential CNN: NHWC
    input with a symbolic batch, one transpose in, convolutions with
    auto_pad SAME_UPPER and explicit pads, max pools, a transpose back
    before the flatten (a Reshape to [-1, 1568]), MatMul + Add, Softmax;
    names as Keras layers. No PyTorch model: onnxruntime is its oracle."""
    from onnx import TensorProto, helper as h, numpy_helper as nh
    rng = np.random.default_rng(0)

    def w(name, *shape):
        return nh.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)
    inits = [w("c1/W", 16, 1, 3, 3), w("c1/B", 16), w("c2/W", 32, 16, 3, 3), w("c2/B", 32),
             nh.from_array(np.array([-1, 7 * 7 * 32], np.int64), "shape"),
             w("dense/W", 7 * 7 * 32, 10), w("dense/b", 10)]
    node = h.make_node
    nodes = [
        node("Transpose", ["input_1"], ["t0"], name="sequential/conv2d/Conv2D__6", perm=[0, 3, 1, 2]),
        node("Conv", ["t0", "c1/W", "c1/B"], ["c1"], name="sequential/conv2d/BiasAdd",
             kernel_shape=[3, 3], auto_pad="SAME_UPPER"),
        node("Relu", ["c1"], ["r1"], name="sequential/conv2d/Relu"),
        node("MaxPool", ["r1"], ["p1"], name="sequential/max_pooling2d/MaxPool",
             kernel_shape=[2, 2], strides=[2, 2]),
        node("Conv", ["p1", "c2/W", "c2/B"], ["c2"], name="sequential/conv2d_1/BiasAdd",
             kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("Relu", ["c2"], ["r2"], name="sequential/conv2d_1/Relu"),
        node("MaxPool", ["r2"], ["p2"], name="sequential/max_pooling2d_1/MaxPool",
             kernel_shape=[2, 2], strides=[2, 2]),
        node("Transpose", ["p2"], ["t1"], name="sequential/max_pooling2d_1/MaxPool__20", perm=[0, 2, 3, 1]),
        node("Reshape", ["t1", "shape"], ["f"], name="sequential/flatten/Reshape"),
        node("MatMul", ["f", "dense/W"], ["m"], name="sequential/dense/MatMul"),
        node("Add", ["m", "dense/b"], ["logits"], name="sequential/dense/BiasAdd"),
        node("Softmax", ["logits"], ["dense"], name="sequential/dense/Softmax", axis=-1),
    ]
    graph = h.make_graph(nodes, "tf2onnx", [h.make_tensor_value_info("input_1", TensorProto.FLOAT, ["unk__12", 28, 28, 1])],
                         [h.make_tensor_value_info("dense", TensorProto.FLOAT, ["unk__13", 10])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 13)], producer_name="tf2onnx")
    onnx.checker.check_model(model)
    onnx.save(model, path)


class Strided(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.fc = nn.Conv2d(1, 8, 3, 1, 1), nn.Conv2d(16, 16, 3, 1, 1), nn.Linear(16, 10)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 4, 4))   # option A: strided, zero channels
        x = F.relu(self.c2(torch.flip(x, [3])))
        return self.fc(x.mean((2, 3)))


class Masked(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.fc = nn.Conv2d(1, 8, 3, 2, 1), nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.c1(x))
        x = F.pad(x, (0, (5 - x.shape[3] % 5) % 5, 0, (5 - x.shape[2] % 5) % 5))
        mask = torch.zeros(1, 1, 15, 15)
        mask[:, :, :10, :] = 1.0
        mask[:, :, 10:, 5:] = 2.0
        return self.fc((x * mask).mean((2, 3)))


class Dropped(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.BatchNorm2d(8), nn.ReLU(), nn.Flatten(),
                                  nn.Dropout(0.5), nn.Linear(8 * 14 * 14, 10))

    def forward(self, x):
        return self.body(x)


def legacy(path):
    """Opset 9 as older exporters write it; onnxruntime is its oracle."""
    from onnx import TensorProto, helper as h, numpy_helper as nh
    rng = np.random.default_rng(1)

    def w(name, *shape):
        return nh.from_array((rng.standard_normal(shape) * 0.2).astype(np.float32), name)
    node = h.make_node
    nodes = [
        node("Cast", ["x"], ["x1"], to=TensorProto.FLOAT),
        node("Conv", ["x1", "c1", "c1b"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2]),
        node("Clip", ["a"], ["b"], min=0.0, max=6.0),
        node("Identity", ["b"], ["b1"]), node("Identity", ["b1"], ["b2"]),
        node("Upsample", ["b2", "scales"], ["u"], mode="nearest"),
        node("Conv", ["u", "c2"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        node("Clip", ["c"], ["d"], min=-1.0, max=1.0),
        node("AveragePool", ["d"], ["p"], kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER"),
        node("Flatten", ["p"], ["f"], axis=1),
        node("Dropout", ["f"], ["g", "mask"], ratio=0.5),
        node("Gemm", ["g", "fcW", "fcB"], ["y"], transB=0),
    ]
    inits = [w("c1", 8, 1, 3, 3), w("c1b", 8), nh.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
             w("c2", 8, 8, 3, 3), w("fcW", 8 * 14 * 14, 10), w("fcB", 10)]
    graph = h.make_graph(nodes, "legacy", [h.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
                         [h.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], inits)
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 9)])
    model.ir_version = 4
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main(out):
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    net = randomise_norms(ResNet())
    export(net, (1, 1, 28, 28), f"{out}/resnet.onnx")
    compare(net, f"{out}/resnet.onnx", (1, 1, 28, 28))
    flat = onnx.load(f"{out}/resnet.onnx")
    for node in flat.graph.node:
        node.name = ""
    onnx.save(flat, f"{out}/flat.onnx")
    compare(net, f"{out}/flat.onnx", (1, 1, 28, 28))
    export(net, (1, 1, 28, 28), f"{out}/bn.onnx", opset=11, fold=False)
    compare(net, f"{out}/bn.onnx", (1, 1, 28, 28))
    export(net, (1, 1, 28, 28), f"{out}/batch1.onnx", batch_axis=False)
    compare(net, f"{out}/batch1.onnx", (1, 1, 28, 28))
    vit = small_vit()
    export(vit, (1, 1, 28, 28), f"{out}/vit.onnx", opset=14)
    compare(vit, f"{out}/vit.onnx", (1, 1, 28, 28))
    export(vit, (1, 1, 28, 28), f"{out}/vit-batch1.onnx", opset=14, batch_axis=False)
    nhwc = NHWC().eval()
    randomise_norms(nhwc)
    export(nhwc, (1, 28, 28, 1), f"{out}/nhwc.onnx")
    compare(nhwc, f"{out}/nhwc.onnx", (1, 28, 28, 1), nhwc=True)
    keras_like(f"{out}/keras.onnx")
    compare(None, f"{out}/keras.onnx", (1, 28, 28, 1), nhwc=True)
    strided = Strided().eval()
    export(strided, (1, 1, 28, 28), f"{out}/strided.onnx")
    compare(strided, f"{out}/strided.onnx", (1, 1, 28, 28))
    masked = Masked().eval()
    export(masked, (1, 1, 28, 28), f"{out}/masked.onnx", fold=False)
    compare(masked, f"{out}/masked.onnx", (1, 1, 28, 28))
    legacy(f"{out}/legacy.onnx")
    compare(None, f"{out}/legacy.onnx", (1, 1, 28, 28))
    dropped = randomise_norms(Dropped())
    torch.onnx.export(dropped, torch.randn(1, 1, 28, 28), f"{out}/train.onnx", opset_version=14,
                      training=torch.onnx.TrainingMode.TRAINING, do_constant_folding=False)
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        got, want = onnx_backbone.load(f"{out}/train.onnx", 1, (28, 28))(x), dropped.eval()(x)
    assert float((got - want).abs().max()) <= 1e-5 * float(want.abs().max()), "train.onnx"
    export(Saver().eval(), (1, 1, 28, 28), f"{out}/saver.onnx")
    export(CumSum().eval(), (1, 1, 28, 28), f"{out}/cumsum.onnx")
    export(ResNet(3).eval(), (1, 3, 32, 32), f"{out}/rgb32.onnx")
    with open(f"{out}/resnet.onnx", "rb") as f, open(f"{out}/corrupt.onnx", "wb") as g:
        g.write(f.read()[:3000])
    import torchvision
    for name in ("mobilenet_v3_small", "shufflenet_v2_x0_5", "squeezenet1_1", "densenet121"):
        model = randomise_norms(torchvision.models.get_model(name, weights=None, num_classes=10))
        export(model, (1, 3, 64, 64), f"{out}/{name}.onnx")
        compare(model, f"{out}/{name}.onnx", (1, 3, 64, 64))


if __name__ == "__main__":
    main(sys.argv[1])
