"""Lowering: each ONNX node on computed tensors becomes dyce ops (NHWC
weights, named parameter slots) or an alias; a node on constants is folded
(folding.py). Anything dyce cannot represent exactly fails with the node
and the reason."""

import numpy as np
import onnx

import dyce_format as fmt

from .common import FLOAT_MAX, fail
from . import attention, channels, elementwise, layouts, moves, norms, pads, pixels, pools, resize
from .folding import FOLD
from .shapes import nhwc, padding, view_target, window_out, window_params


def _lower_conv(lw, node, attrs):
    x = lw.tensor(node)
    w, b = lw.weight(node, 1), lw.weight(node, 2, required=False)
    shape = lw.shape(x)
    one_d = len(shape) == 3 and w.ndim == 3
    if one_d:
        x, w, attrs, shape = _as_row(lw, node, x, w, attrs)
    if len(shape) != 4 or w.ndim != 4:
        fail(node, "only 1-D or 2-D convolution of a (1, C, L) or (1, C, H, W) tensor")
    cout, cin_g, kh, kw = w.shape
    groups = attrs.get("group", 1)
    if list(attrs.get("kernel_shape", [kh, kw])) != [kh, kw]:
        fail(node, f"kernel_shape {attrs['kernel_shape']} != weight shape")
    if shape[1] != cin_g * groups or cout % groups:
        fail(node, f"weight {w.shape} with group={groups} does not match "
                    f"{shape[1]} input channels")
    if b is not None and b.shape != (cout,):
        fail(node, f"bias shape {b.shape}, expected ({cout},)")
    sh, sw = attrs.get("strides", [1, 1])
    dh, dw = attrs.get("dilations", [1, 1])
    pads = padding(node, attrs, shape[2:], (kh, kw), (sh, sw), (dh, dw))
    oh = window_out(node, shape[2], dh * (kh - 1) + 1, sh, pads[0], pads[2])
    ow = window_out(node, shape[3], dw * (kw - 1) + 1, sw, pads[1], pads[3])
    lw.emit(node, "conv2d", [x], (1, cout, ow) if one_d else (1, cout, oh, ow),
            weight=w.transpose(0, 2, 3, 1), bias=b,
            params=window_params((kh, kw), (sh, sw), pads,
                                  DH=dh, DW=dw, GROUPS=groups))


def _as_row(lw, node, x, w, attrs):
    """A 1-D convolution of (1, C, L) as a 2-D one of a 1 x L map (its
    positions pixel by pixel, channels within: dyce's layout of (1, C, L)).
    A view read across — ECA's Conv1d over a pooled vector's channels,
    (1, 1, C) — holds its values in that order too when C is 1.
    Returns (input, weight, 2-D attributes, 4-D shape)."""
    _, c, length = lw.shape(x)
    layout = lw.dyce_shape(x)
    if layout != (1, 1, length, c):
        if layout is None or (layout[3] != c and c != 1) or int(np.prod(layout)) != c * length:
            fail(node, f"Conv1d of {lw.shape(x)}, a view laid out {layout}: its values "
                        "are not in (position, channel) order")
        x = lw.emit_step(node, "row", "view", [x], (1, c, 1, length), layout=(1, 1, length, c))
    two = {k: v for k, v in attrs.items() if k in ("auto_pad", "group")}
    for key, unit in (("strides", 1), ("dilations", 1)):
        if key in attrs:
            two[key] = [unit] + list(attrs[key])
    if "kernel_shape" in attrs:
        two["kernel_shape"] = [1] + list(attrs["kernel_shape"])
    if "pads" in attrs:
        two["pads"] = [0, attrs["pads"][0], 0, attrs["pads"][1]]
    return x, w[:, :, None, :], two, (1, c, 1, length)


def _step(lw, node, suffix, op, inputs, shape, **fields):
    return lw.emit_step(node, suffix, op, inputs, shape, **fields)


def _lower_concat(lw, node, attrs):
    """Concat of computed tensors along channels (axis 1 of NCHW, the last
    axis in NHWC; over MAX_CONCAT_INPUTS inputs a chain of concats), or
    along height, width or length (pixels.concat)."""
    if moves.joined(lw, node, [n for n in node.input if n], attrs["axis"]):
        return
    if any(attention.is_seq(lw, n) for n in node.input):
        rank = len(lw.shape(node.input[0]))
        return attention.lower_concat(lw, node, attrs["axis"] % rank)
    names = elementwise.concat_inputs(lw, node, attrs["axis"])
    if len(names) == 1:  # torch.cat([x]) (DenseNet's first layers): x itself
        return lw.make_alias(node, names[0], lw.shape(names[0]))
    shapes = [lw.shape(n) for n in names]
    rank = len(shapes[0])
    if rank in (3, 4) and attrs["axis"] % rank > 1:
        return pixels.concat(lw, node, names, attrs["axis"] % rank)
    if rank not in (2, 3, 4, 5) or attrs["axis"] % rank != 1:
        fail(node, f"only concatenation along channels, height or width is "
                    f"supported, not axis {attrs['axis']} of {shapes[0]}")
    for name, shape in zip(names, shapes):
        if len(shape) != rank or shape[0] != 1 or shape[2:] != shapes[0][2:]:
            fail(node, f"input '{name}' of shape {shape} does not match "
                        f"{shapes[0]} outside the channel axis")
    pixels.concat_channels(lw, node, names, shapes[0][2:])


def _lower_erf(lw, node, attrs):
    """Erf as a placeholder that _fuse_gelu must turn into a GELU."""
    x = lw.tensor(node)
    lw.emit(node, "erf", [x], lw.shape(x))


def _lower_gemm(lw, node, attrs):
    x = lw.tensor(node)
    b, c = lw.weight(node, 1), lw.weight(node, 2, required=False)
    if attrs.get("transA", 0):
        fail(node, "transA=1 is not supported")
    w = b if attrs.get("transB", 0) else b.T
    w = w * np.float32(attrs.get("alpha", 1.0))
    if c is not None:
        try:
            c = np.broadcast_to(c, (1, w.shape[0])).ravel()
        except ValueError:
            fail(node, f"bias shape {c.shape} does not broadcast to "
                        f"(1, {w.shape[0]})")
        c = c * np.float32(attrs.get("beta", 1.0))
    if x in lw.last:     # tokens (L, E): nn.MultiheadAttention's out_proj
        return layouts.lower_matmul_last(lw, node, x, w.T, c)
    _fully_connected(lw, node, x, w, c)


def _lower_matmul(lw, node, attrs):
    x = lw.tensor(node)
    if not lw.is_const(node.input[1]):
        return attention.lower_matmul(lw, node)
    w = lw.weight(node, 1)
    if w.ndim != 2:
        fail(node, f"weight shape {w.shape} is not (K, N)")
    x = layouts.as_rows(lw, node, x) or x   # a Linear over positions
    if x in lw.last:
        return layouts.lower_matmul_last(lw, node, x, w)
    _fully_connected(lw, node, x, w.T, None)


def _lower_einsum(lw, node, attrs):
    """torch.einsum of a feature map (or vector) and a constant matrix
    over the channels ('bchw,oc->bohw', 'bc,co->bo'): a 1 x 1 convolution
    (a fully connected layer); any other equation is refused."""
    eq = attrs.get("equation", "").replace(" ", "")
    if len(node.input) == 2 and not any(map(lw.is_const, node.input)):
        return attention.lower_einsum(lw, node, eq)
    if len(node.input) != 2 or "->" not in eq or "..." in eq:
        fail(node, f"einsum '{eq}': only a tensor and a constant matrix")
    (left, right), out = eq.split("->")[0].split(","), eq.split("->")[1]
    if lw.is_const(node.input[0]):
        node_inputs, (left, right) = (node.input[1], node.input[0]), (right, left)
    else:
        node_inputs = (node.input[0], node.input[1])
    x, w = node_inputs[0], lw.const(node, list(node.input).index(node_inputs[1]))
    shape = lw.shape(lw.tensor(node, list(node.input).index(x)))
    ok = (len(left) in (2, 4) and len(right) == 2 and len(out) == len(left)
          and left[1] in right and right.replace(left[1], "") == out[1]
          and out[1] not in left and left[0] + left[2:] == out[0] + out[2:])
    if not ok or len(shape) != len(left) or x in lw.last or x in lw.heads:
        fail(node, f"einsum '{eq}': only a contraction of the channels of a "
                    "(N, C, H, W) or (N, C) tensor with a constant matrix")
    w = (w if right.index(left[1]) == 1 else w.T).astype(np.float32)   # (O, C)
    if len(shape) == 2:
        return _fully_connected(lw, node, x, w, None)
    lw.emit(node, "conv2d", [x], (1, w.shape[0]) + tuple(shape[2:]),
            weight=w.reshape(w.shape[0], 1, 1, w.shape[1]),
            params=window_params((1, 1), (1, 1), (0, 0, 0, 0), DH=1, DW=1, GROUPS=1))


def _fully_connected(lw, node, x, w, bias):
    shape = lw.shape(x)
    if len(shape) != 2 or w.ndim != 2 or w.shape[1] != shape[1]:
        fail(node, f"input {shape} and weight {w.shape} (N, K) do not form "
                    "a (1, K) x (K, N) product")
    lw.emit(node, "fully_connected", [x], (1, w.shape[0]), weight=w, bias=bias)


def _lower_batchnorm(lw, node, attrs):
    """Eval-mode BatchNorm as x * scale + shift; may fold into a conv later."""
    x = lw.tensor(node)
    # Training mode is training_mode=1 from opset 14 on, and before it the
    # batch statistics' outputs themselves (an eval-mode export has only Y):
    # either way the node normalises by the batch, not by its running stats.
    if attrs.get("training_mode", 0) or any(node.output[1:]):
        fail(node, "training mode is not supported (BatchNormalization "
                   f"with {sum(1 for o in node.output if o)} outputs: "
                   "export the model after model.eval())")
    gamma, beta, mean, var = (lw.weight(node, i).astype(np.float64)
                              for i in range(1, 5))
    shape = lw.shape(x)
    if len(shape) not in (2, 4) or gamma.shape != (shape[1],):
        fail(node, f"parameters of shape {gamma.shape} for input {shape}")
    scale = gamma / np.sqrt(var + attrs.get("epsilon", 1e-5))
    lw.emit(node, "channel_affine", [x], shape, weight=scale,
            bias=beta - mean * scale)


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
            fail(node, f"min {low} > max {high}")
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


def _lower_selu(lw, node, attrs):
    """SELU = gamma * ELU(alpha)."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    elu = _step(lw, node, "elu", "activation", [x], shape, act="elu",
                act_a=attrs.get("alpha", 1.67326319217681884765625), act_b=0.0)
    gamma = np.float64(attrs.get("gamma", 1.05070102214813232421875))
    lw.emit(node, "mul", [elu], shape, weight=np.array([gamma]))


def _lower_prelu(lw, node, attrs):
    """PReLU: one slope (nn.PReLU()) is a leaky ReLU; one per channel is
    slope * x + (1 - slope) * relu(x), per channel."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    slope = lw.weight(node, 1).astype(np.float64)
    if slope.size == 1 or np.all(slope == slope.ravel()[0]):
        return lw.emit(node, "activation", [x], shape, act="leaky_relu",
                       act_a=float(slope.ravel()[0]), act_b=0.0)
    if len(shape) < 2 or slope.size != shape[1]:
        fail(node, f"slopes of shape {slope.shape}: one, or one per channel "
                    f"of the {tuple(shape)} input")
    a = slope.ravel()
    relu = _step(lw, node, "relu", "activation", [x], shape, act="relu", act_a=0.0, act_b=0.0)
    pos = _step(lw, node, "pos", "channel_affine", [relu], shape, weight=1.0 - a,
                bias=np.zeros_like(a))
    neg = _step(lw, node, "neg", "channel_affine", [x], shape, weight=a,
                bias=np.zeros_like(a))
    lw.emit(node, "add", [pos, neg], shape)


def _lower_view(lw, node, attrs):
    """Reshape-like ops: an alias when the NHWC data is unchanged, else flatten."""
    x = lw.tensor(node)
    src = lw.shape(x)
    try:
        dst = view_target(lw, node, attrs, src)
    except ValueError as err:
        fail(node, str(err))
    if x in lw.moves:
        moves.start(lw, node, x, lambda a: a.reshape(dst))
        return
    if attention.lower_view(lw, node, x, tuple(src), tuple(dst)):
        return
    if x in lw.last and tuple(dst) != tuple(src):
        # a channels-last map regrouped (Swin's window partition): a move
        if not moves.start(lw, node, x, lambda a: a.reshape(dst)):
            fail(node, f"reshape of a channels-last {src} view to {dst}")
        return
    if nhwc(dst) is not None and nhwc(dst) == nhwc(src):
        lw.make_alias(node, x, dst)
    elif len(src) == 4 and dst == (1, src[1], src[2] * src[3]):
        # x.flatten(2) / x.view(n, c, -1): the NHWC bytes of (1, H, W, C)
        # are those of (1, 1, H*W, C), so the view is the same tensor
        lw.make_alias(node, x, dst)
    elif len(src) in (3, 4) and dst == (1, int(np.prod(src))):
        # (1, C, L) too: C-major over the L positions, whichever of H, W
        # the dyce tensor holds them in
        lw.emit(node, "flatten", [x], dst)
    elif nhwc(dst) is not None and max(sum(d != 1 for d in s) for s in (src, dst)) <= 1:
        # a vector to another vector shape ((1, C, 1, 1) to (1, 1, C), as
        # ECA's gate is written): one order of its values whatever the shape
        lw.emit(node, "view", [x], dst)
    elif not moves.start(lw, node, x, lambda a: a.reshape(dst)):
        fail(node, f"reshape {src} -> {dst}: only flattening (1, C, H, W) "
                    "to (1, C*H*W) or (1, C, H*W), (1, C, L) to (1, C*L), or "
                    "dropping unit H, W dimensions")


def _lower_softmax(lw, node, attrs):
    """Softmax and LogSoftmax over channels (a softmax node's log flag)."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    axis = attrs.get("axis", -1) % len(shape)
    if x in lw.heads or attention.is_seq(lw, x):
        return attention.lower_softmax(lw, node, x, axis, node.op_type == "LogSoftmax")
    if len(shape) == 5:
        return channels.softmax_groups(lw, node, x, axis, node.op_type == "LogSoftmax")
    # a one-channel map's positions (1, 1, L): attention pooling's weights
    over_all = len(shape) == 3 and shape[1] == 1 and axis == 2 and x not in lw.last
    if axis != 1 and not over_all:
        fail(node, f"{node.op_type} axis {attrs.get('axis', -1)} of {shape} is "
                    "not the channel axis (nor the positions of a one-channel map)")
    lw.emit(node, "softmax", [x], shape,
            params=fmt.node_params(SOFTMAX_LOG=int(node.op_type == "LogSoftmax"),
                                   SOFTMAX_ALL=int(over_all)))


def _lower_identity(lw, node, attrs):
    lw.reject_extra_outputs(node)
    if node.op_type == "Dropout" and len(node.input) > 2 and node.input[2] \
            and lw.const(node, 2).any():
        # F.dropout(x, p=0.0, training=True) (torchvision's Swin passes
        # training=True to its attention) drops nothing: still an identity.
        ratio = lw.const(node, 1, required=False) if len(node.input) > 1 and \
            node.input[1] else np.asarray(0.5)
        if np.asarray(ratio).any():
            fail(node, "training_mode=True is not supported (dropout with a "
                        f"ratio of {float(np.asarray(ratio).ravel()[0])})")
    source = node.input[0]
    lw.make_alias(node, source,
                  None if lw.is_const(source) else lw.shape(source))


_POOL_ATTRS = {"auto_pad", "ceil_mode", "kernel_shape", "pads", "strides"}
_NO_ATTRS = set()
# op type -> (lowering(lw, node, attrs), allowed attribute names)
LOWER = {
    "Conv": (_lower_conv, {"auto_pad", "dilations", "group", "kernel_shape",
                           "pads", "strides"}),
    "MaxPool": (pools.lower_pool, _POOL_ATTRS | {"dilations", "storage_order"}),
    "AveragePool": (pools.lower_pool, _POOL_ATTRS | {"count_include_pad"}),
    "Pad": (pads.lower_pad, {"mode"}),
    "GlobalAveragePool": (pools.lower_global_pool, _NO_ATTRS),
    "GlobalMaxPool": (pools.lower_global_pool, _NO_ATTRS),
    "ReduceMean": (pools.lower_reduce, {"axes", "keepdims"}),
    "ReduceMax": (pools.lower_reduce, {"axes", "keepdims"}),
    "ReduceSum": (elementwise.lower_reduce_sum, {"keepdims", "noop_with_empty_axes"}),
    "ReduceL2": (elementwise.lower_reduce_l2, {"axes", "keepdims"}),
    "Concat": (_lower_concat, {"axis"}),
    "Erf": (_lower_erf, _NO_ATTRS),
    "Gemm": (_lower_gemm, {"alpha", "beta", "transA", "transB"}),
    "MatMul": (_lower_matmul, _NO_ATTRS),
    "Einsum": (_lower_einsum, {"equation"}),
    "BatchNormalization": (_lower_batchnorm, {"epsilon", "momentum",
                                              "training_mode"}),
    "Add": (elementwise.lower_binary, _NO_ATTRS),
    "Mul": (elementwise.lower_binary, _NO_ATTRS),
    "Sub": (elementwise.lower_binary, _NO_ATTRS),
    "Neg": (elementwise.lower_neg, _NO_ATTRS),
    "Div": (elementwise.lower_binary, _NO_ATTRS),
    "Max": (elementwise.lower_max_min, _NO_ATTRS),
    "Min": (elementwise.lower_max_min, _NO_ATTRS),
    "Pow": (elementwise.lower_pow, _NO_ATTRS),
    "Relu": (_lower_activation, _NO_ATTRS),
    "Clip": (_lower_activation, _NO_ATTRS),
    "Sigmoid": (_lower_activation, _NO_ATTRS),
    "HardSigmoid": (_lower_activation, {"alpha", "beta"}),
    "HardSwish": (_lower_activation, _NO_ATTRS),
    "LeakyRelu": (_lower_activation, {"alpha"}),
    "Tanh": (_lower_activation, _NO_ATTRS),
    "Elu": (_lower_activation, {"alpha"}),
    "Softplus": (_lower_activation, _NO_ATTRS),
    **{op: (elementwise.lower_unary, _NO_ATTRS) for op in elementwise.UNARY},
    "Selu": (_lower_selu, {"alpha", "gamma"}),
    "PRelu": (_lower_prelu, _NO_ATTRS),
    "Reshape": (_lower_view, {"allowzero"}),
    "Flatten": (_lower_view, {"axis"}),
    "Squeeze": (_lower_view, _NO_ATTRS),
    "Unsqueeze": (_lower_view, _NO_ATTRS),
    "Softmax": (_lower_softmax, {"axis"}),
    "LogSoftmax": (_lower_softmax, {"axis"}),
    "InstanceNormalization": (norms.lower, {"epsilon"}),
    "Slice": (channels.lower_slice, _NO_ATTRS),
    "Split": (channels.lower_split, {"axis", "split"}),
    "Gather": (channels.lower_gather, {"axis"}),
    "Expand": (channels.lower_expand, _NO_ATTRS),
    "Tile": (channels.lower_expand, _NO_ATTRS),
    channels.SHUFFLE: (channels.lower_shuffle, {"groups"}),
    "Transpose": (layouts.lower_transpose, {"perm"}),
    "DepthToSpace": (moves.lower_depth_to_space, {"blocksize", "mode"}),
    "SpaceToDepth": (moves.lower_depth_to_space, {"blocksize"}),
    "Resize": (resize.lower, {"mode", "coordinate_transformation_mode", "nearest_mode",
                              "cubic_coeff_a", "exclude_outside", "extrapolation_value"}),
    norms.OP: (norms.lower, {"groups", "axes", "from_axis", "epsilon"}),
    "Identity": (_lower_identity, _NO_ATTRS),
    pools.ADAPTIVE: (pools.lower_adaptive, {"output_size", "mode"}),
    "Dropout": (_lower_identity, {"seed"}),
}


def _attributes(node, allowed):
    attrs = {}
    for a in node.attribute:
        if a.name not in allowed:
            fail(node, f"attribute '{a.name}' is not supported")
        value = onnx.helper.get_attribute_value(a)
        attrs[a.name] = value.decode() if isinstance(value, bytes) else value
    return attrs


RECURRENT = ("GRU", "LSTM", "RNN")


def lower_node(lw, node):
    if node.domain not in ("", "ai.onnx") and not (
            node.domain == "dyce" and node.op_type == pools.ADAPTIVE):
        fail(node, f"operator domain '{node.domain}' is not supported")
    if node.op_type in RECURRENT:   # before any layout check explains its input
        fail(node, "unsupported operator (recurrent layers: dyce runs image classifiers; "
                   "a sequence model needs another runtime)")
    inputs = [name for name in node.input if name]
    if pools.lower_map_times_column(lw, node):
        return   # reads the moved map's source, not its moved values
    if node.op_type != "Shape" and not moves.continues(lw, node):
        moves.materialize(lw, node)   # anything else reads a moved tensor's values
    if node.op_type not in elementwise.LAST_READERS:
        layouts.check_inputs(lw, node)
    attention.check_inputs(lw, node)
    if node.op_type not in ("Mul", "Add", "Div", "Max", "Min") and any(
            i in lw.expanded for i in inputs):
        fail(node, "reads a (1, C, 1, 1) vector expanded over height and width "
                    "(expand_as); only a Mul or Add can take it (a Div, Max or Min too)")
    foldable = node.op_type == "Shape" or all(map(lw.is_const, inputs))
    if node.op_type in FOLD and foldable:
        evaluate, allowed = FOLD[node.op_type]
        lw.consts[node.output[0]] = np.asarray(
            evaluate(lw, node, _attributes(node, allowed)))
    elif node.op_type in LOWER:
        lower, allowed = LOWER[node.op_type]
        lower(lw, node, _attributes(node, allowed))
    elif node.op_type in FOLD:
        fail(node, "supported only on constant inputs")
    else:
        fail(node, "unsupported operator")
