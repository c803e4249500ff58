"""ONNX operators as PyTorch code, for --backbone FILE.onnx (onnx_backbone.py).

make(op, a, ins, out_shapes) returns (fn, modules): fn takes the node's
dynamic inputs (those computed from the image) in order and returns its
outputs; every other input is a constant known now (weights, axes,
shapes), read here. `modules` are the nn.Modules fn calls (a
convolution's weights), which the backbone registers so that torch.fx
sees them as layers and their weights as parameters. `a` holds the
node's attributes; `ins` one In per input; `out_shapes` the shapes of the
node's outputs at batch 1 and 2 (from running the graph once per batch),
which settle what the file computes from the batch size (a Reshape's
target, an Expand's shape) as numbers with -1 for the batch dimension.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


class Unsupported(Exception):
    """The node cannot be taken; str() says why."""


@dataclass
class In:
    dynamic: bool            # computed from the image (a tensor fn receives)
    value: object = None     # a constant's value (torch tensor), else None
    value2: object = None    # a size's value at batch 2 where it differs
    shape: tuple = None      # shape at batch 1 (every input)
    shape2: tuple = None     # shape at batch 2


def const(i, what):
    """A constant input's value; refused when the image or the batch size
    decides it."""
    if i.dynamic:
        raise Unsupported(f"its {what} is computed from the image; it must be a constant")
    if i.value2 is not None:
        raise Unsupported(f"its {what} follows the batch size")
    return i.value


def ints(i, what):
    return [int(v) for v in const(i, what).reshape(-1).tolist()]


def sized_ints(i, what):
    """(at batch 1, at batch 2) of an input that may follow the batch size
    (a Reshape's target computed from the input's shape)."""
    if i.dynamic:
        raise Unsupported(f"its {what} is computed from the image; it must be a constant")
    v1 = [int(v) for v in i.value.reshape(-1).tolist()]
    v2 = v1 if i.value2 is None else [int(v) for v in i.value2.reshape(-1).tolist()]
    return v1, v2


def merged(ins):
    """A function of the node's dynamic inputs giving all its inputs in
    order, the constants (as float tensors) in their places."""
    parts = [None if i.dynamic else i.value.float() for i in ins]

    def merge(xs):
        it = iter(xs)
        return [next(it) if p is None else p for p in parts]
    return merge


def operand(i):
    """A constant operand of arithmetic: a float when it is one value."""
    v = i.value
    if v.numel() == 1 and v.dim() == 0:
        return v.item()
    return v.float() if v.is_floating_point() else v


def batch_shape(s1, s2, what):
    """An output shape (s1 at batch 1, s2 at batch 2) with -1 where it
    follows the batch size."""
    moving = [d for d, (a, b) in enumerate(zip(s1, s2)) if a != b]
    if len(moving) > 1:
        raise Unsupported(f"its {what} changes in more than one dimension with the batch size")
    return [-1 if d in moving else v for d, v in enumerate(s1)]


def _pads(a, shape, kernel, strides, dilations):
    """ONNX pads (begins then ends per spatial dim), auto_pad resolved."""
    n = len(kernel)
    mode = a.get("auto_pad", b"NOTSET")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if mode in ("SAME_UPPER", "SAME_LOWER"):
        begins, ends = [], []
        for d in range(n):
            size = shape[2 + d]
            out = -(-size // strides[d])
            total = max(0, (out - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size)
            small, big = total // 2, total - total // 2
            begins.append(small if mode == "SAME_UPPER" else big)
            ends.append(big if mode == "SAME_UPPER" else small)
        return begins + ends
    if mode == "VALID":
        return [0] * (2 * n)
    return list(a.get("pads", [0] * (2 * n)))


def torch_pad(pads):
    """ONNX spatial pads -> F.pad's (last dim first) order."""
    n = len(pads) // 2
    out = []
    for d in reversed(range(n)):
        out += [pads[d], pads[n + d]]
    return out


def window(a, ins):
    kernel = list(a["kernel_shape"]) if "kernel_shape" in a else list(ins[1].value.shape[2:])
    n = len(kernel)
    strides = list(a.get("strides", [1] * n))
    dilations = list(a.get("dilations", [1] * n))
    pads = _pads(a, ins[0].shape, kernel, strides, dilations)
    symmetric = pads[:n] == pads[n:]
    return kernel, strides, dilations, pads, symmetric


def conv(a, ins, _):
    w = const(ins[1], "weight")
    b = const(ins[2], "bias") if len(ins) > 2 and ins[2] is not None else None
    kernel, strides, dilations, pads, symmetric = window(a, ins)
    if len(kernel) not in (1, 2):
        raise Unsupported(f"a {len(kernel)}-D convolution (1-D and 2-D are taken)")
    cls = nn.Conv2d if len(kernel) == 2 else nn.Conv1d
    group = int(a.get("group", 1))
    m = cls(w.shape[1] * group, w.shape[0], kernel, strides,
            pads[:len(kernel)] if symmetric else 0, dilations, group, b is not None)
    with torch.no_grad():
        m.weight.copy_(w)
        if b is not None:
            m.bias.copy_(b)
    if symmetric:
        return m, [m]
    pad = torch_pad(pads)
    return (lambda x: m(F.pad(x, pad))), [m]


def batch_norm(a, ins, _):
    scale, bias, mean, var = (const(i, "statistics") for i in ins[1:5])
    rank = len(ins[0].shape)
    cls = nn.BatchNorm2d if rank == 4 else nn.BatchNorm1d
    m = cls(scale.numel(), eps=float(a.get("epsilon", 1e-5)))
    with torch.no_grad():
        m.weight.copy_(scale), m.bias.copy_(bias)
        m.running_mean.copy_(mean), m.running_var.copy_(var)
    return m.eval(), [m]


def _linear(weight, bias):
    m = nn.Linear(weight.shape[1], weight.shape[0], bias is not None)
    with torch.no_grad():
        m.weight.copy_(weight)
        if bias is not None:
            m.bias.copy_(bias.reshape(-1).expand(weight.shape[0]))
    return m


def gemm(a, ins, _):
    alpha, beta = float(a.get("alpha", 1.0)), float(a.get("beta", 1.0))
    if a.get("transA", 0) or ins[1].dynamic:
        raise Unsupported("a Gemm whose B is computed or whose A is transposed")
    w = const(ins[1], "B").float()
    w = (w if a.get("transB", 0) else w.t()) * alpha
    c = operand(ins[2]) * beta if len(ins) > 2 and ins[2] is not None else None
    if isinstance(c, float):
        c = torch.tensor([c])
    m = _linear(w, c)
    return m, [m]


def matmul(a, ins, _):
    x, y = ins
    if not x.dynamic:
        cx = x.value.float()
        return (lambda v: torch.matmul(cx, v)), []
    if y.dynamic:
        return torch.matmul, []
    if y.value.dim() != 2:
        cy = y.value.float()
        return (lambda v: torch.matmul(v, cy)), []
    m = _linear(y.value.float().t(), None)
    return m, [m]


BINARY = {"Add": torch.add, "Sub": torch.sub, "Mul": torch.mul, "Div": torch.div,
          "Pow": torch.pow, "Max": torch.maximum, "Min": torch.minimum}


def binary(op):
    f = BINARY[op]

    def make(a, ins, _):
        if len(ins) == 1:
            return (lambda x: x), []
        if len(ins) > 2 and op in ("Add", "Max", "Min"):   # Sum, Max, Min of n (tf2onnx's AddN)
            merge = merged(ins)

            def many(*xs):
                vals = merge(xs)
                out = vals[0]
                for v in vals[1:]:
                    out = f(out, v)
                return out
            return many, []
        if len(ins) != 2:
            raise Unsupported(f"{op} of {len(ins)} inputs")
        x, y = ins
        if x.dynamic and y.dynamic:
            return f, []
        if x.dynamic:
            c = operand(y)
            if op == "Pow" and isinstance(c, float):
                return (lambda v: torch.pow(v, c)), []
            if op in ("Max", "Min"):
                c = torch.tensor(c) if isinstance(c, float) else c
            return (lambda v: f(v, c)), []
        c = operand(x)
        c = torch.tensor(c) if isinstance(c, float) and op in ("Pow", "Max", "Min") else c
        return (lambda v: f(c, v)), []
    return make


def hard_sigmoid(a, ins, _):
    alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
    if math.isclose(alpha, 1 / 6, rel_tol=1e-4) and beta == 0.5:
        return F.hardsigmoid, []
    return (lambda x: torch.clamp(x * alpha + beta, 0.0, 1.0)), []


def clip(a, ins, _):
    lo = a.get("min", -math.inf)
    hi = a.get("max", math.inf)
    if len(ins) > 1 and ins[1] is not None:
        lo = float(const(ins[1], "min"))
    if len(ins) > 2 and ins[2] is not None:
        hi = float(const(ins[2], "max"))
    if lo == 0 and hi == 6:
        return F.relu6, []
    if lo == 0 and hi == math.inf:
        return F.relu, []
    return (lambda x: torch.clamp(x, None if lo == -math.inf else lo,
                                  None if hi == math.inf else hi)), []


def prelu(a, ins, _):
    slope = const(ins[1], "slope").float()
    if slope.numel() == 1:
        s = slope.item()
        return (lambda x: F.leaky_relu(x, s)), []
    return (lambda x: F.prelu(x, slope.reshape(-1))), []


def axis_of(a, rank, default=1):
    axis = int(a.get("axis", default))
    return axis + rank if axis < 0 else axis


UNARY = {
    "Relu": lambda a: F.relu, "Sigmoid": lambda a: torch.sigmoid, "Tanh": lambda a: torch.tanh,
    "Exp": lambda a: torch.exp, "Log": lambda a: torch.log, "Sqrt": lambda a: torch.sqrt,
    "Neg": lambda a: torch.neg, "Abs": lambda a: torch.abs, "Erf": lambda a: torch.erf,
    "Reciprocal": lambda a: torch.reciprocal, "Softplus": lambda a: F.softplus,
    "HardSwish": lambda a: F.hardswish, "Mish": lambda a: F.mish,
    "LeakyRelu": lambda a: (lambda x, s=float(a.get("alpha", 0.01)): F.leaky_relu(x, s)),
    "Elu": lambda a: (lambda x, s=float(a.get("alpha", 1.0)): F.elu(x, s)),
    "Selu": lambda a: F.selu,
    "Gelu": lambda a: (lambda x, m=a.get("approximate", b"none"):
                       F.gelu(x, approximate=m.decode() if isinstance(m, bytes) else m)),
    "Identity": lambda a: (lambda x: x), "Dropout": lambda a: (lambda x: x),
}


FLOATS = {1: "float", 10: "float16", 11: "double", 16: "bfloat16"}   # onnx.TensorProto


def cast(a, ins, _):
    """To a float type: the image's values stay float32 (a float16 model
    kept float at its input and output, e.g. by onnxconverter-common,
    computes here in float32)."""
    if a["to"] not in FLOATS:
        raise Unsupported(f"a cast of the image's values to ONNX type {a['to']} (not a float)")
    return (lambda x: x), []


def unary(op):
    def make(a, ins, n_out):
        if n_out > 1:
            raise Unsupported(f"{n_out} of its outputs are read; the builder computes only its first")
        return UNARY[op](a), []
    return make
