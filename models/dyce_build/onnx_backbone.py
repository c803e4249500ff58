"""--backbone FILE.onnx: a trained classifier exported to ONNX (by PyTorch,
tf2onnx, or any tool) as the frozen backbone.

The file's graph becomes an nn.Module that computes it with PyTorch
operators (onnx_ops.py, onnx_views.py), so the rest of the build treats it
as it treats a PyTorch backbone: torch.fx traces it, exits go where one
feature map carries everything forward, the stages are exported and
converted, and the engine check compares them with this module. Its
weights are the file's: never trained.

What the file computes from constants or from the input's *shape* (the
`x.view(x.size(0), -1)` pattern: Shape, Gather, Concat, ...) is folded
here, by running the graph at batch 1 and at batch 2 (numpy, fold_ops):
a value that differs between the two follows the batch size, and a
Reshape or Expand given one gets -1 in that dimension. Everything else
is a step of the module. Node names with '/' (PyTorch 2's
`/layer1/layer1.0/conv1/Conv`, tf2onnx's `model/block1/conv/Conv2D`)
become nested modules, so the network's blocks end exit positions as a
PyTorch module's do; flat names (PyTorch 1.13's `Conv_0`) give a flat
network, whose exit positions are the cuts before its convolutions.
"""

import os
import re

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from . import onnx_ops as ops, onnx_views as views
from .errors import BuildError
from .onnx_fold import fold

MAKERS = {
    "Conv": ops.conv, "BatchNormalization": ops.batch_norm, "Gemm": ops.gemm,
    "MatMul": ops.matmul, "Cast": ops.cast, "Clip": ops.clip, "PRelu": ops.prelu,
    "HardSigmoid": ops.hard_sigmoid,
    **{op: ops.binary(op) for op in ops.BINARY}, "Sum": ops.binary("Add"),
    **{op: ops.unary(op) for op in ops.UNARY},
    "MaxPool": views.pool("max"), "AveragePool": views.pool("avg"),
    "GlobalAveragePool": views.global_pool("avg"), "GlobalMaxPool": views.global_pool("max"),
    "Flatten": views.flatten, "Reshape": views.reshape, "Expand": views.expand,
    "Transpose": views.transpose, "Squeeze": views.squeeze, "Unsqueeze": views.unsqueeze,
    "Concat": views.concat, "Split": views.split, "Slice": views.slice_,
    "Gather": views.gather, "Pad": views.pad,
    **{op: views.reduce(op) for op in views.REDUCE},
    "Softmax": views.softmax(False), "LogSoftmax": views.softmax(True),
    "Resize": views.resize, "Upsample": views.resize,
    "LayerNormalization": views.layer_norm, "InstanceNormalization": views.instance_norm,
}


WEIGHTED = ("Conv", "Gemm", "MatMul")


class Step(nn.Module):
    """One node's PyTorch code, at the node's place in the module tree;
    torch.fx traces through it (its layers, e.g. an nn.Conv2d, stay
    layers). Not a block of the network: positions.py skips it."""
    dyce_op = True

    def __init__(self, fn, modules):
        super().__init__()
        self.fn = fn
        for i, m in enumerate(modules):
            self.add_module(f"m{i}" if i else "m", m)

    def forward(self, *xs):
        return self.fn(*xs)


class OnnxBackbone(nn.Module):
    """The file's graph; forward takes (N, C, H, W) images."""

    def __init__(self, steps, input_name, outputs, nhwc):
        super().__init__()
        self._plan = []   # (module path, input names, output names)
        weighted = []   # steps that compute with weights
        for path, module, inputs, out_names, op in steps:
            _attach(self, path, module)
            self._plan.append((path, inputs, out_names))
            if op in WEIGHTED:
                weighted.append(path)
        self._input, self._outputs, self._nhwc = input_name, outputs, nhwc
        # A folder of one step is one layer (PyTorch's /stem/stem.0/Conv),
        # not a block: like a Step, positions.py does not end a block there.
        # So is one without weights: a layer written as several nodes (a
        # GroupNorm, a SiLU, a LayerNorm before opset 17, Keras' batchnorm/).
        for name, folder in self.named_modules():
            if isinstance(folder, Folder):
                folder.dyce_op = _steps_in(folder) < 2 or not any(
                    p.startswith(name + ".") for p in weighted)

    def forward(self, x):
        env = {self._input: x.permute(0, 2, 3, 1) if self._nhwc else x}
        for path, inputs, out_names in self._plan:
            out = self.get_submodule(path)(*[env[n] for n in inputs])
            if len(out_names) == 1:
                env[out_names[0]] = out
            else:   # by index: under torch.fx, `out` is one proxy
                env.update((n, out[k]) for k, n in enumerate(out_names))
        outs = [env[n] for n in self._outputs]
        return outs[0] if len(outs) == 1 else tuple(outs)


class Folder(nn.Module):
    """A '/' level of the node names (a block of the network): never called,
    it holds the steps inside it. Its own class, not nn.Module: torch.fx
    takes plain torch.nn modules for layers, not blocks."""


def _steps_in(folder):
    return sum(_steps_in(m) if isinstance(m, Folder) else 1 for m in folder.children())


def _attach(root, path, module):
    parent = root
    *folders, leaf = path.split(".")
    for f in folders:
        if not hasattr(parent, f):
            parent.add_module(f, Folder())
        parent = getattr(parent, f)
    parent.add_module(leaf, module)


def _part(text):
    part = re.sub(r"\W", "_", text) or "op"
    return "op_" + part if hasattr(nn.Module, part) or part.startswith("_") else part


class _Names:
    """Module paths for nodes: '/'-separated names nest, others are flat."""

    def __init__(self, nodes):
        self.nested = any(len([p for p in n.name.split("/") if p]) > 1 for n in nodes)
        self.used = set()
        self.folders = set()

    def path(self, node, index):
        parts = [p for p in node.name.split("/") if p] if self.nested else [node.name]
        # PyTorch writes each level's full module path (/layer1/layer1.0/conv1):
        # the last part of it is the module's name (layer1.0.conv1, as in PyTorch)
        parts = [p[len(parts[k - 1]) + 1:] if k and p.startswith(parts[k - 1] + ".") else p
                 for k, p in enumerate(parts)]
        parts = [_part(p) for p in parts if p] or [f"{node.op_type}_{index}"]
        for k in range(1, len(parts)):   # a folder cannot also be a step
            while ".".join(parts[:k]) in self.used:
                parts[k - 1] += "_"
        base, n = ".".join(parts), 1
        path = base
        while path in self.used or path in self.folders:
            path, n = f"{base}_{n}", n + 1
        self.used.add(path)
        self.folders.update(".".join(parts[:k]) for k in range(1, len(parts)))
        return path


def _read(path, what):
    try:
        model = onnx.load(path)
    except Exception as err:  # noqa: BLE001 (protobuf's errors have no common type)
        other = getattr(err, "filename", None)
        if other and os.path.abspath(other) != os.path.abspath(path):
            # the graph read, its weights saved beside it (external data) not found
            raise BuildError(f"{what}: its weights are saved as external data and "
                             f"{other} cannot be read (keep the file onnx.save_model wrote "
                             "beside the .onnx)") from None
        raise BuildError(f"{what}: not an ONNX model ({type(err).__name__}: {err})") from None
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    if opset is None:
        raise BuildError(f"{what}: no ONNX operator set imported")
    return model, opset


def _input(graph, consts, what):
    inputs = [i for i in graph.input if i.name not in consts]
    if len(inputs) != 1:
        raise BuildError(f"{what}: {len(inputs)} inputs "
                         f"({', '.join(i.name for i in inputs)}); a classifier takes one image")
    kind = inputs[0].type.tensor_type.elem_type
    if kind not in ops.FLOATS:
        raise BuildError(f"{what}: its input '{inputs[0].name}' is of ONNX type "
                         f"{onnx.TensorProto.DataType.Name(kind)}; the builder gives it float "
                         "images (normalised by --mean/--std): export it with a float input")
    dims = [d.dim_value if d.HasField("dim_value") else None
            for d in inputs[0].type.tensor_type.shape.dim]
    if len(dims) != 4:
        raise BuildError(f"{what}: its input '{inputs[0].name}' has {len(dims)} "
                         "dimensions; an image batch has 4 (N, C, H, W or N, H, W, C)")
    return inputs[0].name, dims


def _layout(dims, channels, size, what):
    """(nhwc, H, W) of the input, checked against the data."""
    if dims[1] is not None and dims[1] <= 4:
        nhwc, c, hw = False, dims[1], dims[2:]
    elif dims[3] is not None and dims[3] <= 4:
        nhwc, c, hw = True, dims[3], dims[1:3]
    else:
        raise BuildError(f"{what}: cannot tell the channels of its input "
                         f"{dims} (expected N, C, H, W or N, H, W, C with C <= 4)")
    if c != channels:
        raise BuildError(f"{what} takes {c}-channel images and the data is "
                         f"{channels}-channel: pass --channels {c}")
    if any(v is not None and v != s for v, s in zip(hw, size)):
        raise BuildError(f"{what} takes {hw[0]}x{hw[1]} images and the data is "
                         f"{size[0]}x{size[1]}: pass --size {hw[0]}x{hw[1]}")
    return nhwc


def load(path, channels, size, option="--backbone"):
    """The OnnxBackbone of the file at `path` for (channels, size) images;
    `option` (--backbone, --savers) names it in errors."""
    what = f"{option} {path}"
    if not os.path.exists(path):
        raise BuildError(f"{what}: no such file")
    model, opset = _read(path, what)
    g = model.graph
    consts = {t.name: numpy_helper.to_array(t) for t in g.initializer}
    name, dims = _input(g, consts, what)
    nhwc = _layout(dims, channels, size, what)
    gen = torch.Generator().manual_seed(0)
    xs = [torch.randn((b, channels) + tuple(size), generator=gen) for b in (1, 2)]
    dyn = {name: [x.permute(0, 2, 3, 1) if nhwc else x for x in xs]}  # tensors at batch 1, 2
    sized = {}    # values computed from shapes or constants, at batch 1 and 2
    names, steps = _Names(g.node), []
    read = {i for node in g.node for i in node.input} | {o.name for o in g.output}
    for index, node in enumerate(g.node):
        where = f"node '{node.name or index}' ({node.op_type})"
        if node.domain not in ("", "ai.onnx"):
            raise BuildError(f"{what}: {where}: operator domain '{node.domain}' "
                             "is not ONNX's")
        a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
        a["_opset"], a["_outputs"] = opset, len(node.output)
        ins = list(node.input)
        live = [n for n in ins if n in dyn]
        if not live or (node.op_type in ("Shape", "Size") and ins[0] in dyn):
            try:
                outs = fold(node, a, [_value(n, consts, sized, dyn) for n in ins])
            except Exception as err:  # noqa: BLE001 (numpy's errors are many)
                raise BuildError(f"{what}: {where}: cannot fold it "
                                 f"({type(err).__name__}: {err})") from None
            for out_name, pair in zip(node.output, outs):
                if out_name:
                    sized[out_name] = pair
            continue
        maker = MAKERS.get(node.op_type)
        if maker is None:
            raise BuildError(f"{what}: {where}: the builder does not take this "
                             f"operator from ONNX files (it takes {', '.join(sorted(MAKERS))})")
        spec = [_spec(n, consts, sized, dyn) for n in ins]
        # Outputs no node reads are dropped from the end: a Dropout's mask, a
        # MaxPool's indices, the running statistics of a BatchNormalization
        # exported with training=TrainingMode.TRAINING (read, as the frozen
        # classifier it is, with its stored statistics: inference).
        out_names = list(node.output)
        while len(out_names) > 1 and out_names[-1] not in read:
            out_names.pop()
        try:
            fn, modules = maker(a, spec, len(out_names))
            step = modules[0] if len(modules) == 1 and fn is modules[0] else Step(fn, modules)
            results = []
            with torch.no_grad():
                for b in (0, 1):
                    results.append(step(*[dyn[n][b] for n in live]))
        except ops.Unsupported as err:
            raise BuildError(f"{what}: {where}: {err}") from None
        except Exception as err:  # noqa: BLE001
            hint = ("; the file was exported for a batch of one image and this node "
                    "holds that size: export it with a batch axis, e.g. torch.onnx.export(..., "
                    "dynamic_axes={'input': {0: 'batch'}})") if results and dims[0] == 1 else ""
            raise BuildError(f"{what}: {where}: cannot run it in PyTorch "
                             f"({type(err).__name__}: {str(err).splitlines()[0]}){hint}") from None
        for k, out_name in enumerate(out_names):
            if out_name:
                dyn[out_name] = [r if len(out_names) == 1 else r[k] for r in results]
        steps.append((names.path(node, index), step, live, out_names, node.op_type))
    outputs = [o.name for o in g.output]
    missing = [o for o in outputs if o not in dyn]
    if missing:
        raise BuildError(f"{what}: its output {missing[0]} does not depend on the image")
    return OnnxBackbone(steps, name, outputs, nhwc).eval()


def _value(n, consts, sized, dyn):
    """A folded node's input: (at batch 1, at batch 2), numpy; None if absent."""
    if not n:
        return None
    if n in consts:
        return (consts[n], consts[n])
    if n in sized:
        return sized[n]
    return tuple(t.detach().numpy() for t in dyn[n])   # a Shape's input


def _spec(n, consts, sized, dyn):
    if not n:
        return None
    if n in dyn:
        t1, t2 = dyn[n]
        return ops.In(True, shape=tuple(t1.shape), shape2=tuple(t2.shape))
    v1, v2 = (consts[n], consts[n]) if n in consts else sized[n]
    t1 = torch.from_numpy(np.array(v1))
    same = np.array_equal(v1, v2) and np.shape(v1) == np.shape(v2)
    t2 = None if same else torch.from_numpy(np.array(v2))
    return ops.In(False, t1, t2, tuple(t1.shape), tuple(t1.shape))

