"""Convert ONNX models exported by torch.onnx.export into `.dyce` packages.

    /usr/bin/python3 models/convert.py IN.onnx -o OUT.dyce [--labels FILE]
        [--name NAME] [--mean M1,M2,.. --std S1,.. --pixel-scale F] [--dump]

The ONNX graph (opset 13..17, batch 1, static shapes, NCHW float32) is lowered
to dyce's NHWC operators (docs/FORMAT.md): constant subgraphs are evaluated
with numpy, BatchNorm and bias Adds fold into the preceding conv / linear
layer, activations fuse into their producer, and Identity, Dropout and no-op
reshapes disappear. Anything that cannot be represented exactly raises
ConvertError naming the ONNX node and the reason; nothing is skipped.

`convert_graphs` builds a package of several graphs, each reading the package
input or the output of an earlier graph (GRPH.source).
"""

import argparse
import dataclasses
import os
import sys
from dataclasses import dataclass

import numpy as np
import onnx
from google.protobuf.message import DecodeError
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dyce_format as fmt  # noqa: E402  (sibling module, script-relative)

MIN_OPSET, MAX_OPSET = 13, 17
MAX_DIM = 65535
MAX_ELEMENTS = 2 ** 28
MAX_KERNEL = 1024        # also the limit of strides, dilations and padding
MAX_RECORDS = 65536      # tensors or nodes per graph
MAX_FILE_BYTES = 2 ** 30
FLOAT_MAX = float(np.finfo(np.float32).max)


class ConvertError(Exception):
    """A model that dyce cannot represent; the message says where and why."""


def _where(node):
    return f"node '{node.name or node.output[0]}' ({node.op_type})"


def _fail(node, reason):
    raise ConvertError(f"{_where(node)}: {reason}")


@dataclass
class _Op(fmt.Node):
    """A dyce node under construction: tensors are names, not indices yet."""
    origin: str = ""     # the ONNX node it came from, for error messages


# ------------------------------------------------------------ shape helpers

def _nhwc(shape):
    """dyce shape of an ONNX shape: (1,C,H,W) -> (1,H,W,C), (1,K) -> (1,1,1,K)."""
    if len(shape) == 4 and shape[0] == 1:
        return (1, shape[2], shape[3], shape[1])
    if len(shape) == 2 and shape[0] == 1:
        return (1, 1, 1, shape[1])
    if len(shape) == 3 and shape[0] == 1:       # (1, C, L): the positions as W
        return (1, 1, shape[2], shape[1])
    return None


def _reshape_target(src, spec, allowzero):
    """ONNX Reshape semantics: 0 copies the input dimension, -1 is inferred."""
    dims = [src[i] if d == 0 and not allowzero else int(d)
            for i, d in enumerate(spec)]
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = int(np.prod(src)) // max(known, 1)
    if int(np.prod(dims)) != int(np.prod(src)) or min(dims, default=0) < 0:
        raise ValueError(f"cannot reshape {tuple(src)} to {tuple(spec)}")
    return tuple(dims)


def _axes(axes, rank):
    return sorted(int(a) % rank for a in axes)


def _view_target(lw, node, attrs, src):
    """Output shape of Reshape / Flatten / Squeeze / Unsqueeze for input src."""
    op = node.op_type
    if op == "Reshape":
        return _reshape_target(src, lw.const(node, 1), attrs.get("allowzero", 0))
    if op == "Flatten":
        axis = attrs.get("axis", 1)
        axis += len(src) if axis < 0 else 0
        return (int(np.prod(src[:axis])), int(np.prod(src[axis:])))
    axes = lw.const(node, 1, required=op == "Unsqueeze")
    if op == "Squeeze":
        drop = (_axes(axes, len(src)) if axes is not None
                else [i for i, d in enumerate(src) if d == 1])
        if any(src[i] != 1 for i in drop):
            raise ValueError(f"cannot squeeze axes {drop} of {tuple(src)}")
        return tuple(d for i, d in enumerate(src) if i not in drop)
    out = list(src)                                   # Unsqueeze
    for a in _axes(axes, len(src) + len(axes)):
        out.insert(a, 1)
    return tuple(out)


def _pads(node, attrs, in_hw, kernel, strides, dilations):
    """(top, left, bottom, right) padding from `pads` or `auto_pad`."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "NOTSET":
        p = attrs.get("pads", [0, 0, 0, 0])
        pads = (p[0], p[1], p[2], p[3])
    elif auto == "VALID":
        pads = (0, 0, 0, 0)
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(in_hw, kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        pads = (begin[0], begin[1], end[0], end[1])
    else:
        _fail(node, f"unsupported auto_pad {auto}")
    if min(pads) < 0:
        _fail(node, f"negative padding {list(pads)}")
    return pads


def _window_out(node, size, k_eff, stride, pad_begin, pad_end):
    out = (size + pad_begin + pad_end - k_eff) // stride + 1
    if out < 1:
        _fail(node, f"window {k_eff} does not fit input size {size}")
    return out


# ------------------------------------------------------------ lowering state

def _declared_shapes(graph):
    """Fully static shapes the model itself declares (outputs, value_info)."""
    shapes = {}
    for info in list(graph.value_info) + list(graph.output):
        dims = info.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = tuple(d.dim_value for d in dims)
    return shapes


class _Lowering:
    """Walks the ONNX graph once, folding constants and emitting _Ops."""

    def __init__(self, graph):
        self.consts = {t.name: numpy_helper.to_array(t)
                       for t in graph.initializer}
        self.declared = _declared_shapes(graph)
        self.shapes = {}     # dynamic tensor name (ONNX) -> its ONNX shape
        self.alias = {}      # ONNX name -> name of the dyce tensor it equals
        self.ops = []
        self.used = ({i for n in graph.node for i in n.input}
                     | {o.name for o in graph.output})

    def resolve(self, name):
        return self.alias.get(name, name)

    def is_const(self, name):
        return self.resolve(name) in self.consts

    def const(self, node, i, required=True):
        """Constant input i of node (None if an absent optional input)."""
        if i >= len(node.input) or not node.input[i]:
            if required:
                _fail(node, f"input {i} is required")
            return None
        name = self.resolve(node.input[i])
        if name not in self.consts:
            _fail(node, f"input {i} '{node.input[i]}' must be a constant")
        return self.consts[name]

    def weight(self, node, i, required=True):
        """A float32 constant input (weights, biases, BN statistics)."""
        value = self.const(node, i, required)
        if value is not None and value.dtype != np.float32:
            _fail(node, f"input {i} has dtype {value.dtype}, expected float32")
        return value

    def tensor(self, node, i=0):
        """ONNX name of the computed (non-constant) input i of node."""
        if i >= len(node.input) or not node.input[i]:
            _fail(node, f"input {i} is required")
        name = node.input[i]
        if self.is_const(name):
            _fail(node, f"input {i} '{name}' is a constant; dyce needs a "
                        "computed tensor here")
        if name not in self.shapes:
            _fail(node, f"input '{name}' is not computed before this node")
        return name

    def shape(self, name):
        """ONNX shape; an alias keeps its own (e.g. (1, C) of (1, C, 1, 1))."""
        if self.is_const(name):
            return tuple(self.consts[self.resolve(name)].shape)
        return self.shapes[name]

    def set_shape(self, node, shape):
        """Record the shape of node's output, checking what the model says."""
        out, shape = node.output[0], tuple(int(d) for d in shape)
        if self.declared.get(out, shape) != shape:
            _fail(node, f"computed shape {shape} but the model declares "
                        f"{self.declared[out]}")
        self.shapes[out] = shape

    def emit(self, node, op, inputs, shape, **fields):
        """Add a dyce op computing node's first output with the given shape."""
        if _nhwc(shape) is None:
            _fail(node, f"result shape {tuple(shape)} is neither (1, C, H, W) "
                        "nor (1, K)")
        self.set_shape(node, shape)
        out = node.output[0]
        self.ops.append(_Op(op=op, inputs=[self.resolve(n) for n in inputs],
                            output=out, origin=_where(node), **fields))

    def make_alias(self, node, source, shape=None):
        """node's output is source's data; shape is its ONNX shape if computed."""
        self.alias[node.output[0]] = self.resolve(source)
        if shape is not None:
            self.set_shape(node, shape)

    def reject_extra_outputs(self, node):
        """Optional outputs (Dropout mask, MaxPool indices, BN stats) unused."""
        for name in node.output[1:]:
            if name and name in self.used:
                _fail(node, f"output '{name}' is used; only the first output "
                            "is supported")


# ------------------------------------------------------------ constant folding

def _fold_constant(lw, node, attrs):
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.array(attrs[key], dtype)
    _fail(node, "Constant without a numeric value")


def _fold_slice(lw, node, attrs):
    data, starts, ends = (lw.const(node, i) for i in range(3))
    axes = lw.const(node, 3, required=False)
    steps = lw.const(node, 4, required=False)
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    for start, end, axis, step in zip(starts, ends, axes, steps):
        size = data.shape[axis]
        start = int(start) + (size if start < 0 else 0)
        end = int(end) + (size if end < 0 else 0)
        if step > 0:          # clamping as the ONNX Slice spec defines it
            start, end = min(max(start, 0), size), min(max(end, 0), size)
        else:
            start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
        data = np.take(data, np.arange(start, end, int(step)), axis=int(axis))
    return data


def _fold_div(lw, node, attrs):
    x, y = lw.const(node, 0), lw.const(node, 1)
    if np.issubdtype(x.dtype, np.integer):
        return np.fix(x / y).astype(x.dtype)   # ONNX integer Div truncates
    return x / y


def _fold_constant_of_shape(lw, node, attrs):
    value = attrs.get("value")
    fill = (numpy_helper.to_array(value) if value is not None
            else np.zeros(1, np.float32))
    return np.full(tuple(lw.const(node, 0)), fill.ravel()[0], fill.dtype)


def _fold_expand(lw, node, attrs):
    x, shape = lw.const(node, 0), tuple(lw.const(node, 1))
    return np.broadcast_to(x, np.broadcast_shapes(x.shape, shape)).copy()


def _fold_view(lw, node, attrs):
    x = lw.const(node, 0)
    try:
        return x.reshape(_view_target(lw, node, attrs, x.shape))
    except ValueError as err:
        _fail(node, str(err))


def _values(lw, node):
    return [lw.const(node, i) for i in range(len(node.input))]


def _elementwise(fn):
    return lambda lw, node, attrs: fn(*_values(lw, node))


# op type -> (evaluator(lw, node, attrs), allowed attribute names)
_FOLD = {
    "Constant": (_fold_constant, {"value", "value_float", "value_floats",
                                  "value_int", "value_ints"}),
    "Shape": (lambda lw, node, attrs:
              np.array(lw.shape(node.input[0]), np.int64), set()),
    "Gather": (lambda lw, node, attrs: np.take(
        lw.const(node, 0), lw.const(node, 1), axis=attrs.get("axis", 0)),
        {"axis"}),
    "Concat": (lambda lw, node, attrs: np.concatenate(
        _values(lw, node), axis=attrs["axis"]), {"axis"}),
    "Cast": (lambda lw, node, attrs: lw.const(node, 0).astype(
        onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attrs["to"]]), {"to"}),
    "Slice": (_fold_slice, set()),
    "ConstantOfShape": (_fold_constant_of_shape, {"value"}),
    "Expand": (_fold_expand, set()),
    "Reshape": (_fold_view, {"allowzero"}),
    "Flatten": (_fold_view, {"axis"}),
    "Squeeze": (_fold_view, set()),
    "Unsqueeze": (_fold_view, set()),
    "Transpose": (lambda lw, node, attrs: np.transpose(
        lw.const(node, 0), attrs.get("perm")), {"perm"}),
    "Add": (_elementwise(np.add), set()),
    "Sub": (_elementwise(np.subtract), set()),
    "Mul": (_elementwise(np.multiply), set()),
    "Div": (_fold_div, set()),
    "Neg": (_elementwise(np.negative), set()),
    "Equal": (_elementwise(np.equal), set()),
    "Where": (_elementwise(np.where), set()),
    "Range": (_elementwise(np.arange), set()),
}


# ------------------------------------------------------------ lowering

def _lower_conv(lw, node, attrs):
    x = lw.tensor(node)
    w, b = lw.weight(node, 1), lw.weight(node, 2, required=False)
    shape = lw.shape(x)
    if len(shape) != 4 or w.ndim != 4:
        _fail(node, "only 2-D convolution of a (1, C, H, W) tensor")
    cout, cin_g, kh, kw = w.shape
    groups = attrs.get("group", 1)
    if list(attrs.get("kernel_shape", [kh, kw])) != [kh, kw]:
        _fail(node, f"kernel_shape {attrs['kernel_shape']} != weight shape")
    if shape[1] != cin_g * groups or cout % groups:
        _fail(node, f"weight {w.shape} with group={groups} does not match "
                    f"{shape[1]} input channels")
    if b is not None and b.shape != (cout,):
        _fail(node, f"bias shape {b.shape}, expected ({cout},)")
    sh, sw = attrs.get("strides", [1, 1])
    dh, dw = attrs.get("dilations", [1, 1])
    pads = _pads(node, attrs, shape[2:], (kh, kw), (sh, sw), (dh, dw))
    oh = _window_out(node, shape[2], dh * (kh - 1) + 1, sh, pads[0], pads[2])
    ow = _window_out(node, shape[3], dw * (kw - 1) + 1, sw, pads[1], pads[3])
    lw.emit(node, "conv2d", [x], (1, cout, oh, ow),
            weight=w.transpose(0, 2, 3, 1), bias=b,
            params=[kh, kw, sh, sw, *pads, dh, dw, groups])


def _lower_pool(lw, node, attrs):
    x = lw.tensor(node)
    lw.reject_extra_outputs(node)
    shape = lw.shape(x)
    kernel = attrs["kernel_shape"]
    if len(shape) != 4 or len(kernel) != 2:
        _fail(node, "only 2-D pooling of a (1, C, H, W) tensor")
    if attrs.get("ceil_mode", 0):
        _fail(node, "ceil_mode=1 is not supported (dyce pools in floor mode)")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        _fail(node, f"dilations {attrs['dilations']} are not supported")
    strides = attrs.get("strides", [1, 1])
    pads = _pads(node, attrs, shape[2:], kernel, strides, (1, 1))
    oh = _window_out(node, shape[2], kernel[0], strides[0], pads[0], pads[2])
    ow = _window_out(node, shape[3], kernel[1], strides[1], pads[1], pads[3])
    if node.op_type == "MaxPool" and list(kernel) == list(shape[2:]) and not any(pads):
        # nn.AdaptiveMaxPool2d(1): one window over everything
        return lw.emit(node, "global_max_pool", [x], (1, shape[1], 1, 1))
    params = [*kernel, *strides, *pads]
    if node.op_type == "AveragePool":
        params.append(attrs.get("count_include_pad", 0))
    op = "max_pool" if node.op_type == "MaxPool" else "avg_pool"
    lw.emit(node, op, [x], (1, shape[1], oh, ow), params=params)


def _lower_pad(lw, node, attrs):
    """Zero padding of H and W; a later pass merges it into its consumer."""
    x = lw.tensor(node)
    pads = [int(p) for p in lw.const(node, 1)]
    value = lw.const(node, 2, required=False)
    shape = lw.shape(x)
    if attrs.get("mode", "constant") != "constant" or (
            value is not None and float(value) != 0.0):
        _fail(node, "only zero padding (mode=constant, value 0) is supported")
    if len(shape) != 4 or pads[:2] + pads[4:6] != [0] * 4 or min(pads) < 0:
        _fail(node, f"pads {pads}: only non-negative padding of H and W")
    t, l, b, r = pads[2], pads[3], pads[6], pads[7]
    lw.emit(node, "pad", [x], (1, shape[1], shape[2] + t + b, shape[3] + l + r),
            params=[t, l, b, r])


_GLOBAL_POOL = {"GlobalAveragePool": "global_avg_pool", "ReduceMean": "global_avg_pool",
                "GlobalMaxPool": "global_max_pool", "ReduceMax": "global_max_pool"}


def _lower_global_pool(lw, node, attrs):
    x = lw.tensor(node)
    shape = lw.shape(x)
    if len(shape) != 4:
        _fail(node, f"input shape {shape} is not (1, C, H, W)")
    lw.emit(node, _GLOBAL_POOL[node.op_type], [x], (1, shape[1], 1, 1))


def _lower_reduce(lw, node, attrs):
    """ReduceMean / ReduceMax over the spatial axes -> a global pool."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    spatial = list(range(2, len(shape)))  # (1, C, H, W) or (1, C, H*W)
    what = "mean" if node.op_type == "ReduceMean" else "max"
    if len(shape) not in (3, 4) or _axes(attrs.get("axes", []), len(shape)) != spatial:
        _fail(node, f"only the {what} over the spatial axes of a (1, C, H, W) "
                    f"or (1, C, H*W) tensor (axes {attrs.get('axes')}, shape {shape})")
    out = ((1, shape[1]) + (1,) * len(spatial) if attrs.get("keepdims", 1)
           else (1, shape[1]))
    lw.emit(node, _GLOBAL_POOL[node.op_type], [x], out)


def _lower_concat(lw, node, attrs):
    """Concat of computed tensors along channels (axis 1 of NCHW, the last
    axis in NHWC). Over MAX_CONCAT_INPUTS inputs: a chain of concats."""
    names = [lw.tensor(node, i) for i in range(len(node.input))]
    shapes = [lw.shape(n) for n in names]
    rank = len(shapes[0])
    if rank not in (2, 3, 4) or attrs["axis"] % rank != 1:
        _fail(node, f"only concatenation along channels (axis 1) is "
                    f"supported, not axis {attrs['axis']} of {shapes[0]}")
    for name, shape in zip(names, shapes):
        if len(shape) != rank or shape[0] != 1 or shape[2:] != shapes[0][2:]:
            _fail(node, f"input '{name}' of shape {shape} does not match "
                        f"{shapes[0]} outside the channel axis")
    parts, rest = names, shapes[0][2:]
    while len(parts) > fmt.MAX_CONCAT_INPUTS:
        head, step = parts[:fmt.MAX_CONCAT_INPUTS], len(lw.ops)
        name = f"{node.output[0]}/concat{step}"
        lw.shapes[name] = (1, sum(lw.shape(n)[1] for n in head)) + rest
        lw.ops.append(_Op(op="concat", inputs=[lw.resolve(n) for n in head],
                          output=name, origin=_where(node)))
        parts = [name] + parts[fmt.MAX_CONCAT_INPUTS:]
    lw.emit(node, "concat", parts, (1, sum(s[1] for s in shapes)) + rest)


def _lower_erf(lw, node, attrs):
    """Erf as a placeholder that _fuse_gelu must turn into a GELU."""
    x = lw.tensor(node)
    lw.emit(node, "erf", [x], lw.shape(x))


def _lower_gemm(lw, node, attrs):
    x = lw.tensor(node)
    b, c = lw.weight(node, 1), lw.weight(node, 2, required=False)
    if attrs.get("transA", 0):
        _fail(node, "transA=1 is not supported")
    w = b if attrs.get("transB", 0) else b.T
    w = w * np.float32(attrs.get("alpha", 1.0))
    if c is not None:
        try:
            c = np.broadcast_to(c, (1, w.shape[0])).ravel()
        except ValueError:
            _fail(node, f"bias shape {c.shape} does not broadcast to "
                        f"(1, {w.shape[0]})")
        c = c * np.float32(attrs.get("beta", 1.0))
    _fully_connected(lw, node, x, w, c)


def _lower_matmul(lw, node, attrs):
    x = lw.tensor(node)
    w = lw.weight(node, 1)
    if w.ndim != 2:
        _fail(node, f"weight shape {w.shape} is not (K, N)")
    _fully_connected(lw, node, x, w.T, None)


def _fully_connected(lw, node, x, w, bias):
    shape = lw.shape(x)
    if len(shape) != 2 or w.ndim != 2 or w.shape[1] != shape[1]:
        _fail(node, f"input {shape} and weight {w.shape} (N, K) do not form "
                    "a (1, K) x (K, N) product")
    lw.emit(node, "fully_connected", [x], (1, w.shape[0]), weight=w, bias=bias)


def _lower_batchnorm(lw, node, attrs):
    """Eval-mode BatchNorm as x * scale + shift; may fold into a conv later."""
    x = lw.tensor(node)
    lw.reject_extra_outputs(node)
    if attrs.get("training_mode", 0):
        _fail(node, "training_mode=1 is not supported")
    gamma, beta, mean, var = (lw.weight(node, i).astype(np.float64)
                              for i in range(1, 5))
    shape = lw.shape(x)
    if len(shape) not in (2, 4) or gamma.shape != (shape[1],):
        _fail(node, f"parameters of shape {gamma.shape} for input {shape}")
    scale = gamma / np.sqrt(var + attrs.get("epsilon", 1e-5))
    lw.emit(node, "channel_affine", [x], shape, weight=scale,
            bias=beta - mean * scale)


def _constant_operand(node, k, shape):
    """Constant second operand of add/mul as 1, C or H*W*C floats (NHWC)."""
    if np.broadcast_shapes(k.shape, shape) != tuple(shape):
        _fail(node, f"constant of shape {k.shape} would broadcast the "
                    f"{tuple(shape)} tensor to a larger shape")
    if k.size == 1:
        return k.reshape(1)
    padded = k.reshape((1,) * (len(shape) - k.ndim) + k.shape)
    if all(d == 1 for i, d in enumerate(padded.shape) if i != 1):
        return np.broadcast_to(padded, shape[:2] + (1,) * (len(shape) - 2)).ravel()
    full = np.broadcast_to(padded, shape)
    return full.transpose(0, 2, 3, 1).ravel() if len(shape) == 4 else full.ravel()


def _lower_binary(lw, node, attrs):
    """Add / Mul (and Sub / Div by a constant) -> dyce add or mul."""
    op = "add" if node.op_type in ("Add", "Sub") else "mul"
    const = [lw.is_const(name) for name in node.input]
    if not any(const):
        if node.op_type in ("Sub", "Div"):
            _fail(node, "only a constant second operand is supported")
        return _tensor_binary(lw, node, op)
    if const[0] and node.op_type in ("Sub", "Div"):
        _fail(node, "a constant first operand is not supported")
    x = lw.tensor(node, const.index(False))
    k = lw.weight(node, const.index(True)).astype(np.float64)
    if node.op_type == "Sub":
        k = -k
    elif node.op_type == "Div":
        k = 1.0 / k
    shape = lw.shape(x)
    lw.emit(node, op, [x], shape, weight=_constant_operand(node, k, shape))


def _tensor_binary(lw, node, op):
    a, b = lw.tensor(node, 0), lw.tensor(node, 1)
    sa, sb = lw.shape(a), lw.shape(b)
    if len(sa) == 4 and sa == (1, sa[1], 1, 1) and sa != sb:
        (a, sa), (b, sb) = (b, sb), (a, sa)   # commutative: vector second
    if sb != sa and not (len(sa) == 4 and sb == (1, sa[1], 1, 1)):
        _fail(node, f"operand shapes {sa} and {sb}: need equal shapes or a "
                    "(1, C, 1, 1) per-channel operand")
    lw.emit(node, op, [a, b], sa)


def _clip_bounds(lw, node):
    low = lw.const(node, 1, required=False)
    high = lw.const(node, 2, required=False)
    low = float(low) if low is not None else -FLOAT_MAX
    high = float(high) if high is not None else FLOAT_MAX
    return max(low, -FLOAT_MAX), min(high, FLOAT_MAX)


def _activation(lw, node, attrs):
    """(act, a, b) of an ONNX activation node."""
    op = node.op_type
    if op == "Clip":
        low, high = _clip_bounds(lw, node)
        if low > high:
            _fail(node, f"min {low} > max {high}")
        return ("relu", 0.0, 0.0) if (low, high) == (0.0, FLOAT_MAX) else (
            "clip", low, high)
    if op == "HardSigmoid":
        return "hard_sigmoid", attrs.get("alpha", 0.2), attrs.get("beta", 0.5)
    if op == "LeakyRelu":
        return "leaky_relu", attrs.get("alpha", 0.01), 0.0
    if op == "Elu":
        return "elu", attrs.get("alpha", 1.0), 0.0
    simple = {"Relu": "relu", "Sigmoid": "sigmoid", "HardSwish": "hard_swish",
              "Tanh": "tanh", "Softplus": "softplus"}
    return simple[op], 0.0, 0.0


def _lower_activation(lw, node, attrs):
    x = lw.tensor(node)
    act, a, b = _activation(lw, node, attrs)
    lw.emit(node, "activation", [x], lw.shape(x), act=act, act_a=a, act_b=b)


def _lower_view(lw, node, attrs):
    """Reshape-like ops: an alias when the NHWC data is unchanged, else flatten."""
    x = lw.tensor(node)
    src = lw.shape(x)
    try:
        dst = _view_target(lw, node, attrs, src)
    except ValueError as err:
        _fail(node, str(err))
    if _nhwc(dst) is not None and _nhwc(dst) == _nhwc(src):
        lw.make_alias(node, x, dst)
    elif len(src) == 4 and dst == (1, src[1], src[2] * src[3]):
        # x.flatten(2) / x.view(n, c, -1): the NHWC bytes of (1, H, W, C)
        # are those of (1, 1, H*W, C), so the view is the same tensor
        lw.make_alias(node, x, dst)
    elif len(src) == 4 and dst == (1, int(np.prod(src))):
        lw.emit(node, "flatten", [x], dst)
    else:
        _fail(node, f"reshape {src} -> {dst}: only flattening (1, C, H, W) "
                    "to (1, C*H*W) or (1, C, H*W), or dropping unit H, W "
                    "dimensions")


def _lower_softmax(lw, node, attrs):
    x = lw.tensor(node)
    shape = lw.shape(x)
    if attrs.get("axis", -1) % len(shape) != 1:
        _fail(node, f"softmax axis {attrs.get('axis', -1)} of {shape} is not "
                    "the channel axis")
    lw.emit(node, "softmax", [x], shape)


def _lower_identity(lw, node, attrs):
    lw.reject_extra_outputs(node)
    if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2] \
            and lw.const(node, 2).any():
        _fail(node, "training_mode=True is not supported")
    source = node.input[0]
    lw.make_alias(node, source,
                  None if lw.is_const(source) else lw.shape(source))


_POOL_ATTRS = {"auto_pad", "ceil_mode", "kernel_shape", "pads", "strides"}
_NO_ATTRS = set()
# op type -> (lowering(lw, node, attrs), allowed attribute names)
_LOWER = {
    "Conv": (_lower_conv, {"auto_pad", "dilations", "group", "kernel_shape",
                           "pads", "strides"}),
    "MaxPool": (_lower_pool, _POOL_ATTRS | {"dilations", "storage_order"}),
    "AveragePool": (_lower_pool, _POOL_ATTRS | {"count_include_pad"}),
    "Pad": (_lower_pad, {"mode"}),
    "GlobalAveragePool": (_lower_global_pool, _NO_ATTRS),
    "GlobalMaxPool": (_lower_global_pool, _NO_ATTRS),
    "ReduceMean": (_lower_reduce, {"axes", "keepdims"}),
    "ReduceMax": (_lower_reduce, {"axes", "keepdims"}),
    "Concat": (_lower_concat, {"axis"}),
    "Erf": (_lower_erf, _NO_ATTRS),
    "Gemm": (_lower_gemm, {"alpha", "beta", "transA", "transB"}),
    "MatMul": (_lower_matmul, _NO_ATTRS),
    "BatchNormalization": (_lower_batchnorm, {"epsilon", "momentum",
                                              "training_mode"}),
    "Add": (_lower_binary, _NO_ATTRS),
    "Mul": (_lower_binary, _NO_ATTRS),
    "Sub": (_lower_binary, _NO_ATTRS),
    "Div": (_lower_binary, _NO_ATTRS),
    "Relu": (_lower_activation, _NO_ATTRS),
    "Clip": (_lower_activation, _NO_ATTRS),
    "Sigmoid": (_lower_activation, _NO_ATTRS),
    "HardSigmoid": (_lower_activation, {"alpha", "beta"}),
    "HardSwish": (_lower_activation, _NO_ATTRS),
    "LeakyRelu": (_lower_activation, {"alpha"}),
    "Tanh": (_lower_activation, _NO_ATTRS),
    "Elu": (_lower_activation, {"alpha"}),
    "Softplus": (_lower_activation, _NO_ATTRS),
    "Reshape": (_lower_view, {"allowzero"}),
    "Flatten": (_lower_view, {"axis"}),
    "Squeeze": (_lower_view, _NO_ATTRS),
    "Unsqueeze": (_lower_view, _NO_ATTRS),
    "Softmax": (_lower_softmax, {"axis"}),
    "Identity": (_lower_identity, _NO_ATTRS),
    "Dropout": (_lower_identity, {"seed"}),
}


def _attributes(node, allowed):
    attrs = {}
    for a in node.attribute:
        if a.name not in allowed:
            _fail(node, f"attribute '{a.name}' is not supported")
        value = onnx.helper.get_attribute_value(a)
        attrs[a.name] = value.decode() if isinstance(value, bytes) else value
    return attrs


def _lower_node(lw, node):
    if node.domain not in ("", "ai.onnx"):
        _fail(node, f"operator domain '{node.domain}' is not supported")
    inputs = [name for name in node.input if name]
    foldable = node.op_type == "Shape" or all(map(lw.is_const, inputs))
    if node.op_type in _FOLD and foldable:
        evaluate, allowed = _FOLD[node.op_type]
        lw.consts[node.output[0]] = np.asarray(
            evaluate(lw, node, _attributes(node, allowed)))
    elif node.op_type in _LOWER:
        lower, allowed = _LOWER[node.op_type]
        lower(lw, node, _attributes(node, allowed))
    elif node.op_type in _FOLD:
        _fail(node, "supported only on constant inputs")
    else:
        _fail(node, "unsupported operator")


# ------------------------------------------------------------ graph passes

def _consumers(ops, output):
    """tensor name -> ops reading it; the graph output counts as a reader."""
    readers = {output: [None]}
    for op in ops:
        for name in op.inputs:
            readers.setdefault(name, []).append(op)
    return readers


def _sole_producer(ops, tensor, output):
    """The op producing tensor if tensor has exactly one reader and is not
    the graph output, i.e. the producer may be rewritten in place."""
    if len(_consumers(ops, output).get(tensor, [])) != 1:
        return None
    return next((op for op in ops if op.output == tensor), None)


def _fusable_producer(ops, tensor, output, kinds):
    """As _sole_producer, and only an op of kinds without a fused activation."""
    prev = _sole_producer(ops, tensor, output)
    return prev if prev and prev.op in kinds and prev.act == "none" else None


def _absorb_pads(ops, output):
    """Merge each zero Pad into its only consumer, a conv or avg pool."""
    for pad in [op for op in ops if op.op == "pad"]:
        readers = _consumers(ops, output).get(pad.output, [])
        target = readers[0] if len(readers) == 1 else None
        if target is None or target.op not in ("conv2d", "avg_pool"):
            raise ConvertError(f"{pad.origin}: zero padding is supported only "
                               "as the sole input of a Conv or AveragePool")
        own = target.params[4:8]
        if target.op == "avg_pool":
            if any(own) and not target.params[8]:
                raise ConvertError(f"{target.origin}: cannot combine explicit "
                                   "Pad with count_include_pad=0 padding")
            target.params[8] = 1   # padded zeros are real cells of the window
        target.params[4:8] = [p + q for p, q in zip(own, pad.params)]
        target.inputs = [pad.inputs[0]]
        ops.remove(pad)


def _fuse_gate_patterns(ops, output):
    """x * sigmoid(x) -> silu(x) and x * hard_sigmoid(x, 1/6, 1/2) -> hard_swish."""
    for mul in [op for op in ops if op.op == "mul" and len(op.inputs) == 2]:
        for gate_name, x in (mul.inputs, mul.inputs[::-1]):
            gate = _sole_producer(ops, gate_name, output)
            if gate is None or gate.op != "activation" or gate.inputs[0] != x:
                continue
            if gate.act == "sigmoid":
                act = "silu"
            elif (gate.act == "hard_sigmoid" and abs(gate.act_a - 1 / 6) < 1e-6
                  and abs(gate.act_b - 0.5) < 1e-6):
                act = "hard_swish"
            else:
                continue
            mul.op, mul.inputs, mul.act = "activation", [x], act
            ops.remove(gate)
            break


def _scalar_op(op, kind, value):
    """op is an add / mul (kind) of one tensor and the scalar `value`."""
    return (op is not None and op.op == kind and len(op.inputs) == 1
            and op.act == "none" and op.weight is not None
            and np.size(op.weight) == 1
            and abs(float(np.ravel(op.weight)[0]) - value) <= 1e-6 * abs(value))


def _only_reader(ops, tensor, output):
    """The one op reading tensor, if it is not also the graph output."""
    readers = _consumers(ops, output).get(tensor, [])
    return readers[0] if len(readers) == 1 else None


def _half_product(ops, x, one_plus, output):
    """The ops computing x * one_plus * 0.5 in any of the orders torch and
    people write it (the op giving the result last), or None."""
    r = _only_reader(ops, one_plus, output)
    if _scalar_op(r, "mul", 0.5):                    # x * ((1 + f) * 0.5)
        m = _only_reader(ops, r.output, output)
        ok = (m is not None and m.op == "mul" and m.act == "none"
              and sorted(m.inputs) == sorted([x, r.output]))
        return [r, m] if ok else None
    if r is None or r.op != "mul" or len(r.inputs) != 2 or r.act != "none":
        return None
    other = r.inputs[0] if r.inputs[1] == one_plus else r.inputs[1]
    if other == x:                                   # (x * (1 + f)) * 0.5
        m = _only_reader(ops, r.output, output)
        return [r, m] if _scalar_op(m, "mul", 0.5) else None
    half = _sole_producer(ops, other, output)        # (x * 0.5) * (1 + f)
    return [half, r] if _scalar_op(half, "mul", 0.5) and half.inputs == [x] else None


def _replace_by_activation(ops, chain, x, act):
    """chain (ops computing act(x), the result last) -> one activation op."""
    at = min(ops.index(op) for op in chain)
    fused = _Op(op="activation", inputs=[x], output=chain[-1].output, act=act,
                origin=chain[-1].origin)
    for op in chain:
        ops.remove(op)
    ops.insert(at, fused)


def _fuse_gelu(ops, output):
    """x * (1 + erf(x / sqrt 2)) / 2 (nn.GELU()) -> gelu; an Erf in any other
    form is refused. x * (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2
    (nn.GELU(approximate='tanh'), x^3 as x * (x * x)) -> gelu_tanh; any
    other tanh stays a tanh."""
    for erf in [op for op in ops if op.op == "erf"]:
        scale = _sole_producer(ops, erf.inputs[0], output)
        plus = _only_reader(ops, erf.output, output)
        chain = None
        if _scalar_op(scale, "mul", 0.5 ** 0.5) and _scalar_op(plus, "add", 1.0):
            chain = _half_product(ops, scale.inputs[0], plus.output, output)
        if chain is None:
            raise ConvertError(f"{erf.origin}: Erf is supported only as part "
                               "of GELU, x * (1 + erf(x / sqrt(2))) / 2")
        _replace_by_activation(ops, [scale, erf, plus] + chain, scale.inputs[0],
                               "gelu")
    for tanh in [op for op in ops if op.op == "activation" and op.act == "tanh"]:
        beta = _sole_producer(ops, tanh.inputs[0], output)
        if not _scalar_op(beta, "mul", (2 / np.pi) ** 0.5):
            continue
        inner = _sole_producer(ops, beta.inputs[0], output)   # x + k x^3
        if inner is None or inner.op != "add" or len(inner.inputs) != 2:
            continue
        for x, cube_k in (inner.inputs, inner.inputs[::-1]):
            kappa = _sole_producer(ops, cube_k, output)
            cube = kappa and _sole_producer(ops, kappa.inputs[0], output)
            if not (_scalar_op(kappa, "mul", 0.044715) and cube and cube.op == "mul"
                    and len(cube.inputs) == 2 and x in cube.inputs):
                continue
            other = cube.inputs[1] if cube.inputs[0] == x else cube.inputs[0]
            square = _sole_producer(ops, other, output)
            plus = _only_reader(ops, tanh.output, output)
            if not (square and square.op == "mul" and square.inputs == [x, x]
                    and _scalar_op(plus, "add", 1.0)):
                continue
            chain = _half_product(ops, x, plus.output, output)
            if chain:
                _replace_by_activation(
                    ops, [square, cube, kappa, inner, beta, tanh, plus] + chain,
                    x, "gelu_tanh")
            break


def _fold_affine(ops, output):
    """channel_affine (BatchNorm) after conv / fully_connected -> new weights."""
    for affine in [op for op in ops if op.op == "channel_affine"]:
        prev = _fusable_producer(ops, affine.inputs[0], output,
                                 ("conv2d", "fully_connected"))
        if prev is None:
            continue
        scale = affine.weight.astype(np.float64)
        bias = prev.bias if prev.bias is not None else 0.0
        shape = (-1,) + (1,) * (prev.weight.ndim - 1)
        prev.weight = prev.weight.astype(np.float64) * scale.reshape(shape)
        prev.bias = np.asarray(bias, np.float64) * scale + affine.bias
        prev.output = affine.output
        ops.remove(affine)


def _fold_bias_add(ops, output):
    """add of a scalar / per-channel constant after conv / fc -> its bias."""
    for add in [op for op in ops if op.op == "add" and len(op.inputs) == 1]:
        prev = _fusable_producer(ops, add.inputs[0], output,
                                 ("conv2d", "fully_connected"))
        if prev is None or add.weight.size not in (1, prev.weight.shape[0]):
            continue
        bias = prev.bias if prev.bias is not None else 0.0
        prev.bias = (np.asarray(bias, np.float64)
                     + np.broadcast_to(add.weight, prev.weight.shape[:1]))
        prev.output = add.output
        ops.remove(add)


_FUSE_INTO = ("conv2d", "fully_connected", "add", "mul", "channel_affine")


def _fuse_activations(ops, output):
    for act in [op for op in ops if op.op == "activation"]:
        prev = _fusable_producer(ops, act.inputs[0], output, _FUSE_INTO)
        if prev is None:
            continue
        prev.act, prev.act_a, prev.act_b = act.act, act.act_a, act.act_b
        prev.output = act.output
        ops.remove(act)


def _prune(ops, output):
    """Drop ops whose results never reach the output."""
    needed, kept = {output}, []
    for op in reversed(ops):
        if op.output in needed:
            kept.append(op)
            needed.update(op.inputs)
    return kept[::-1]


# ------------------------------------------------------------ emission

def _check_shape(where, shape):
    if max(shape) > MAX_DIM or int(np.prod(shape)) > MAX_ELEMENTS:
        raise ConvertError(f"{where}: shape {shape} exceeds the dyce limits "
                           f"(dimensions <= {MAX_DIM}, <= 2^28 elements)")


def _check_pool_padding(op):
    """A max pool or a count_include_pad=0 average pool needs a real cell in
    every window (else no max / a zero divisor): padding < kernel ensures it."""
    padding_counts = op.op == "avg_pool" and op.params[8]
    if op.op == "conv2d" or padding_counts:
        return
    kh, kw, (pt, pl, pb, pr) = op.params[0], op.params[1], op.params[4:8]
    if max(pt, pb) >= kh or max(pl, pr) >= kw:
        raise ConvertError(f"{op.origin}: padding {[pt, pl, pb, pr]} must be "
                           f"smaller than the kernel {kh}x{kw}")


def _check_op(op, shapes):
    """Parameters, weights and result shape within what the loader accepts."""
    if op.op in ("conv2d", "max_pool", "avg_pool"):
        windows = op.params[:4] + (op.params[8:10] if op.op == "conv2d" else [])
        if not all(1 <= v <= MAX_KERNEL for v in windows):
            raise ConvertError(f"{op.origin}: kernel / stride / dilation "
                               f"{windows} outside 1..{MAX_KERNEL}")
        if max(op.params[4:8]) > MAX_KERNEL:
            raise ConvertError(f"{op.origin}: padding {op.params[4:8]} "
                               f"exceeds {MAX_KERNEL}")
        _check_pool_padding(op)
    values = [np.float32(op.act_a), np.float32(op.act_b)] + [
        np.asarray(w, np.float32) for w in (op.weight, op.bias) if w is not None]
    if not all(np.all(np.isfinite(v)) for v in values):
        raise ConvertError(f"{op.origin}: non-finite weight or parameter")
    _check_shape(op.origin, shapes[op.output])


def _to_graph(name, lw, inp, out, ops):
    """Number the tensors and turn _Ops into a dyce_format.Graph."""
    index = {inp: 0}
    for op in ops:
        index[op.output] = len(index)
    shapes = [_nhwc(lw.shapes[t]) for t in index]
    _check_shape(f"graph '{name}' input", shapes[0])
    if len(index) > MAX_RECORDS or len(ops) > MAX_RECORDS:
        raise ConvertError(f"graph '{name}': {len(index)} tensors / {len(ops)}"
                           f" nodes exceed the limit {MAX_RECORDS}")
    nodes = []
    for op in ops:
        _check_op(op, lw.shapes)
        nodes.append(dataclasses.replace(
            op, inputs=[index[t] for t in op.inputs], output=index[op.output],
            weight=None if op.weight is None else np.asarray(op.weight, np.float32),
            bias=None if op.bias is None else np.asarray(op.bias, np.float32)))
    return fmt.Graph(name, fmt.NONE, shapes, nodes, 0, index[out])


def _graph_input(graph, initializers):
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ConvertError(f"the model has {len(inputs)} non-constant inputs, "
                           "expected 1")
    tensor_type = inputs[0].type.tensor_type
    dims = tensor_type.shape.dim
    if tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ConvertError(f"input '{inputs[0].name}' is not float32")
    if not dims or any(not d.HasField("dim_value") for d in dims):
        raise ConvertError(f"input '{inputs[0].name}' has a dynamic or "
                           "unknown shape; export with fixed sizes")
    shape = tuple(d.dim_value for d in dims)
    if _nhwc(shape) is None:
        raise ConvertError(f"input '{inputs[0].name}' shape {shape} is not "
                           "(1, C, H, W) or (1, K) (batch must be 1)")
    return inputs[0].name, shape


def _check_opset(model):
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and not (
                MIN_OPSET <= imp.version <= MAX_OPSET):
            raise ConvertError(f"opset {imp.version} is not supported "
                               f"(need {MIN_OPSET}..{MAX_OPSET})")


def convert_graph(model, name="main"):
    """One ONNX model (ModelProto or path) -> (dyce_format.Graph, ONNX input
    shape). The Graph's source is NONE; convert_graphs sets it."""
    if not isinstance(model, onnx.ModelProto):
        model = onnx.load(os.fspath(model))
    _check_opset(model)
    graph = model.graph
    lw = _Lowering(graph)
    inp, in_shape = _graph_input(graph, lw.consts)
    lw.shapes[inp] = in_shape
    if len(graph.output) != 1:
        raise ConvertError(f"the model has {len(graph.output)} outputs, "
                           "expected 1")
    for node in graph.node:
        _lower_node(lw, node)
    out = lw.resolve(graph.output[0].name)
    if graph.output[0].name not in lw.shapes or out == inp:
        raise ConvertError(f"output '{graph.output[0].name}' is not computed "
                           "from the input by any supported node")
    ops = _prune(lw.ops, out)
    for rewrite in (_absorb_pads, _fuse_gelu, _fuse_gate_patterns, _fold_affine,
                    _fold_bias_add, _fuse_activations):
        rewrite(ops, out)
    return _to_graph(name, lw, inp, out, ops), in_shape


# ------------------------------------------------------------ packages

def _input_spec(shape, spec):
    """InputSpec for package input shape (1, C, H, W) and user overrides."""
    _, c, h, w = shape
    spec = dict(spec or {})
    mean = list(spec.pop("mean", [0.0] * c))
    std = list(spec.pop("std", [1.0] * c))
    scale = float(spec.pop("pixel_scale", 1.0 / 255.0))
    if spec:
        raise ConvertError(f"unknown input_spec keys {sorted(spec)}")
    mean, std = (v * c if len(v) == 1 else v for v in (mean, std))
    if not 1 <= c <= 4 or len(mean) != c or len(std) != c:
        raise ConvertError(f"input has {c} channels: need 1..4 channels and "
                           f"as many mean ({len(mean)}) / std ({len(std)})")
    values = np.array(mean + std + [scale], np.float32)
    if not np.all(np.isfinite(values)) or min(std) <= 0 or scale <= 0:
        raise ConvertError("mean, std and pixel_scale must be finite, std "
                           "and pixel_scale > 0")
    return fmt.InputSpec(h, w, c, mean, std, scale)


def _check_labels(graphs, labels):
    """Every leaf graph (an exit, saver or head) classifies into the labels."""
    if not labels:
        return
    sources = {g.source for g in graphs}
    for i, g in enumerate(graphs):
        size = int(np.prod(g.shapes[g.output]))
        if i not in sources and size != len(labels):
            raise ConvertError(f"graph '{g.name}' outputs {size} values but "
                               f"there are {len(labels)} labels")


def _level_entries(graphs, index, level):
    """LEVL entries of one level: {"name", "widths": {graph: [channels of
    each dense conv / fully connected node, in graph order]}}."""
    name, widths = level.get("name"), level.get("widths", {})
    entries = []
    for gname, channels in widths.items():
        if gname not in index:
            raise ConvertError(f"width level '{name}': no graph '{gname}'")
        g = graphs[index[gname]]
        dense = [j for j, n in enumerate(g.nodes) if fmt.is_dense(n)]
        if len(channels) != len(dense):
            raise ConvertError(
                f"width level '{name}': graph '{gname}' has {len(dense)} dense "
                f"conv / fully connected nodes, {len(channels)} widths given")
        for j, c in zip(dense, channels):
            full = g.shapes[g.nodes[j].output][3]
            if not 1 <= int(c) <= full:
                raise ConvertError(f"width level '{name}': graph '{gname}' "
                                   f"node {j}: width {c} outside 1..{full}")
            if int(c) != full:
                entries.append((index[gname], j, int(c)))
    return name, entries


def convert_graphs(specs, labels=None, input_spec=None, levels=None):
    """Build a package from [(name, onnx model or path, source name or None)].

    A graph with a source reads the output of that earlier graph; None reads
    the package input (1, C, H, W). input_spec: optional dict with mean, std
    (lists of C floats) and pixel_scale. levels: optional width levels (REDS)
    [{"name": "w100", "widths": {}}, {"name": "w50", "widths": {graph name:
    [channels of each dense conv / fully connected node in graph order]}}];
    the first is the stored network and takes no widths. Returns the
    package bytes.
    """
    graphs, index, package_shape = [], {}, None
    for name, model, source in specs:
        if name in index:
            raise ConvertError(f"duplicate graph name '{name}'")
        try:
            graph, shape = convert_graph(model, name)
        except ConvertError as err:
            raise ConvertError(f"graph '{name}': {err}") from None
        if source is None:
            if len(shape) != 4:
                raise ConvertError(f"graph '{name}': input {shape} is not an "
                                   "image (1, C, H, W)")
            if package_shape not in (None, shape):
                raise ConvertError(f"graph '{name}': input {shape} differs "
                                   f"from the package input {package_shape}")
            package_shape = shape
        elif source not in index:
            raise ConvertError(f"graph '{name}': source '{source}' is not an "
                               "earlier graph")
        else:
            graph.source = index[source]
            src = graphs[graph.source]
            if src.shapes[src.output] != graph.shapes[graph.input]:
                raise ConvertError(
                    f"graph '{name}': input {graph.shapes[graph.input]} != "
                    f"output {src.shapes[src.output]} of '{source}' (NHWC)")
        index[name] = len(graphs)
        graphs.append(graph)
    if package_shape is None:
        raise ConvertError("no graph reads the package input (source None)")
    _check_labels(graphs, labels)
    try:
        level_list = [_level_entries(graphs, index, lv) for lv in levels or []]
        if level_list and level_list[0][1]:
            raise ConvertError(f"width level '{level_list[0][0]}' comes first: "
                               "it must be the stored network, with no widths")
        data = fmt.write_package(graphs, _input_spec(package_shape, input_spec),
                                 labels, level_list)
    except ValueError as err:
        raise ConvertError(str(err)) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConvertError(f"package of {len(data)} bytes exceeds the limit "
                           f"{MAX_FILE_BYTES}")
    return data


def read_labels(path):
    """One label per line; trailing blank lines are ignored."""
    with open(path, encoding="utf-8") as f:
        lines = [line.rstrip("\r\n") for line in f]
    while lines and not lines[-1].strip():
        lines.pop()
    for i, line in enumerate(lines):
        if not line.strip():
            raise ConvertError(f"{path}:{i + 1}: empty label")
    return lines


def _floats(text):
    return [float(v) for v in text.split(",")]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("onnx", help="input ONNX model")
    parser.add_argument("-o", "--output", required=True, help="output .dyce")
    parser.add_argument("--labels", help="file with one class label per line")
    parser.add_argument("--name", default="main", help="graph name")
    parser.add_argument("--mean", type=_floats, help="per-channel means")
    parser.add_argument("--std", type=_floats, help="per-channel stds")
    parser.add_argument("--pixel-scale", type=float,
                        help="input = pixel * scale (default 1/255)")
    parser.add_argument("--dump", action="store_true",
                        help="print a summary of the written package")
    args = parser.parse_args(argv)
    spec = {k: v for k, v in (("mean", args.mean), ("std", args.std),
                              ("pixel_scale", args.pixel_scale)) if v is not None}
    prog = os.path.basename(sys.argv[0])
    try:
        labels = read_labels(args.labels) if args.labels else None
        data = convert_graphs([(args.name, args.onnx, None)], labels, spec)
        with open(args.output, "wb") as f:
            f.write(data)
    except ConvertError as err:
        print(f"{prog}: {args.onnx}: {err}", file=sys.stderr)
        return 1
    except (OSError, DecodeError) as err:  # unreadable or not ONNX
        print(f"{prog}: {args.onnx}: {type(err).__name__}: {err}",
              file=sys.stderr)
        return 1
    if args.dump:
        fmt.dump(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
