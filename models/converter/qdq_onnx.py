"""One graph (and its source path) of a `.dyce` package -> an ONNX QDQ model.

    qdq_model(package bytes, graph name or None) -> onnx.ModelProto (opset 13)

The model computes what the package's graphs compute, in the form
onnxruntime's QDQ transformers fuse into integer kernels (QLinearConv,
QGemm, QLinearAdd, QLinearGlobalAveragePool, ...): every int8 tensor of
the package is a float value passed through QuantizeLinear and
DequantizeLinear with that tensor's exact scale and zero point, every
int8 op is its float ONNX op between DequantizeLinear inputs and a
QuantizeLinear output. Peers (onnxruntime-web) can then run the very
same quantized network as dyce (docs/INT8.md):

- input: `input`, float32 NCHW [1, C, H, W] (the package input after the
  INPT normalisation, as the float export takes it); output: `output`,
  float32, [1, K] for class scores (a tensor of 1x1 pixels), NCHW else;
- the graph is built in NCHW: conv weights OHWI -> OIHW; dyce's flatten
  (C, H, W order of NHWC data) is a plain Flatten there;
- conv2d / fully_connected: int8 weights as initializers behind
  DequantizeLinear (per output channel, axis 0, scales = the package's
  wscale), int32 biases behind DequantizeLinear (scale in_scale · wscale
  in binary32, axis 0); fully_connected is Gemm (transB = 1);
- a fused ReLU / clip of an int8 node is its clamp in the int8 domain
  (qmin / qmax as docs/INT8.md defines them): nothing when it is a no-op
  (the usual case: a ReLU output whose zero point is -128), else an int8
  Clip between QuantizeLinear and DequantizeLinear, which keeps
  DequantizeLinear -> Conv -> QuantizeLinear intact for the fusion and
  gives exactly dyce's clamp; other activations are their float ONNX ops
  (opset 13 forms: hard_swish = x · HardSigmoid(x, 1/6, 1/2), silu =
  x · Sigmoid(x), GELU with Erf / Tanh), between DequantizeLinear and
  QuantizeLinear (dyce builds a 256-entry table from the same functions);
- max_pool, global_max_pool, concat: QDQ around MaxPool / GlobalMaxPool /
  Concat with the shared scale; flatten and the reshapes between 4-D and
  2-D values act on the int8 tensor itself (a pure data move);
- float nodes of the package (softmax, channel_affine, group_norm, max,
  min, channel_gather, resize, anything kept float) are float ONNX ops.

Rounding: onnxruntime's integer kernels requantize in binary32 as dyce
does, but not always in the same order (QuantizeLinear divides where dyce
multiplies by 1/scale; QLinearAdd and the average pools scale
differently), so outputs agree within a few quantization steps, not bit
for bit (tests/node/int8_qdq.test.mjs measures it).
"""

import math

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import dyce_format as fmt
from dyce_codes import (P_COUNT_PAD, P_DH, P_DW, P_GROUPS, P_KH, P_KW,
                        P_NORM_EPS, P_NORM_GROUPS, P_NORM_PIXELWISE, P_PAD_B,
                        P_PAD_L, P_PAD_R, P_PAD_T, P_RESIZE_ALIGN,
                        P_REDUCE_MAX, P_RESIZE_MODE, P_SH, P_SOFTMAX_ALL, P_SW)

OPSET = 13
F32 = np.float32


# dyce activations and binary ops that are one ONNX op of the same meaning
# (max / min: float only, so never between int8 DQ / Q pairs).
_ACT_OPS = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh",
            "softplus": "Softplus", "abs": "Abs", "sqrt": "Sqrt", "exp": "Exp",
            "log": "Log", "reciprocal": "Reciprocal"}
_BINARY_OPS = {"add": "Add", "mul": "Mul", "max": "Max", "min": "Min"}


class ExportError(Exception):
    """A graph this exporter cannot express; the message says which node."""


def graph_path(graphs, name=None):
    """Indices of the graphs from the package input to graph `name`
    (default: the only graph, else `head`, else the last one)."""
    names = [g.name for g in graphs]
    if name is None:
        name = names[0] if len(graphs) == 1 else (
            "head" if "head" in names else names[-1])
    if name not in names:
        raise ExportError(f"no graph '{name}' (graphs: {', '.join(names)})")
    path, gi = [], names.index(name)
    while gi != fmt.NONE:
        path.append(gi)
        gi = graphs[gi].source
    return path[::-1]


def out_limits(act, a, b, scale, zp):
    """(qmin, qmax) of an int8 node's output narrowed by its fused ReLU /
    clip (docs/INT8.md): clamp(rne(a / out_scale) + zp, -128, 127), the
    division in binary32."""
    def lim(v):
        return int(np.clip(np.rint(F32(v) / F32(scale)) + zp, -128, 127))
    if act == "none":
        return -128, 127
    if act == "relu":
        return int(np.clip(zp, -128, 127)), 127
    if act == "clip":
        return lim(a), lim(b)
    raise ExportError(f"int8 node with fused {act} (only none, relu, clip)")


class _Value:
    """An ONNX value of a dyce tensor: `name` its float form, `q` its int8
    tensor (int8 tensors), `rank` 4 (NCHW) or 2 ([1, C], flat vectors)."""

    def __init__(self, name, rank, q=None, quant=None):
        self.name, self.rank, self.q, self.quant = name, rank, q, quant


class _Builder:
    def __init__(self):
        self.nodes, self.inits, self.names = [], [], set()
        self.consts = {}

    def fresh(self, hint):
        name, i = hint, 1
        while name in self.names:
            name, i = f"{hint}_{i}", i + 1
        self.names.add(name)
        return name

    def const(self, hint, array):
        array = np.asarray(array)
        key = (array.dtype.str, array.shape, array.tobytes())
        if array.size <= 16 and key in self.consts:   # share small constants
            return self.consts[key]
        name = self.fresh(hint)
        self.inits.append(numpy_helper.from_array(array, name))
        if array.size <= 16:
            self.consts[key] = name
        return name

    def node(self, op, inputs, hint, **attrs):
        out = self.fresh(hint)
        self.nodes.append(helper.make_node(op, list(inputs), [out],
                                           name=out, **attrs))
        return out


class _Exporter:
    def __init__(self, graphs, activations="uint8"):
        self.graphs = graphs
        self.b = _Builder()
        if activations not in ("int8", "uint8"):
            raise ExportError(f"activations: int8 or uint8, not {activations}")
        # uint8: every int8 value q (zero point zp) stored as q + 128 (zero
        # point zp + 128): the same reals, the same rounding and clamps.
        self.shift, self.qtype = ((128, np.uint8) if activations == "uint8"
                                  else (0, np.int8))

    def qarray(self, q):
        """int8 values (numpy ints) as this model's activation type."""
        return (np.asarray(q, np.int32) + self.shift).astype(self.qtype)

    # -- int8 <-> float
    def qparams(self, scale, zp, hint):
        return (self.b.const(hint + "_scale", np.array(scale, F32)),
                self.b.const(hint + "_zp", self.qarray(zp)))

    def quantize(self, x, rank, quant, hint, limits=(-128, 127)):
        """QuantizeLinear (+ int8 Clip for a narrowed range) then
        DequantizeLinear: the value of an int8 tensor."""
        s, z = self.qparams(*quant, hint)
        q = self.b.node("QuantizeLinear", [x, s, z], hint + "_q")
        if tuple(limits) != (-128, 127):
            lo = self.b.const(hint + "_qmin", self.qarray(limits[0]))
            hi = self.b.const(hint + "_qmax", self.qarray(limits[1]))
            q = self.b.node("Clip", [q, lo, hi], hint + "_clamp")
        return self.dequantize(q, rank, quant, hint)

    def dequantize(self, q, rank, quant, hint):
        s, z = self.qparams(*quant, hint)
        x = self.b.node("DequantizeLinear", [q, s, z], hint + "_dq")
        return _Value(x, rank, q, tuple(quant))

    def reshaped(self, v, shape, hint):
        """v as rank len(shape): int8 values are reshaped as int8."""
        if v.rank == len(shape):
            return v
        target = self.b.const("shape_%dd" % len(shape), np.array(shape, np.int64))
        if v.q is None:
            return _Value(self.b.node("Reshape", [v.name, target], hint + "_r"),
                          len(shape))
        q = self.b.node("Reshape", [v.q, target], hint + "_rq")
        return self.dequantize(q, len(shape), v.quant, hint + "_r")

    def as4d(self, v, c, hint):
        return self.reshaped(v, [1, c, 1, 1], hint)

    def softmax(self, n, x, shape, hint):
        """(value, rank): over channels, or over every position of a
        one-channel map (a softmax of the flattened map)."""
        B = self.b
        kind = "LogSoftmax" if fmt.is_log_softmax(n) else "Softmax"
        if not n.params[P_SOFTMAX_ALL]:
            return B.node(kind, [x.name], hint, axis=1), x.rank
        _, h, w, _ = shape
        flat = B.node("Reshape", [x.name, B.const(hint + "_flat", np.array(
            [1, h * w], np.int64))], hint + "_flat")
        return B.node("Reshape", [B.node(kind, [flat], hint + "_all", axis=1),
                                  B.const(hint + "_back", np.array([1, 1, h, w], np.int64))],
                      hint), 4

    def resize(self, n, x, shape, hint):
        """resize as PyTorch exports F.interpolate, to the output's size."""
        _, oh, ow, c = shape
        p = n.params
        return self.b.node("Resize", [x.name, "", "", self.b.const(hint + "_sizes", np.array(
            [1, c, oh, ow], np.int64))], hint,
            mode="linear" if p[P_RESIZE_MODE] else "nearest",
            coordinate_transformation_mode=(
                "align_corners" if p[P_RESIZE_ALIGN] else
                "half_pixel" if p[P_RESIZE_MODE] else "asymmetric"),
            nearest_mode="floor")

    def group_norm(self, n, x, shape, hint):
        """group_norm as PyTorch exports nn.GroupNorm at opset 13: Reshape
        (1, G, -1), InstanceNormalization, Reshape back, Mul, Add (pixelwise:
        the same over the pixels of the NHWC tensor as rows)."""
        B, groups = self.b, n.params[P_NORM_GROUPS]
        _, h, w, c = shape
        pixelwise = n.params[P_NORM_PIXELWISE]
        # InstanceNormalization normalises each (row, group) over the rest:
        # rows are the sample, or each pixel of the NHWC tensor (pixelwise)
        g = (B.node("Transpose", [x.name], hint + "_nhwc", perm=[0, 2, 3, 1])
             if pixelwise else x.name)
        g = B.node("Reshape", [g, B.const(hint + "_gshape", np.array(
            [h * w if pixelwise else 1, groups, -1], np.int64))], hint + "_groups")
        g = B.node("InstanceNormalization", [
            g, B.const(hint + "_one", np.ones(groups, F32)),
            B.const(hint + "_zero", np.zeros(groups, F32))], hint + "_in",
            epsilon=fmt.bits_f32(n.params[P_NORM_EPS]))
        g = B.node("Reshape", [g, B.const(hint + "_back", np.array(
            [1, h, w, c] if pixelwise else [1, c, h, w], np.int64))], hint + "_back")
        if pixelwise:
            g = B.node("Transpose", [g], hint + "_nchw", perm=[0, 3, 1, 2])
        scale = B.const(hint + "_scale", np.asarray(n.weight, F32).reshape(1, c, 1, 1))
        shift = B.const(hint + "_shift", np.asarray(n.bias, F32).reshape(1, c, 1, 1))
        return B.node("Add", [B.node("Mul", [g, scale], hint + "_mul"), shift], hint)

    # -- activations on float values
    def act(self, x, act, a, b, hint):
        B = self.b
        if act == "none":
            return x
        if act in _ACT_OPS:       # ONNX ops of the same name and meaning
            return B.node(_ACT_OPS[act], [x], f"{hint}_{act}")
        if act == "clip":
            return B.node("Clip", [x, B.const("clip_a", np.array(a, F32)),
                                   B.const("clip_b", np.array(b, F32))],
                          hint + "_clip")
        if act == "hard_sigmoid":
            return B.node("HardSigmoid", [x], hint + "_hsig", alpha=float(a),
                          beta=float(b))
        if act == "hard_swish":
            g = B.node("HardSigmoid", [x], hint + "_hsig", alpha=1.0 / 6.0,
                       beta=0.5)
            return B.node("Mul", [x, g], hint + "_hswish")
        if act == "silu":
            return B.node("Mul", [x, B.node("Sigmoid", [x], hint + "_sig")],
                          hint + "_silu")
        if act == "leaky_relu":
            return B.node("LeakyRelu", [x], hint + "_lrelu", alpha=float(a))
        if act == "elu":
            return B.node("Elu", [x], hint + "_elu", alpha=float(a))
        if act in ("gelu", "gelu_tanh"):
            c = lambda v, n: B.const(n, np.array(v, F32))  # noqa: E731
            if act == "gelu":
                t = B.node("Erf", [B.node("Mul", [x, c(1 / math.sqrt(2), "rsqrt2")],
                                          hint + "_s")], hint + "_erf")
            else:
                x3 = B.node("Mul", [B.node("Mul", [x, x], hint + "_x2"), x], hint + "_x3")
                inner = B.node("Add", [x, B.node("Mul", [x3, c(0.044715, "gelu_k")],
                                                 hint + "_k")], hint + "_in")
                t = B.node("Tanh", [B.node("Mul", [inner, c(math.sqrt(2 / math.pi),
                                                            "sqrt2pi")], hint + "_s")],
                           hint + "_tanh")
            one = B.node("Add", [t, c(1.0, "one")], hint + "_1p")
            return B.node("Mul", [B.node("Mul", [x, one], hint + "_xm"),
                                  c(0.5, "half")], hint + "_gelu")
        raise ExportError(f"activation {act}")

    # -- one graph
    def graph(self, gi, value):
        g = self.graphs[gi]
        vals = {g.input: value}
        if g.is_int8(g.input) and value.quant != tuple(g.quant[g.input]):
            vals[g.input] = self.quantize(value.name, value.rank,
                                          g.quant[g.input], f"{g.name}_in")
        for j, n in enumerate(g.nodes):
            try:
                vals[n.output] = self.node(g, n, [vals[t] for t in n.inputs],
                                           f"{g.name}_{j}_{n.op}")
            except ExportError as err:
                raise ExportError(f"graph '{g.name}' node {j} ({n.op}): {err}")
        return vals[g.output]

    def node(self, g, n, args, hint):
        B, p, shapes = self.b, n.params, g.shapes
        int8 = g.is_int8(n.output) and n.op != "quantize"
        quant = g.quant[n.output] if g.is_int8(n.output) else None
        c_in = shapes[n.inputs[0]][3]
        x = args[0]
        if n.op == "quantize":
            return self.quantize(x.name, x.rank, quant, hint)
        if n.op == "dequantize":
            return _Value(x.name, x.rank)
        if int8 and n.op in ("flatten",) and x.quant == tuple(quant):
            return self.dequantize(
                B.node("Flatten", [self.as4d(x, c_in, hint).q], hint + "_flat"),
                2, quant, hint)
        rank = 4
        if n.op == "conv2d":
            x = self.as4d(x, c_in, hint)
            y = self.conv(g, n, x, int8, hint)
        elif n.op == "fully_connected":
            if x.rank == 4:
                x = (self.dequantize(B.node("Flatten", [x.q], hint + "_flat"),
                                     2, x.quant, hint + "_flat") if x.q
                     else _Value(B.node("Flatten", [x.name], hint + "_flat"), 2))
            y, rank = self.fully_connected(g, n, x, int8, hint), 2
        elif n.op in _BINARY_OPS:
            y, rank = self.binary(g, n, args, int8, hint)
        elif n.op == "activation":
            y, rank = x.name, x.rank
        elif n.op in ("max_pool", "avg_pool"):
            x = self.as4d(x, c_in, hint)
            attrs = dict(kernel_shape=[p[P_KH], p[P_KW]],
                         strides=[p[P_SH], p[P_SW]],
                         pads=[p[P_PAD_T], p[P_PAD_L], p[P_PAD_B], p[P_PAD_R]])
            if n.op == "avg_pool":
                attrs["count_include_pad"] = int(p[P_COUNT_PAD])
            y = B.node("MaxPool" if n.op == "max_pool" else "AveragePool",
                       [x.name], hint, **attrs)
        elif n.op in ("global_avg_pool", "global_max_pool"):
            x = self.as4d(x, c_in, hint)
            y = B.node("GlobalAveragePool" if n.op == "global_avg_pool"
                       else "GlobalMaxPool", [x.name], hint)
        elif n.op == "flatten":
            y, rank = B.node("Flatten", [self.as4d(x, c_in, hint).name],
                             hint), 2
        elif n.op == "softmax":
            y, rank = self.softmax(n, x, shapes[n.inputs[0]], hint)
        elif n.op == "channel_affine":
            shape = [1, c_in, 1, 1][:x.rank] if x.rank == 4 else [1, c_in]
            w = B.const(hint + "_scale", np.asarray(n.weight, F32).reshape(shape))
            s = B.const(hint + "_shift", np.asarray(n.bias, F32).reshape(shape))
            y, rank = B.node("Add", [B.node("Mul", [x.name, w], hint + "_mul"),
                                     s], hint), x.rank
        elif n.op == "resize":
            y = self.resize(n, x, shapes[n.output], hint)
        elif n.op == "channel_gather":
            y, rank = B.node("Gather", [x.name, B.const(hint + "_from", fmt.gather_channels(
                n))], hint, axis=1), x.rank
        elif n.op in ("adaptive_pool", "matmul", "view"):
            raise ExportError(f"{n.op}: no QDQ form (ONNX has no such pool; attention)")
        elif n.op == "channel_reduce":
            y = B.node("ReduceMax" if p[P_REDUCE_MAX] else "ReduceMean",
                       [self.as4d(x, c_in, hint).name], hint, axes=[1], keepdims=1)
        elif n.op == "group_norm":
            y = self.group_norm(n, self.as4d(x, c_in, hint) if x.rank == 2 else x,
                                shapes[n.inputs[0]], hint)
        elif n.op == "concat":
            rank = 2 if all(a.rank == 2 for a in args) else 4
            parts = [a if rank == 2 else
                     self.as4d(a, shapes[t][3], f"{hint}_{i}")
                     for i, (a, t) in enumerate(zip(args, n.inputs))]
            y = B.node("Concat", [a.name for a in parts], hint, axis=1)
        else:
            raise ExportError(f"op {n.op}")
        if not int8:
            return _Value(self.act(y, n.act, n.act_a, n.act_b, hint), rank)
        if n.op == "activation":        # an int8 table: f between DQ and Q
            y = self.act(y, n.act, n.act_a, n.act_b, hint)
            return self.quantize(y, rank, quant, hint)
        limits = out_limits(n.act, n.act_a, n.act_b, *quant)
        return self.quantize(y, rank, quant, hint, limits)

    def weights_and_bias(self, g, n, w, int8, hint):
        """Initializer names of the (dequantized) weight and bias."""
        B = self.b
        cout = w.shape[0]
        if not int8:
            wn = B.const(hint + "_w", np.ascontiguousarray(w, F32))
            bn = (None if n.bias is None else
                  B.const(hint + "_b", np.asarray(n.bias, F32)))
            return wn, bn
        wscale = np.asarray(n.wscale, F32)
        wq = B.const(hint + "_wq", np.ascontiguousarray(w, np.int8))
        wn = B.node("DequantizeLinear", [
            wq, B.const(hint + "_wscale", wscale),
            B.const(hint + "_wzp", np.zeros(cout, np.int8))], hint + "_w", axis=0)
        in_scale = F32(g.quant[n.inputs[0]][0])
        bias = (np.zeros(cout, np.int32) if n.bias is None
                else np.asarray(n.bias, np.int32))
        bn = B.node("DequantizeLinear", [
            B.const(hint + "_bq", bias),
            B.const(hint + "_bscale", (in_scale * wscale).astype(F32)),
            B.const(hint + "_bzp", np.zeros(cout, np.int32))], hint + "_b",
            axis=0)
        return wn, bn

    def conv(self, g, n, x, int8, hint):
        p = n.params
        cout = g.shapes[n.output][3]
        kh, kw, groups = p[P_KH], p[P_KW], p[P_GROUPS]
        w = np.asarray(n.weight).reshape(cout, kh, kw, -1).transpose(0, 3, 1, 2)
        wn, bn = self.weights_and_bias(g, n, w, int8, hint)
        return self.b.node(
            "Conv", [x.name, wn] + ([bn] if bn else []), hint,
            kernel_shape=[kh, kw], strides=[p[P_SH], p[P_SW]],
            pads=[p[P_PAD_T], p[P_PAD_L], p[P_PAD_B], p[P_PAD_R]],
            dilations=[p[P_DH], p[P_DW]], group=groups)

    def fully_connected(self, g, n, x, int8, hint):
        cout = g.shapes[n.output][3]
        w = np.asarray(n.weight).reshape(cout, -1)
        wn, bn = self.weights_and_bias(g, n, w, int8, hint)
        return self.b.node("Gemm", [x.name, wn] + ([bn] if bn else []), hint,
                           transB=1)

    def binary(self, g, n, args, int8, hint):
        B = self.b
        op = _BINARY_OPS[n.op]
        _, h, w, c = g.shapes[n.inputs[0]]
        a = args[0]
        if len(args) > 1:
            other = args[1]
            if a.rank != other.rank:
                a = self.as4d(a, c, hint + "_a")
                other = self.as4d(other, g.shapes[n.inputs[1]][3], hint + "_b")
            return B.node(op, [a.name, other.name], hint), a.rank
        v = np.asarray(n.weight)
        if v.size == h * w * c:
            shape = (h, w, c)
            v = v.reshape(shape).transpose(2, 0, 1)[None]
            if a.rank == 2:
                v = v.reshape(1, -1)
        elif v.size == c:
            v = v.reshape([1, c, 1, 1][:a.rank] if a.rank == 4 else [1, c])
        else:
            v = v.reshape([1] * a.rank)
        if int8:
            vq = B.const(hint + "_kq", self.qarray(v))
            k = self.dequantize(vq, a.rank, (fmt.bits_f32(n.params[0]),
                                             n.params[1]), hint + "_k").name
        else:
            k = B.const(hint + "_k", v.astype(F32))
        return B.node(op, [a.name, k], hint), a.rank


def qdq_model(data, name=None, activations="uint8"):
    """The ONNX QDQ model of graph `name` of package bytes `data` and the
    graphs on its source path. activations: the ONNX type of int8 tensors,
    "uint8" (q + 128, zero point + 128: exactly the same values; the
    form onnxruntime's x86 / wasm integer kernels take as they are) or
    "int8" (as stored; onnxruntime converts Q/DQ pairs to uint8 itself,
    but not those of a tensor read by several nodes, which then stay
    float)."""
    graphs, spec, _, _ = fmt.read_package(data)
    path = graph_path(graphs, name)
    ex = _Exporter(graphs, activations)
    x = _Value("input", 4)
    ex.b.names.update(("input", "output"))
    for gi in path:
        x = ex.graph(gi, x)
    last = graphs[path[-1]]
    _, h, w, c = last.shapes[last.output]
    if x.rank == 4 and h == w == 1:
        x = ex.reshaped(x, [1, c], "output")
    out_shape = [1, c] if x.rank == 2 else [1, c, h, w]
    # the last value becomes `output` (renamed where it is produced)
    final = x.name
    for node in ex.b.nodes:
        node.input[:] = ["output" if i == final else i for i in node.input]
        node.output[:] = ["output" if o == final else o for o in node.output]
    graph = helper.make_graph(
        ex.b.nodes, f"dyce_{last.name}_qdq",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                       [1, spec.c, spec.h, spec.w])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        ex.b.inits)
    model = helper.make_model(graph, producer_name="dyce export_qdq",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def op_counts(model):
    """{op type: count} of a model's nodes."""
    out = {}
    for n in model.graph.node:
        key = n.op_type if not n.domain or n.domain == "ai.onnx" else \
            f"{n.domain}.{n.op_type}"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))
