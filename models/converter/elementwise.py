"""Elementwise ONNX nodes -> dyce ops: Add, Sub, Mul, Div and Neg (add /
mul, a divisor as its reciprocal), Max and Min (max / min), Abs, Sqrt,
Exp, Log and Reciprocal (activations), Pow by a constant exponent, and
the sums of squares F.normalize and x.norm(dim=1) export (ReduceL2,
ReduceSum over the channels). Each takes the operand shapes add / mul
take (docs/FORMAT.md): equal shapes, a vector per channel, a row, a
column, a value per pixel, or a constant; channels-last views and
attention head views as lowering.py takes them for Add and Mul. A node on
constants is folded with numpy."""

import numpy as np

import dyce_format as fmt

from . import attention, layouts, pools
from .common import fail

# Activations that are one ONNX op each (no parameters).
UNARY = {"Abs": ("abs", np.abs), "Sqrt": ("sqrt", np.sqrt),
         "Exp": ("exp", np.exp), "Log": ("log", np.log),
         "Reciprocal": ("reciprocal", np.reciprocal)}

# ONNX ops lowered here that may read a channels-last view (layouts.py
# lists Add, Mul, Div and the older activations itself).
LAST_READERS = set(UNARY) | {"Max", "Min", "Pow"}

# What Pow(x, c) becomes, by exponent: a chain of steps on x.
_POW = {1.0: (), 2.0: ("square",), 0.5: ("sqrt",), -1.0: ("reciprocal",),
        -0.5: ("sqrt", "reciprocal")}


def _step(lw, node, suffix, op, inputs, shape, **fields):
    return lw.emit_step(node, suffix, op, inputs, shape, **fields)


def _folded(lw, node, fn):
    """Evaluate fn on the node's inputs when they are all constants (in
    their dtype): True when it did."""
    inputs = [name for name in node.input if name]
    if not all(map(lw.is_const, inputs)):
        return False
    values = [lw.const(node, i) for i in range(len(node.input)) if node.input[i]]
    with np.errstate(all="ignore"):   # as ONNX: NaN, inf where they arise
        lw.consts[node.output[0]] = np.asarray(fn(*values))
    return True


def _activation_step(lw, node, x, act, out=None):
    """act(x) as an activation op; x's marks (an expanded vector) kept."""
    shape = lw.shape(x)
    if out is None:
        name = _step(lw, node, f"{act}{len(lw.ops)}", "activation", [x], shape, act=act)
    else:
        lw.emit(node, "activation", [x], shape, act=act)
        name = out
    if x in lw.expanded:
        lw.expanded.add(name)
    return name


# ------------------------------------------------------------ constants

def constant_operand(node, k, shape, last=False):
    """Constant second operand of add/mul/max/min as 1, C or H*W*C floats
    (NHWC); `last`: of a channels-last view."""
    if np.broadcast_shapes(k.shape, shape) != tuple(shape):
        fail(node, f"constant of shape {k.shape} would broadcast the "
                    f"{tuple(shape)} tensor to a larger shape")
    if last:
        return layouts.constant_last(k, shape)
    if k.size == 1:
        return k.reshape(1)
    padded = k.reshape((1,) * (len(shape) - k.ndim) + k.shape)
    if all(d == 1 for i, d in enumerate(padded.shape) if i != 1):
        return np.broadcast_to(padded, shape[:2] + (1,) * (len(shape) - 2)).ravel()
    full = np.broadcast_to(padded, shape)
    # NHWC order: (1, C, H, W) as (1, H, W, C), (1, C, L) as (1, L, C)
    to_nhwc = {4: (0, 2, 3, 1), 3: (0, 2, 1)}.get(len(shape))
    return (full.transpose(to_nhwc) if to_nhwc else full).ravel()


def _with_constant(lw, node, op, x, k):
    """op(x, k) for a constant k: the node's output."""
    shape = lw.shape(x)
    if x in lw.heads:      # a relative position bias, a per-head scale
        k = attention.constant_operand(lw, node, x, k)
    else:
        k = constant_operand(node, k, shape, x in lw.last)
    lw.emit(node, op, [x], shape, weight=k)


def concat_inputs(lw, node, axis):
    """The Concat's inputs as computed tensors. A constant map among maps
    concatenated along channels (CoordConv's coordinate channels) is made
    from the first computed one: its channel 0 repeated, times 0, plus the
    constant."""
    computed = [n for n in node.input if n and not lw.is_const(n)]
    if not computed or len(lw.shape(computed[0])) != 4 or axis % 4 != 1 or \
            computed[0] in lw.last or computed[0] in lw.heads:
        return [lw.tensor(node, i) for i in range(len(node.input))]
    _, _, h, w = lw.shape(computed[0])
    names = []
    for i, name in enumerate(node.input):
        if not lw.is_const(name):
            names.append(lw.tensor(node, i))
            continue
        k = lw.consts[name]
        if k.ndim != 4 or k.shape[0] != 1 or k.shape[2:] != (h, w):
            fail(node, f"input {i} '{name}' is a constant of shape {k.shape}; only a "
                        f"(1, C, {h}, {w}) map can join the computed maps")
        shape = (1, k.shape[1], h, w)
        base = _step(lw, node, f"const{i}-base", "channel_gather", [computed[0]], shape,
                     weight=np.zeros(k.shape[1]))
        zero = _step(lw, node, f"const{i}-zero", "mul", [base], shape, weight=np.array([0.0]))
        names.append(_step(lw, node, f"const{i}", "add", [zero], shape,
                           weight=constant_operand(node, k, shape)))
    return names


# ------------------------------------------------------------ two tensors

def _repeats(big, small):
    """small repeats over big: per channel ((1, C, 1) of (1, C, L) too), row,
    column or pixel (of R groups of C channels (1, R, C, H, W): per channel
    of all R·C, or per pixel)."""
    if len(big) == len(small) == 5 and small[1:3] in (big[1:3], (1, 1)):
        big, small = [(1, s[1] * s[2]) + tuple(s[3:]) for s in (big, small)]
    if len(big) == len(small) == 2:
        # a (1, K) vector and one value for all of it (y / y.norm(dim=1, keepdim=True)):
        # the vector is a 1×1 map of K channels, the value one per pixel
        big, small = big + (1, 1), small + (1, 1)
    if len(big) != len(small) or big == small or len(big) not in (3, 4):
        return False
    if small[1] == 1 and small[2:] == big[2:]:
        return True        # one value per pixel for every channel
    return small[:2] == big[:2] and all(d in (1, b) for d, b in zip(small[2:], big[2:]))


def _last_repeats(big, small):
    """NHWC shapes: small is one value per pixel (1, H, W, 1) or per
    channel (1, 1, 1, C) of big (channels-last views)."""
    return big != small and ((small[3] == 1 and small[1:3] == big[1:3]) or
                             (small[1:3] == (1, 1) and small[3] == big[3]))


def tensor_binary(lw, node, op, a, b):
    """op (add, mul, max, min: commutative) of two computed tensors."""
    if a in lw.expanded and b not in lw.expanded:
        a, b = b, a                  # the expanded vector second
    if a in lw.expanded:
        fail(node, "both operands are vectors expanded over height and width")
    sa, sb = lw.shape(a), lw.shape(b)
    if a in lw.heads or b in lw.heads:
        attention.same_view(lw, node, a, b)
        return lw.emit(node, op, [a, b], sa)
    if b in lw.expanded:
        return lw.emit(node, op, [a, b], sa)
    if (a in lw.last) != (b in lw.last) and sa == sb:
        # A sequence and the same tensor channel-major (transposed back, as
        # MLP-Mixer's token mixing leaves it): both in rows.
        a, b = (a, layouts.as_rows(lw, node, b) or b) if a in lw.last else \
            (layouts.as_rows(lw, node, a) or a, b)
    if (a in lw.last) != (b in lw.last):
        fail(node, "one operand is a channels-last view, the other is not")
    if a in lw.last:
        la, lb = lw.dyce_shape(a), lw.dyce_shape(b)
        if sa != sb and len(sa) == len(sb) == 4:
            # one value per pixel, or per channel, of the same NHWC map
            if _last_repeats(la, lb):
                return lw.emit(node, op, [a, b], sa)
            if _last_repeats(lb, la):
                return lw.emit(node, op, [b, a], sb)
        if sa != sb:
            fail(node, f"channels-last operands of shapes {sa} and {sb}")
        if la != lb and la[3] == lb[3]:   # the same tokens, as a map and as a row
            b = lw.emit_step(node, f"grid{len(lw.ops)}", "view", [b], sb, layout=la)
            lw.last.add(b)
        return lw.emit(node, op, [a, b], sa)
    if _repeats(sb, sa):
        (a, sa), (b, sb) = (b, sb), (a, sa)   # the repeated one second
    if sb != sa and not _repeats(sa, sb):
        fail(node, f"operand shapes {sa} and {sb}: need equal shapes or a "
                    "(1, C, 1, 1), (1, C, H, 1), (1, C, 1, W) or (1, 1, H, W) operand")
    lw.emit(node, op, [a, b], sa)


# ------------------------------------------------------------ lowerings

def _negated(lw, node, x):
    """-x, an intermediate mul by -1 (exact)."""
    return _step(lw, node, f"neg{len(lw.ops)}", "mul", [x], lw.shape(x),
                 weight=np.array([-1.0]))


def lower_binary(lw, node, attrs):
    """Add / Mul, Sub (a - b as a + (-b), k - x as (-x) + k), Div (by a
    constant: times 1 / k; k / x as k * reciprocal(x); x / y as x *
    reciprocal(y), e.g. F.normalize) -> dyce add or mul."""
    op = "add" if node.op_type in ("Add", "Sub") else "mul"
    const = [lw.is_const(name) for name in node.input]
    if not any(const):
        a, b = lw.tensor(node, 0), lw.tensor(node, 1)
        if node.op_type == "Sub":
            b = _negated(lw, node, b)
        elif node.op_type == "Div":
            b = _activation_step(lw, node, b, "reciprocal")
        return tensor_binary(lw, node, op, a, b)
    x = lw.tensor(node, const.index(False))
    k = lw.weight(node, const.index(True)).astype(np.float64)
    if node.op_type == "Sub" and const[0]:
        x = _negated(lw, node, x)         # k - x
    elif node.op_type == "Sub":
        k = -k
    elif node.op_type == "Div" and const[0]:  # k / x
        if k.size == 1 and float(k.ravel()[0]) == 1.0:
            return _activation_step(lw, node, x, "reciprocal", out=node.output[0])
        x = _activation_step(lw, node, x, "reciprocal")
    elif node.op_type == "Div":
        k = 1.0 / k
    _with_constant(lw, node, op, x, k)


def lower_neg(lw, node, attrs):
    x = lw.tensor(node)
    lw.emit(node, "mul", [x], lw.shape(x), weight=np.array([-1.0]))


def lower_unary(lw, node, attrs):
    """Abs, Sqrt, Exp, Log, Reciprocal -> the activation of that name."""
    act, fn = UNARY[node.op_type]
    if not _folded(lw, node, fn):
        _activation_step(lw, node, lw.tensor(node), act, out=node.output[0])


def lower_max_min(lw, node, attrs):
    """Max / Min of two tensors -> max / min; of a tensor and a constant ->
    the op with the constant (Max with a scalar 0: relu)."""
    op = node.op_type.lower()
    fold = np.maximum if op == "max" else np.minimum
    if _folded(lw, node, lambda *v: np.asarray(v[0]) if len(v) == 1
               else fold.reduce(np.broadcast_arrays(*v))):
        return
    names = [name for name in node.input if name]
    if len(names) == 1:
        return lw.make_alias(node, names[0], lw.shape(lw.tensor(node)))
    if len(names) != 2:
        fail(node, f"{node.op_type} of {len(names)} inputs: only of one or two")
    const = [lw.is_const(name) for name in node.input]
    if not any(const):
        return tensor_binary(lw, node, op, lw.tensor(node, 0), lw.tensor(node, 1))
    x = lw.tensor(node, const.index(False))
    k = lw.weight(node, const.index(True)).astype(np.float64)
    if op == "max" and k.size == 1 and float(k.ravel()[0]) == 0.0:
        return _activation_step(lw, node, x, "relu", out=node.output[0])
    _with_constant(lw, node, op, x, k)


def lower_pow(lw, node, attrs):
    """Pow(x, c) for a constant c: 2 is x * x, 0.5 sqrt, 1 x itself, -1
    the reciprocal, -0.5 the reciprocal of the square root; other integers
    up to 8 (GeM pooling's x ** 3) by multiplications, then a reciprocal
    for negative ones; any other c as exp(c * log(x)), which gives NaN for
    x < 0 and 0 or inf at x = 0 where PyTorch's pow does."""
    if _folded(lw, node, np.power):
        return
    x = lw.tensor(node)
    if not lw.is_const(node.input[1]):
        fail(node, "the exponent is computed; only a constant exponent is supported")
    e = np.asarray(lw.const(node, 1), np.float64)
    if e.size != 1:
        fail(node, f"exponent {e.ravel().tolist()}: only one exponent for every value")
    c = float(e.ravel()[0])
    if not np.isfinite(c):
        fail(node, f"exponent {c}")
    steps = _POW.get(c)
    if steps is None:
        return _other_power(lw, node, x, c)
    if not steps:
        return lw.make_alias(node, x, lw.shape(x))
    for i, step in enumerate(steps):
        out = node.output[0] if i == len(steps) - 1 else None
        if step == "square" and out is None:
            x = _step(lw, node, "square", "mul", [x, x], lw.shape(x))
        elif step == "square":
            lw.emit(node, "mul", [x, x], lw.shape(x))
        else:
            x = _activation_step(lw, node, x, step, out=out)


def _other_power(lw, node, x, c):
    shape = lw.shape(x)
    n = abs(c)
    if not (n.is_integer() and 2 <= n <= 8):
        logs = _activation_step(lw, node, x, "log")
        scaled = _step(lw, node, "scaled", "mul", [logs], shape, weight=np.array([c]))
        return _activation_step(lw, node, scaled, "exp", out=node.output[0])
    n, acc, base, i = int(n), None, x, 0
    while n:                       # binary powering
        if n & 1:
            acc = base if acc is None else _step(lw, node, f"pow{i}", "mul", [acc, base], shape)
        n >>= 1
        if n:
            base = _step(lw, node, f"sq{i}", "mul", [base, base], shape)
        i += 1
    if c < 0:
        return _activation_step(lw, node, acc, "reciprocal", out=node.output[0])
    lw.make_alias(node, acc, shape)


def _sum_over_channels(lw, node, x, squares):
    """The sum (of squares) of each pixel's channels of a (1, C, H, W) or
    (1, C) tensor, keeping the channel axis: channel_reduce's mean (summed
    in double) times C. Returns its ONNX name; None: not such a sum."""
    shape = lw.shape(x)
    if len(shape) not in (2, 4) or x in lw.last or x in lw.heads or x in lw.expanded:
        return None
    if squares:
        x = _step(lw, node, "square", "mul", [x, x], shape)
    out = (1, 1) + tuple(shape[2:])
    mean = _step(lw, node, "mean", "channel_reduce", [x], out,
                 params=fmt.node_params(REDUCE_MAX=0))
    return mean, out, np.array([float(shape[1])])


def _channel_axes(lw, node, attrs, axes):
    x = lw.tensor(node)
    axes = None if axes is None else [int(a) % len(lw.shape(x)) for a in axes]
    return x, axes == [1] and attrs.get("keepdims", 1)


def _l2_over_positions(lw, node, attrs, x):
    """ReduceL2 over H and W with kept dims of a channels-last (1, H, W, C)
    map (ConvNeXt V2's global response normalisation): sqrt(H·W × the global
    mean of the squares), a channels-last (1, 1, 1, C) vector. False when
    node is not that."""
    shape = lw.shape(x)
    axes = [int(a) % 4 for a in attrs.get("axes") or []] if len(shape) == 4 else None
    if x not in lw.last or axes != [1, 2] or not attrs.get("keepdims", 1):
        return False
    square = _step(lw, node, "square", "mul", [x, x], shape)
    mean = _step(lw, node, "mean", "global_avg_pool", [square], (1, 1, 1, shape[3]),
                 layout=(1, 1, 1, shape[3]))
    lw.emit(node, "mul", [mean], (1, 1, 1, shape[3]), layout=(1, 1, 1, shape[3]),
            weight=np.array([float(shape[1] * shape[2])]), act="sqrt")
    lw.last.add(node.output[0])
    return True


def lower_reduce_l2(lw, node, attrs):
    """ReduceL2 over the channels with kept dims (F.normalize over dim 1):
    sqrt(C * the mean of the squares); over H and W of a channels-last map:
    _l2_over_positions."""
    if _l2_over_positions(lw, node, attrs, lw.tensor(node)):
        return
    x, over_channels = _channel_axes(lw, node, attrs, attrs.get("axes"))
    found = over_channels and _sum_over_channels(lw, node, x, squares=True)
    if not found:
        fail(node, f"only the L2 norm over the channels of a (1, C, H, W) or (1, C) "
                    f"tensor with kept dims (axes {attrs.get('axes')}, shape "
                    f"{lw.shape(x)})")
    mean, out, count = found
    lw.emit(node, "mul", [mean], out, weight=count, act="sqrt")


def lower_reduce_sum(lw, node, attrs):
    """ReduceSum over the channels with kept dims (x.pow(2).sum(1,
    keepdim=True), x.norm(dim=1)'s sum): C times channel_reduce's mean;
    over the spatial axes: pools.lower_reduce_sum."""
    axes = lw.const(node, 1, required=False)
    x, over_channels = _channel_axes(lw, node, attrs, axes)
    found = over_channels and _sum_over_channels(lw, node, x, squares=False)
    if not found:
        return pools.lower_reduce_sum(lw, node, attrs)
    mean, out, count = found
    lw.emit(node, "mul", [mean], out, weight=count)
