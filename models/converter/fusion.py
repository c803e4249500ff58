"""Rewrites of the lowered op list (REWRITES, in order): zero Pads merged
into their consumer (or, where it cannot take them, made a convolution by
one), GELU / SiLU / hard-swish patterns fused into one
activation, a max and a min by scalars into a clip, BatchNorm, constant scales and bias Adds folded into the
preceding conv or fully connected layer, a scale and shift into the preceding group_norm,
a channel_gather of a channel_gather composed, activations fused into
their producer; and pruning
of ops that do not reach the output."""

import numpy as np

import dyce_format as fmt
from dyce_codes import P_COUNT_PAD, P_MATMUL_ALPHA

from .common import ConvertError, Op


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


def _identity_conv(pad):
    """A zero Pad no consumer can take in as its own padding: a depthwise
    1x1 convolution by one with that padding (x * 1 is x: exact)."""
    pad.op = "conv2d"
    pad.params = fmt.node_params(KH=1, KW=1, SH=1, SW=1, DH=1, DW=1,
                                 GROUPS=len(pad.weight), **dict(zip(
                                     ("PAD_T", "PAD_L", "PAD_B", "PAD_R"),
                                     pad.params[fmt.PADS])))
    pad.weight = np.ones((len(pad.weight), 1, 1, 1))


def _absorb_pads(ops, output):
    """Merge each zero Pad into its only consumer, a conv or avg pool; any
    other becomes a convolution by one."""
    for pad in [op for op in ops if op.op == "pad"]:
        readers = _consumers(ops, output).get(pad.output, [])
        target = readers[0] if len(readers) == 1 else None
        if target is None or target.op not in ("conv2d", "avg_pool") or (
                target.op == "avg_pool" and any(target.params[fmt.PADS])
                and not target.params[P_COUNT_PAD]):
            _identity_conv(pad)
            continue
        own = target.params[fmt.PADS]
        if target.op == "avg_pool":
            target.params[P_COUNT_PAD] = 1  # padded zeros are real cells
        target.params[fmt.PADS] = [p + q for p, q in
                                   zip(own, pad.params[fmt.PADS])]
        target.inputs = [pad.inputs[0]]
        ops.remove(pad)


def _absorb_min_pads(ops, output):
    """A -inf Pad (F.pad(x, p, value=-inf), timm's MaxPool2dSame) is the
    padding of the max pool that alone reads it: a max pool's padded cells
    never win."""
    for pad in [op for op in ops if op.op == "pad_min"]:
        readers = _consumers(ops, output).get(pad.output, [])
        if len(readers) != 1 or readers[0].op != "max_pool":
            raise ConvertError(f"{pad.origin}: padding with -inf is supported only "
                               "before a max pool that alone reads it")
        target = readers[0]
        target.params[fmt.PADS] = [p + q for p, q in
                                   zip(target.params[fmt.PADS], pad.params[fmt.PADS])]
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


def _scalar_bound(op):
    """("max" or "min", value) of a max / min by a scalar constant (relu:
    ("max", 0)) without a fused activation, else None."""
    if op is not None and op.op == "activation" and op.act == "relu":
        return "max", 0.0
    if (op is not None and op.op in ("max", "min") and len(op.inputs) == 1
            and op.act == "none" and np.size(op.weight) == 1):
        return op.op, float(np.ravel(op.weight)[0])
    return None


def _fuse_clips(ops, output):
    """min(max(x, a), b) and max(min(x, b), a) with scalars a <= b
    (torch.clamp written with torch.max / torch.min) -> clip(a, b): the
    same values, fusable into the op before."""
    for outer in [op for op in ops if op.op in ("max", "min")]:
        bound = _scalar_bound(outer)
        inner = bound and _sole_producer(ops, outer.inputs[0], output)
        other = _scalar_bound(inner)
        if other is None or other[0] == bound[0]:
            continue
        lo, hi = (other[1], bound[1]) if other[0] == "max" else (bound[1], other[1])
        if lo <= hi:
            outer.op, outer.inputs, outer.weight = "activation", inner.inputs, None
            outer.act, outer.act_a, outer.act_b = "clip", lo, hi
            ops.remove(inner)


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
    fused = Op(op="activation", inputs=[x], output=chain[-1].output, act=act,
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


def _fold_scale_mul(ops, output):
    """mul by a scalar / per-channel constant after conv / fc (ConvNeXt's
    layer scale) -> its weights and bias."""
    for mul in [op for op in ops if op.op == "mul" and len(op.inputs) == 1]:
        prev = _fusable_producer(ops, mul.inputs[0], output,
                                 ("conv2d", "fully_connected"))
        if prev is None or mul.weight.size not in (1, prev.weight.shape[0]):
            continue
        k = np.broadcast_to(np.asarray(mul.weight, np.float64), prev.weight.shape[:1])
        shape = (-1,) + (1,) * (prev.weight.ndim - 1)
        prev.weight = prev.weight.astype(np.float64) * k.reshape(shape)
        if prev.bias is not None:
            prev.bias = np.asarray(prev.bias, np.float64) * k
        prev.output = mul.output
        ops.remove(mul)


def _fold_matmul_scale(ops, output):
    """mul by a scalar after a matmul (attention's 1 / sqrt(d)) -> its alpha."""
    for mul in [op for op in ops if op.op == "mul" and len(op.inputs) == 1]:
        prev = _fusable_producer(ops, mul.inputs[0], output, ("matmul",))
        if prev is None or np.size(mul.weight) != 1:
            continue
        alpha = fmt.bits_f32(prev.params[P_MATMUL_ALPHA]) * float(np.ravel(mul.weight)[0])
        if not np.isfinite(np.float32(alpha)):
            continue
        prev.params = list(prev.params)
        prev.params[P_MATMUL_ALPHA] = fmt.f32_bits(alpha)
        prev.output = mul.output
        ops.remove(mul)


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


def _fold_into_norm(ops, output):
    """mul / add by a scalar or per-channel constant after a group_norm (the
    scale and shift nn.GroupNorm and nn.LayerNorm export as separate Mul and
    Add) -> its own scale and shift."""
    for op in [op for op in ops if op.op in ("mul", "add") and len(op.inputs) == 1]:
        prev = _fusable_producer(ops, op.inputs[0], output, ("group_norm",))
        if prev is None or op.weight.size not in (1, prev.weight.size):
            continue
        k = np.broadcast_to(np.asarray(op.weight, np.float64), prev.weight.shape)
        if op.op == "mul":
            prev.weight = np.asarray(prev.weight, np.float64) * k
            prev.bias = np.asarray(prev.bias, np.float64) * k
        else:
            prev.bias = np.asarray(prev.bias, np.float64) + k
        prev.output = op.output
        ops.remove(op)


def _compose_gathers(ops, output):
    """channel_gather of a channel_gather (a shuffle, then a slice) -> one."""
    for op in [op for op in ops if op.op == "channel_gather"]:
        prev = _sole_producer(ops, op.inputs[0], output)
        if prev is None or prev.op != "channel_gather" or \
                any(fmt.gather_block(g) > 1 for g in (op, prev)):
            continue   # (gathers of blocks of pixels stay as they are)
        op.weight = np.asarray(prev.weight)[np.asarray(op.weight, np.int64)]
        op.inputs = prev.inputs
        ops.remove(prev)


_FUSE_INTO = ("conv2d", "fully_connected", "add", "mul", "max", "min",
              "channel_affine", "group_norm")


def _fuse_activations(ops, output):
    for act in [op for op in ops if op.op == "activation"]:
        prev = _fusable_producer(ops, act.inputs[0], output, _FUSE_INTO)
        if prev is None:
            continue
        prev.act, prev.act_a, prev.act_b = act.act, act.act_a, act.act_b
        prev.output = act.output
        ops.remove(act)


def prune(ops, output):
    """Drop ops whose results never reach the output."""
    needed, kept = {output}, []
    for op in reversed(ops):
        if op.output in needed:
            kept.append(op)
            needed.update(op.inputs)
    return kept[::-1]


# The rewrites in the order convert_graph applies them.
# (bias adds before and after the scales: x W + b then * k, as a Linear
# with a layer scale gives, and x W * k then + b)
REWRITES = (_absorb_min_pads, _absorb_pads, _fuse_gelu, _fuse_gate_patterns, _fuse_clips, _fold_affine,
            _fold_bias_add, _fold_scale_mul, _fold_bias_add, _fold_into_norm,
            _fold_matmul_scale, _compose_gathers, _fuse_activations)
