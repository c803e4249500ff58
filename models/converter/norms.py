"""Normalisations without running statistics -> the engine's group_norm.

InstanceNormalization lowers directly (`lower`). Three more are matched
before lowering (MATCHERS, rewrite.py):

- GroupNorm, exported as Reshape(x, (N, G, -1)) -> InstanceNormalization
  -> Reshape back to x's shape;
- LayerNorm (and the same formula written by hand), exported as
  ReduceMean -> Sub -> Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div;
- opset 17's LayerNormalization node (torch.onnx.export at opset >= 17).

Each becomes one DyceGroupNorm node (`lower`): groups, or the axes
normalised over, and epsilon; the scale and shift that follow (or that
LayerNormalization takes) are Mul and Add nodes, which fusion.py folds
into the group_norm where they are per channel. A chain that matches only in part is left alone, so lowering
refuses its first node with the reason."""

import numpy as np

import dyce_format as fmt

from . import rewrite
from .attention import windowed
from .common import fail
from .shapes import normalized_axes

OP = "DyceGroupNorm"


def _layer_norm(g, mean):
    """The nodes of x -> (x - mean(x)) / sqrt(var(x) + eps) starting at the
    ReduceMean `mean`, and (x, axes, eps, output); None if it is not one."""
    axes = rewrite.attr(mean, "axes")
    if mean.op_type != "ReduceMean" or axes is None or not rewrite.attr(mean, "keepdims", 1):
        return None
    x = mean.input[0]
    sub = g.only_reader(mean.output[0], "Sub")
    if sub is None or list(sub.input) != [x, mean.output[0]]:
        return None
    d = sub.output[0]
    readers = g.readers.get(d, [])
    square = next((n for n in readers if n is not None and (
        (n.op_type == "Pow" and g.scalar(n.input[1]) == 2.0)
        or (n.op_type == "Mul" and list(n.input) == [d, d]))), None)
    div = next((n for n in readers if n is not None and n.op_type == "Div"
                and n.input[0] == d), None)
    if square is None or div is None or len(readers) != 2:
        return None
    var = g.only_reader(square.output[0], "ReduceMean")
    if var is None or rewrite.attr(var, "axes") != axes or not rewrite.attr(var, "keepdims", 1):
        return None
    add = g.only_reader(var.output[0], "Add")
    eps = add and g.scalar(add.input[1])
    sqrt = add and g.only_reader(add.output[0], "Sqrt")
    if eps is None or sqrt is None or div.input[1] != sqrt.output[0] \
            or g.only_reader(sqrt.output[0], "Div") is not div:
        return None
    return [mean, sub, square, var, add, sqrt, div], x, list(axes), eps, div.output[0]


def _group_norm(g, first):
    """Reshape (N, G, -1) -> InstanceNormalization -> Reshape back, starting at
    the Reshape `first`: (nodes, x, groups, scale, shift, eps, output)."""
    if first.op_type != "Reshape":
        return None
    spec = g.consts.get(first.input[1])
    if spec is None or spec.ndim != 1 or len(spec) != 3 or int(spec[1]) < 1:
        return None
    inorm = g.only_reader(first.output[0], "InstanceNormalization")
    back = inorm and g.only_reader(inorm.output[0], "Reshape")
    if back is None:
        return None
    target = g.producer.get(back.input[1])
    # The shape back is Shape(x) (PyTorch's export) or a constant, which
    # lowering checks against x's shape when it folds the Reshape.
    if not ((target is not None and target.op_type == "Shape"
             and target.input[0] == first.input[0]) or back.input[1] in g.consts):
        return None
    eps = rewrite.attr(inorm, "epsilon", 1e-5)
    return ([first, inorm, back], first.input[0], int(spec[1]),
            inorm.input[1], inorm.input[2], eps, back.output[0])


def _layer_normalization(first):
    """Opset 17's LayerNormalization(x, scale[, bias]) over the axes from
    `axis` on -> DyceGroupNorm, Mul scale[, Add bias]. Its optional mean
    and inverse deviation outputs (training) are left to be refused."""
    if first.op_type != "LayerNormalization" or len(first.output) > 1 \
            or len(first.input) < 2:
        return None
    out, name = first.output[0], first.name or first.output[0]
    norm = rewrite.node(OP, f"{name} (LayerNorm)", [first.input[0]], f"{out}/normed",
                        from_axis=rewrite.attr(first, "axis", -1),
                        epsilon=rewrite.attr(first, "epsilon", 1e-5))
    has_bias = len(first.input) > 2 and first.input[2]
    scaled = rewrite.node("Mul", f"{name} (scale)", [norm.output[0], first.input[1]],
                          f"{out}/scaled" if has_bias else out)
    nodes = [norm, scaled]
    if has_bias:
        nodes.append(rewrite.node("Add", f"{name} (bias)",
                                  [scaled.output[0], first.input[2]], out))
    return [first], nodes


def _match(view, first):
    """A LayerNorm or GroupNorm chain starting at `first` (rewrite.py)."""
    found = _layer_normalization(first)
    if found:
        return found
    found = _layer_norm(view, first)
    if found:
        chain, x, axes, eps, out = found
        return chain, rewrite.node(OP, f"{first.name or out} (LayerNorm)", [x], out,
                                   axes=axes, epsilon=eps)
    found = _group_norm(view, first)
    if found:
        chain, x, groups, scale, shift, eps, out = found
        return chain, rewrite.node(OP, f"{first.name or out} (GroupNorm)",
                                   [x, scale, shift], out, groups=groups, epsilon=eps)
    return None


MATCHERS = (_match,)


def _norm_groups(node, shape, axes, last):
    """(groups, pixelwise) of the group_norm that normalises a `shape` tensor
    over `axes` (LayerNorm): all of (C, H, W) is one group, the spatial axes
    alone one group per channel (InstanceNorm), the channels alone one group
    at each pixel (ConvNeXt's LayerNorm: axis 1, or the last axis of a
    channels-last view)."""
    rank = len(shape)
    axes = normalized_axes(axes, rank)
    if last:
        if axes == [rank - 1]:
            return 1, 1
    elif rank in (2, 3, 4) and axes == list(range(1, rank)):
        return 1, 0
    elif rank in (3, 4) and axes == list(range(2, rank)):
        return shape[1], 0
    elif rank in (3, 4) and axes == [1]:
        return 1, 1
    fail(node, f"normalisation over axes {axes} of a {tuple(shape)} "
                f"{'channels-last view' if last else 'tensor'}: only over all of "
                "(C, H, W) or C of (1, C), over the spatial axes (InstanceNorm) or "
                "over the channels at each pixel")


def lower(lw, node, attrs):
    """InstanceNormalization, and the GroupNorm / LayerNorm patterns
    (rewrite, above) -> group_norm, with its scale and shift per channel."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    # A batch of windows' sequences (W, L, E) is the dyce tensor (1, W, L, E):
    # a LayerNorm over E normalises each token as on one sequence.
    if len(shape) < 2 or (shape[0] != 1 and not windowed(lw, x)):
        fail(node, f"input shape {shape} is not (1, C, ...)")
    c = shape[-1] if x in lw.last else shape[1]
    pixelwise = 0
    if node.op_type == "InstanceNormalization":
        if len(shape) not in (3, 4):
            fail(node, f"input shape {shape} is not (1, C, H, W) or (1, C, L)")
        groups = c
    elif "axes" in attrs or "from_axis" in attrs:
        axes = attrs["axes"] if "axes" in attrs else \
            range(attrs["from_axis"] % len(shape), len(shape))
        groups, pixelwise = _norm_groups(node, shape, axes, x in lw.last)
    else:
        groups = attrs["groups"]
        if c % groups:
            fail(node, f"{groups} groups do not divide {c} channels")
    eps = float(attrs.get("epsilon", 1e-5))
    if not eps > 0:
        fail(node, f"epsilon {eps} is not > 0")
    # The InstanceNormalization's scale and shift: one per channel of its
    # input, which in the GroupNorm pattern is one per group, shared by
    # the group's channels.
    per = c if node.op_type == "InstanceNormalization" else groups
    scale, shift = np.ones(c), np.zeros(c)
    for i, into in ((1, scale), (2, shift)):
        value = lw.weight(node, i, required=False)
        if value is None:
            continue
        if value.shape != (per,):
            fail(node, f"input {i} of shape {value.shape}, expected ({per},)")
        into[:] = np.repeat(value.astype(np.float64), c // per)
    lw.emit(node, "group_norm", [x], shape, weight=scale, bias=shift,
            params=fmt.node_params(NORM_GROUPS=groups, NORM_EPS=fmt.f32_bits(eps),
                                   NORM_PIXELWISE=pixelwise))
