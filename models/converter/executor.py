"""Run a package's graphs in Python, for a batch of inputs.

Float nodes run with torch.nn.functional in float32 (NCHW internally; the
package's shapes are NHWC); int8 nodes run through int8_ops.py, the exact
oracle of docs/INT8.md. Every graph reads its source graph's output (the
package input for source NONE), so one `Runner.run` evaluates the whole
tree of savers, stages, exits and head on a batch.

A value is a torch float32 tensor (B, C, H, W) for a float32 tensor, a
numpy int32 array (B, C, H, W) of int8 values for an int8 one. A flat
vector (1, 1, 1, k) is (B, k, 1, 1).

Width levels (LEVL, REDS): at a level, every tensor has a width (a prefix
of its channels, derived as docs/FORMAT.md says); the runner computes each
node on the full tensor and then sets the channels past the width to the
real 0 (the zero point of an int8 tensor). Every consumer that a level may
narrow (conv, fully connected, per-channel ops, pools, flatten) then gives
exactly what the prefix computation gives: a dropped channel contributes
nothing to a sum, and per-channel results outside the prefix are dropped.
"""

import math

import numpy as np
import torch
import torch.nn.functional as F

import dyce_format as fmt
from dyce_codes import (P_ADAPTIVE_MAX, P_COUNT_PAD, P_DH, P_DW, P_GROUPS, P_KH, P_KW,
                        P_NORM_EPS, P_NORM_GROUPS, P_NORM_PIXELWISE, P_PAD_B,
                        P_PAD_L, P_PAD_R, P_PAD_T, P_RESIZE_ALIGN,
                        P_REDUCE_MAX, P_RESIZE_INV_H, P_RESIZE_INV_W, P_RESIZE_MODE, P_SH,
                        P_MATMUL_ALPHA, P_MATMUL_GROUPS, P_MATMUL_ROWWISE, P_MATMUL_TRANS_B,
                        P_SOFTMAX_ALL, P_SOFTMAX_GROUPS, P_SW)

from . import int8_ops


def act_float(act, x, a=0.0, b=0.0):
    """Activation `act` (docs/FORMAT.md) of a torch tensor, in its dtype."""
    if act == "none":
        return x
    if act == "relu":
        return torch.clamp(x, min=0.0)
    if act == "clip":
        return torch.clamp(x, min=a, max=b)
    if act == "sigmoid":
        return torch.sigmoid(x)
    if act == "hard_sigmoid":
        return torch.clamp(a * x + b, 0.0, 1.0)
    if act == "hard_swish":
        return x * torch.clamp(x + 3.0, 0.0, 6.0) / 6.0
    if act == "silu":
        return x * torch.sigmoid(x)
    if act == "leaky_relu":
        return torch.where(x < 0, a * x, x)
    if act == "tanh":
        return torch.tanh(x)
    if act == "gelu":
        return x * (1.0 + torch.erf(x / math.sqrt(2.0))) / 2.0
    if act == "gelu_tanh":
        k = math.sqrt(2.0 / math.pi)
        return x * (1.0 + torch.tanh(k * (x + 0.044715 * x ** 3))) / 2.0
    if act == "elu":
        return torch.where(x > 0, x, a * torch.expm1(x))
    if act == "softplus":
        return F.softplus(x)
    if act in _UNARY:
        return _UNARY[act](x)
    raise ValueError(f"activation {act}")


# The activations without parameters PyTorch has as functions (NaN below 0
# for sqrt and log, log 0 = -inf, 1 / 0 = inf, as the engine).
_UNARY = {"abs": torch.abs, "sqrt": torch.sqrt, "exp": torch.exp,
          "log": torch.log, "reciprocal": torch.reciprocal}


def pads(p):
    """F.pad order (left, right, top, bottom) of a node's padding."""
    return (p[P_PAD_L], p[P_PAD_R], p[P_PAD_T], p[P_PAD_B])


def window(p):
    return (p[P_KH], p[P_KW]), (p[P_SH], p[P_SW])


_CACHE = {}


def cached(node, what, make):
    """A torch form of a node's weights, made once per node (keyed by the
    node object and the weight array it holds)."""
    key = (id(node), what)
    hit = _CACHE.get(key)
    if hit is None or hit[0] is not node.weight:
        hit = (node.weight, make())
        _CACHE[key] = hit
        if len(_CACHE) > 4096:
            _CACHE.clear()
    return hit[1]


def conv_weight(node, shapes, dtype=np.float32):
    """OHWI -> OIHW torch weight."""
    def make():
        kh, kw = node.params[P_KH], node.params[P_KW]
        cout = shapes[node.output][3]
        w = np.array(node.weight, dtype).reshape(cout, kh, kw, -1)
        return torch.from_numpy(np.ascontiguousarray(w.transpose(0, 3, 1, 2)))
    return cached(node, ("conv", np.dtype(dtype).str), make)


def tensor_of(array, dtype=np.float32):
    return torch.from_numpy(np.array(array, dtype))


def constant(node, shape, dtype=np.float32):
    """The constant operand of add / mul / max / min broadcast to (1, C, H, W)."""
    _, h, w, c = shape
    v = np.array(node.weight, dtype)
    if v.size == h * w * c:
        return v.reshape(h, w, c).transpose(2, 0, 1)[None]
    if v.size == c:
        return v.reshape(1, c, 1, 1)
    return v.reshape(1, 1, 1, 1)


def avg_pool_sum(x, p, count_pad):
    """(window sums, divisors) of avg_pool on a float64 tensor of exact
    values (int8 oracle) or float32 values."""
    k, s = window(p)
    xp = F.pad(x, pads(p))
    sums = F.avg_pool2d(xp, k, s, divisor_override=1)
    if count_pad:
        count = torch.full_like(sums[:1, :1], float(k[0] * k[1]))
    else:
        ones = F.pad(torch.ones_like(x[:1, :1]), pads(p))
        count = F.avg_pool2d(ones, k, s, divisor_override=1)
    return sums, count


def _resize_axis(p, inv_slot, out, size):
    """Source indices and weights along one axis, in float32 as the engine's
    kernel computes them (src/kernels/ref/resize.c)."""
    inv = np.float32(fmt.bits_f32(p[inv_slot]))
    d = np.arange(out, dtype=np.float32)
    if p[P_RESIZE_MODE] and not p[P_RESIZE_ALIGN]:
        s = np.maximum(inv * (d + np.float32(0.5)) - np.float32(0.5), np.float32(0))
    else:
        s = inv * d
    i0 = np.minimum(np.floor(s).astype(np.int64), size - 1)
    i1 = i0 + (i0 < size - 1)
    return i0, i1, torch.from_numpy((s - i0).astype(np.float32))


def resize(x, p, out_hw):
    """The resize op on an NCHW batch."""
    (y0, y1, ly), (x0, x1, lx) = (_resize_axis(p, slot, out, size) for slot, out, size in (
        (P_RESIZE_INV_H, out_hw[0], x.shape[2]), (P_RESIZE_INV_W, out_hw[1], x.shape[3])))
    if not p[P_RESIZE_MODE]:
        return x[:, :, y0][:, :, :, x0]
    ly, lx = ly.view(1, 1, -1, 1), lx.view(1, 1, 1, -1)
    top, bottom = x[:, :, y0], x[:, :, y1]
    return ((1 - ly) * ((1 - lx) * top[..., x0] + lx * top[..., x1])
            + ly * ((1 - lx) * bottom[..., x0] + lx * bottom[..., x1]))


def matmul(a, b, p, out_shape):
    """docs/FORMAT.md's matmul: per channel group, the pixels as rows (row
    by row of the image with p[MATMUL_ROWWISE]: a batch of windows)."""
    groups, n = p[P_MATMUL_GROUPS], a.shape[0]
    batch = n * a.shape[2] if p[P_MATMUL_ROWWISE] else n
    rows_a = a.permute(0, 2, 3, 1).reshape(batch, -1, groups, a.shape[1] // groups)
    rows_b = b.permute(0, 2, 3, 1).reshape(batch, -1, groups, b.shape[1] // groups)
    qa, qb = rows_a.transpose(1, 2), rows_b.transpose(1, 2)   # (batch, G, rows, per group)
    y = qa @ (qb.transpose(2, 3) if p[P_MATMUL_TRANS_B] else qb)
    y = y * fmt.bits_f32(p[P_MATMUL_ALPHA])
    _, h, wd, c = out_shape
    return y.transpose(1, 2).reshape(n, h, wd, c).permute(0, 3, 1, 2)


def float_node(node, shapes, args):
    """One float32 node: args are the input values (torch float32)."""
    op, p, x = node.op, node.params, args[0]
    if op == "conv2d":
        bias = None if node.bias is None else tensor_of(node.bias)
        y = F.conv2d(F.pad(x, pads(p)), conv_weight(node, shapes), bias,
                     (p[P_SH], p[P_SW]), 0, (p[P_DH], p[P_DW]), p[P_GROUPS])
    elif op == "fully_connected":
        w = cached(node, "fc", lambda: tensor_of(node.weight).reshape(
            shapes[node.output][3], -1))
        y = x.reshape(x.shape[0], -1) @ w.T
        if node.bias is not None:
            y = y + tensor_of(node.bias)
        y = y[:, :, None, None]
    elif op in ("add", "mul", "max", "min"):
        other = args[1] if len(args) > 1 else torch.from_numpy(
            constant(node, shapes[node.inputs[0]]))
        y = {"add": torch.add, "mul": torch.mul, "max": torch.maximum,
             "min": torch.minimum}[op](x, other)
    elif op == "activation":
        y = x
    elif op == "max_pool":
        k, s = window(p)
        y = F.max_pool2d(F.pad(x, pads(p), value=-math.inf), k, s)
    elif op == "avg_pool":
        sums, count = avg_pool_sum(x, p, p[P_COUNT_PAD])
        y = sums / count
    elif op == "global_avg_pool":
        y = x.mean(dim=(2, 3), keepdim=True)
    elif op == "global_max_pool":
        y = x.amax(dim=(2, 3), keepdim=True)
    elif op == "flatten":
        y = x.reshape(x.shape[0], -1, 1, 1)
    elif op == "softmax":
        f = torch.log_softmax if fmt.is_log_softmax(node) else torch.softmax
        n, c, h, wd = x.shape
        if p[P_SOFTMAX_ALL]:      # every position of a one-channel map
            y = f(x.reshape(x.shape[0], -1), dim=1).reshape(x.shape)
        else:                     # over each of G channel groups (heads)
            groups = max(p[P_SOFTMAX_GROUPS], 1)
            y = f(x.reshape(n, groups, c // groups, h, wd), dim=2).reshape(x.shape)
    elif op == "matmul":
        y = matmul(x, args[1], p, shapes[node.output])
    elif op == "view":
        _, h, wd, c = shapes[node.output]
        y = x.permute(0, 2, 3, 1).reshape(x.shape[0], h, wd, c).permute(0, 3, 1, 2)
    elif op == "channel_affine":
        c = shapes[node.inputs[0]][3]
        y = (x * tensor_of(node.weight).view(1, c, 1, 1)
             + tensor_of(node.bias).view(1, c, 1, 1))
    elif op == "concat":
        y = torch.cat(args, dim=1)
    elif op == "resize":
        y = resize(x, p, shapes[node.output][1:3])
    elif op == "channel_gather":
        y = x[:, torch.from_numpy(fmt.gather_channels(node))]
    elif op == "adaptive_pool":
        size = tuple(shapes[node.output][1:3])
        y = (F.adaptive_max_pool2d(x, size) if p[P_ADAPTIVE_MAX]
             else F.adaptive_avg_pool2d(x.double(), size).float())
    elif op == "channel_reduce":
        y = (x.amax(1, keepdim=True) if p[P_REDUCE_MAX]
             else x.double().mean(1, keepdim=True).float())
    elif op == "group_norm":
        eps, groups, w, b = (fmt.bits_f32(p[P_NORM_EPS]), p[P_NORM_GROUPS],
                             tensor_of(node.weight), tensor_of(node.bias))
        if p[P_NORM_PIXELWISE]:   # each pixel alone: its channels as a batch row
            n, c, h, wd = x.shape
            rows = x.permute(0, 2, 3, 1).reshape(-1, c, 1, 1)
            y = F.group_norm(rows, groups, w, b, eps).reshape(n, h, wd, c).permute(0, 3, 1, 2)
        else:
            y = F.group_norm(x, groups, w, b, eps)
    else:
        raise ValueError(f"op {op} on float32 tensors")
    return act_float(node.act, y, node.act_a, node.act_b)


# ------------------------------------------------------------ width levels

def level_widths(graphs, entries):
    """Per graph, per local tensor: its width at a level (None = stored
    width), from the level's LEVL entries [(graph, node, channels)]."""
    named = {(g, j): c for g, j, c in entries}
    out = []
    for gi, g in enumerate(graphs):
        widths = [None] * len(g.shapes)
        if g.source != fmt.NONE:
            src = graphs[g.source]
            widths[g.input] = out[g.source][src.output]
        for j, n in enumerate(g.nodes):
            win = widths[n.inputs[0]]
            if fmt.is_dense(n):
                w = named.get((gi, j))
            elif n.op == "conv2d":            # depthwise: its input's width
                w = win
            elif n.op == "flatten":
                _, h, wd, _ = g.shapes[n.inputs[0]]
                w = None if win is None else win * h * wd
            elif n.op == "concat":
                w = None
            else:
                w = win
            full = g.shapes[n.output][3]
            widths[n.output] = None if w is None or w >= full else w
        out.append(widths)
    return out


def mask(value, width, zero_point=0):
    """Channels past `width` set to the real 0."""
    if width is None:
        return value
    if isinstance(value, np.ndarray):
        value = value.copy()
        value[:, width:] = zero_point
    else:
        value = value.clone()
        value[:, width:] = 0.0
    return value


# ------------------------------------------------------------ running

class Runner:
    """Runs every graph of a package on a batch: `run(x)` with x float32
    (B, C, H, W) returns each graph's output value, and calls
    observe(graph index, local tensor, value) for every tensor computed
    (graph inputs included) when given."""

    def __init__(self, graphs, level=None):
        self.graphs = graphs
        self.widths = level_widths(graphs, level) if level else None

    def run(self, x, observe=None, graphs=None):
        x = torch.as_tensor(np.asarray(x, np.float32))
        outputs = {}
        wanted = range(len(self.graphs)) if graphs is None else graphs
        needed = set()
        for gi in sorted(wanted, reverse=True):
            while gi != fmt.NONE and gi not in needed:
                needed.add(gi)
                gi = self.graphs[gi].source
        for gi in sorted(needed):
            g = self.graphs[gi]
            src = x if g.source == fmt.NONE else outputs[g.source]
            outputs[gi] = self.run_graph(gi, src, observe)
        return outputs

    def _widths(self, gi):
        return self.widths[gi] if self.widths else [None] * len(self.graphs[gi].shapes)

    @staticmethod
    def _node(g, n, args, widths):
        if n.op == "quantize" or g.is_int8(n.output) or n.op == "dequantize":
            y = int8_ops.run_node(n, g, args)
        else:
            y = float_node(n, g.shapes, args)
        zp = g.quant[n.output][1] if g.is_int8(n.output) else 0
        return mask(y, widths[n.output], zp)

    def run_graph(self, gi, x, observe=None):
        g = self.graphs[gi]
        widths = self._widths(gi)
        values = {g.input: x}
        if observe:
            observe(gi, g.input, x)
        for n in g.nodes:
            values[n.output] = y = self._node(g, n, [values[t] for t in n.inputs], widths)
            if observe:
                observe(gi, n.output, y)
        return values[g.output]

    def run_graph_by_node(self, gi, batches, before=None):
        """run_graph over a list of batches, node by node: every batch
        through node i before any goes through node i + 1, so `before(i,
        node, inputs)` (each batch's first input of node i) may change node
        i from what all the batches bring it (bias correction: one pass
        where running the graph again per corrected node took O(nodes²)).
        A value is dropped after its last reader; int8 values are held as
        int8 meanwhile. Returns each batch's output."""
        g = self.graphs[gi]
        widths = self._widths(gi)
        last = {}
        for i, n in enumerate(g.nodes):
            for t in n.inputs:
                last[t] = i
        held = [{g.input: x} for x in batches]

        def read(v, t):
            x = v[t]
            return x.astype(np.int32) if isinstance(x, np.ndarray) and x.dtype == np.int8 else x

        for i, n in enumerate(g.nodes):
            if before:
                before(i, n, [read(v, n.inputs[0]) for v in held])
            for v in held:
                y = self._node(g, n, [read(v, t) for t in n.inputs], widths)
                v[n.output] = y.astype(np.int8) if g.is_int8(n.output) and isinstance(y, np.ndarray) else y
            for t in set(n.inputs):
                if last[t] == i and t != g.output:
                    for v in held:
                        del v[t]
        return [read(v, g.output) for v in held]


def as_float(value, graph, tensor):
    """A graph output as float32 numpy (B, C, H, W) (int8: dequantized)."""
    if isinstance(value, np.ndarray):
        scale, zp = graph.quant[tensor]
        return (value - zp).astype(np.float32) * np.float32(scale)
    return value.numpy()
