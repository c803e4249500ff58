"""The int8 oracle: every int8 op exactly as docs/INT8.md defines it.

The C kernels are compared with this bit for bit, so every step follows
the contract literally:

- sums of products of int8 values (conv2d, fully_connected, pools) are
  computed in floating point on integer values small enough that every
  product and partial sum is exact (float64: below 2^53; conv2d in
  float32 below 2^24, see _conv_sum), so the result is the exact integer
  sum whatever the summation order (checked: |sum| < 2^31, the int32
  accumulator of the engine);
- every multiply of the requantization is one binary32 operation on
  np.float32 values (numpy rounds each elementwise operation once, never
  fusing); `float(acc)` is the round-to-nearest-even conversion of the
  integer to binary32; rne is np.rint (round half to even);
- multipliers are computed in binary32 in the contract's order, e.g.
  mult = np.float32(np.float32(in_scale) * wscale) / np.float32(out_scale);
- activation tables are built in float64.

Values are numpy int32 arrays (B, C, H, W) holding int8 values; float
inputs of quantize are torch float32 tensors (executor.py's values).
"""

import numpy as np
import torch
import torch.nn.functional as F

from dyce_codes import (P_COUNT_PAD, P_DH, P_DW, P_GROUPS, P_KH, P_KW,
                        P_SH, P_SW)

import dyce_format as fmt

from . import executor as ex

F32 = np.float32
INT32_MAX = 2 ** 31 - 1


def rne(x):
    return np.rint(x)


def f32(x):
    return F32(x)


def out_limits(node, scale, zp):
    """(qmin, qmax) of an int8 node's output: −128 / 127 narrowed by a
    fused ReLU / clip: clamp(rne(a / out_scale) + zp, −128, 127), the
    division in binary32."""
    qmin, qmax = -128, 127
    if node.act == "relu":
        qmin = int(np.clip(zp, -128, 127))
    elif node.act == "clip":
        qmin = int(np.clip(rne(F32(node.act_a) / F32(scale)) + zp, -128, 127))
        qmax = int(np.clip(rne(F32(node.act_b) / F32(scale)) + zp, -128, 127))
    elif node.act != "none":
        raise ValueError(f"int8 {node.op} with fused {node.act}")
    return qmin, qmax


def requantize(acc, mult, zp, qmin, qmax):
    """clamp(rne(float(acc) * mult) + zp, qmin, qmax): acc exact integers
    (float64 array), mult binary32 (broadcastable)."""
    if acc.size and np.abs(acc).max() > INT32_MAX:
        raise OverflowError("int8 accumulator exceeds int32")
    y = rne(acc.astype(F32) * mult)                 # binary32 multiply
    return _clamp(y, zp, qmin, qmax)


def _clamp(y, zp, qmin, qmax):
    """clamp(y + zp, qmin, qmax) of binary32 integers y: the add is exact
    below 2^24, and values beyond that clamp to the same limit anyway."""
    y = y.astype(F32) + F32(zp)
    np.minimum(np.maximum(y, F32(qmin), out=y), F32(qmax), out=y)
    return y.astype(np.int32)


def centred(q, zp):
    """(q − zp) as a float64 torch tensor of exact integers."""
    return torch.from_numpy((q - zp).astype(np.float64))


def quantize(x, scale, zp):
    """q = clamp(rne(x · (1 / scale)) + zp, −128, 127), 1/scale in binary32."""
    inv = F32(1.0) / F32(scale)
    x = np.asarray(x, F32)
    return _clamp(rne(x * inv), zp, -128, 127)


def dequantize(q, scale, zp):
    """x = float(q − zp) · scale, binary32."""
    return (q - zp).astype(F32) * F32(scale)


def table(act, a, b, in_scale, in_zp, out_scale, out_zp):
    """The 256-entry table of an int8 activation, t[q + 128]:
    clamp(rne(f(in_scale · (q − zp_in)) / out_scale) + zp_out, −128, 127),
    f in double precision (the scales widened from binary32)."""
    q = np.arange(-128, 128, dtype=np.float64)
    real = float(F32(in_scale)) * (q - in_zp)
    y = ex.act_float(act, torch.from_numpy(real), float(F32(a)),
                     float(F32(b))).numpy()
    return np.clip(rne(y / float(F32(out_scale))) + out_zp, -128, 127).astype(np.int32)


F32_EXACT = 2 ** 24    # integers below this are exact in binary32


def _conv(x, w, p, dtype):
    return F.conv2d(x.to(dtype), w, None, (p[P_SH], p[P_SW]), 0,
                    (p[P_DH], p[P_DW]), p[P_GROUPS]).double()


def _conv_sum(node, g, xq, in_zp):
    """Σ (q_in − zp_in) · q_w of a conv, exact. float32 convolutions give
    exact integer sums while every partial sum is below 2^24 in magnitude
    (any summation order): with K taps of |x| ≤ 255, |w| ≤ 127 that holds
    when K · 255 · 127 < 2^24; larger K splits x = 16 · hi + lo (|hi| ≤ 16,
    0 ≤ lo ≤ 15) into two such convolutions; else float64 (exact to 2^53)."""
    p = node.params
    x = F.pad(centred(xq, in_zp), ex.pads(p))
    taps = p[P_KH] * p[P_KW] * g.shapes[node.inputs[0]][3] // p[P_GROUPS]
    if taps * 255 * 127 < F32_EXACT:
        return _conv(x, ex.conv_weight(node, g.shapes), p, torch.float32).numpy()
    if taps * 16 * 127 < F32_EXACT:
        w = ex.conv_weight(node, g.shapes)
        hi = torch.floor(x / 16.0)
        lo = x - 16.0 * hi
        return (16.0 * _conv(hi, w, p, torch.float32)
                + _conv(lo, w, p, torch.float32)).numpy()
    return _conv(x, ex.conv_weight(node, g.shapes, np.float64), p,
                 torch.float64).numpy()


def _fc_sum(node, g, xq, in_zp):
    cout = g.shapes[node.output][3]
    w = ex.cached(node, "fc64", lambda: ex.tensor_of(
        node.weight, np.float64).reshape(cout, -1))
    x = centred(xq, in_zp).reshape(xq.shape[0], -1)
    return (x @ w.T).numpy()[:, :, None, None]


def weighted(node, g, args):
    """conv2d / fully_connected: acc = bias + Σ (q_in − zp_in) · q_w,
    out = clamp(rne(float(acc) · mult[oc]) + zp_out, qmin, qmax)."""
    in_scale, in_zp = g.quant[node.inputs[0]]
    out_scale, out_zp = g.quant[node.output]
    sums = (_conv_sum if node.op == "conv2d" else _fc_sum)(node, g, args[0], in_zp)
    cout = sums.shape[1]
    bias = (np.zeros(cout) if node.bias is None
            else np.asarray(node.bias, np.int64).astype(np.float64))
    acc = sums + bias.reshape(1, cout, 1, 1)
    wscale = np.asarray(node.wscale, F32)
    mult = (F32(in_scale) * wscale) / F32(out_scale)     # binary32, in order
    return requantize(acc, mult.reshape(1, cout, 1, 1), out_zp,
                      *out_limits(node, out_scale, out_zp))


def _operand(node, g, args):
    """(q, scale, zp) of add / mul's second operand (tensor or constant)."""
    if len(args) > 1:
        return (args[1],) + tuple(g.quant[node.inputs[1]])
    q = ex.constant(node, g.shapes[node.inputs[0]], np.int32)
    return q, fmt.bits_f32(node.params[0]), node.params[1]


def binary(node, g, args):
    """add: rne(float(a − zp_a) · ma + float(b − zp_b) · mb);
    mul: rne(float((a − zp_a) · (b − zp_b)) · m); + zp_out, clamped."""
    sa, za = g.quant[node.inputs[0]]
    qb, sb, zb = _operand(node, g, args)
    so, zo = g.quant[node.output]
    a, b = args[0].astype(np.int64) - za, np.asarray(qb, np.int64) - zb
    if node.op == "add":
        ma, mb = F32(sa) / F32(so), F32(sb) / F32(so)
        y = a.astype(F32) * ma + b.astype(F32) * mb          # binary32
    else:
        m = (F32(sa) * F32(sb)) / F32(so)
        y = (a * b).astype(F32) * m
    qmin, qmax = out_limits(node, so, zo)
    return _clamp(rne(y), zo, qmin, qmax)


def pool_average(node, g, args):
    """avg_pool / global_avg_pool: acc = Σ (q − zp_in), out =
    clamp(rne(float(acc) · m) + zp_out, …), m = ratio / float(count),
    ratio = in_scale / out_scale (binary32)."""
    in_scale, in_zp = g.quant[node.inputs[0]]
    out_scale, out_zp = g.quant[node.output]
    x = centred(args[0], in_zp)
    if node.op == "global_avg_pool":
        acc = x.sum(dim=(2, 3), keepdim=True).numpy()
        count = np.full((1, 1, 1, 1), x.shape[2] * x.shape[3], np.float64)
    else:
        acc, count = ex.avg_pool_sum(x, node.params, node.params[P_COUNT_PAD])
        acc, count = acc.numpy(), count.numpy()
    ratio = F32(in_scale) / F32(out_scale)
    m = ratio / count.astype(F32)
    return requantize(acc, m, out_zp, *out_limits(node, out_scale, out_zp))


def moves(node, g, args):
    """max pools, concat, flatten: int8 data moves (the loader requires
    equal scale and zero point)."""
    out = g.quant[node.output]
    for t in node.inputs:
        if tuple(g.quant[t]) != tuple(out):
            raise ValueError(f"int8 {node.op}: input {t} {g.quant[t]} != "
                             f"output {out}")
    y = ex.float_node(fmt.Node(node.op, node.inputs, node.output,
                               params=node.params),
                      g.shapes, [torch.from_numpy(a.astype(np.float64))
                                 for a in args])
    y = y.numpy().astype(np.int32)
    qmin, qmax = out_limits(node, *out)
    return np.clip(y, qmin, qmax)


def run_node(node, g, args):
    """One node with an int8 input or output."""
    if node.op == "quantize":
        return quantize(args[0].numpy(), *g.quant[node.output])
    if node.op == "dequantize":
        return torch.from_numpy(dequantize(args[0], *g.quant[node.inputs[0]]))
    if node.op in ("conv2d", "fully_connected"):
        return weighted(node, g, args)
    if node.op in ("add", "mul"):
        return binary(node, g, args)
    if node.op == "activation":
        t = table(node.act, node.act_a, node.act_b, *g.quant[node.inputs[0]],
                  *g.quant[node.output])
        return t[args[0] + 128]
    if node.op in ("avg_pool", "global_avg_pool"):
        return pool_average(node, g, args)
    if node.op in ("max_pool", "global_max_pool", "concat", "flatten"):
        return moves(node, g, args)
    raise ValueError(f"op {node.op} does not take int8")
