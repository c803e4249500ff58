"""Normalisations without running statistics -> the engine's group_norm.

InstanceNormalization lowers directly (`lower`). Two more are chains of
opset-13 nodes, rewritten before lowering (convert_graph applies `rewrite`):

- GroupNorm, exported as Reshape(x, (N, G, -1)) -> InstanceNormalization
  -> Reshape back to x's shape;
- LayerNorm (and the same formula written by hand), exported as
  ReduceMean -> Sub -> Pow 2 -> ReduceMean -> Add eps -> Sqrt -> Div.

Each becomes one DyceGroupNorm node (`lower`): groups, or the axes
normalised over, and epsilon; the scale and shift that follow stay Mul and
Add nodes, which fusion.py folds into the group_norm where they are per
channel. A chain that matches only in part is left alone, so lowering
refuses its first node with the reason."""

import numpy as np
from onnx import helper, numpy_helper

import dyce_format as fmt

from .common import fail
from .shapes import normalized_axes

OP = "DyceGroupNorm"


class _Graph:
    """The node list with its constants and who reads what."""

    def __init__(self, graph):
        self.nodes = list(graph.node)
        self.consts = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        for n in self.nodes:
            if n.op_type == "Constant" and n.attribute and n.attribute[0].name == "value":
                self.consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
        self.readers = {}
        for n in self.nodes:
            for name in dict.fromkeys(n.input):   # x * x reads x once
                self.readers.setdefault(name, []).append(n)
        for out in graph.output:
            self.readers.setdefault(out.name, []).append(None)
        self.producer = {o: n for n in self.nodes for o in n.output}

    def only_reader(self, tensor, op_type):
        """The one node reading tensor, if it is an op_type (not a graph output)."""
        readers = self.readers.get(tensor, [])
        if len(readers) == 1 and readers[0] is not None and readers[0].op_type == op_type:
            return readers[0]
        return None

    def scalar(self, name):
        value = self.consts.get(name)
        return float(value.ravel()[0]) if value is not None and value.size == 1 else None


def _attr(node, name, default=None):
    for a in node.attribute:
        if a.name == name:
            return helper.get_attribute_value(a)
    return default


def _layer_norm(g, mean):
    """The nodes of x -> (x - mean(x)) / sqrt(var(x) + eps) starting at the
    ReduceMean `mean`, and (x, axes, eps, output); None if it is not one."""
    axes = _attr(mean, "axes")
    if mean.op_type != "ReduceMean" or axes is None or not _attr(mean, "keepdims", 1):
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
    if var is None or _attr(var, "axes") != axes or not _attr(var, "keepdims", 1):
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
    eps = _attr(inorm, "epsilon", 1e-5)
    return ([first, inorm, back], first.input[0], int(spec[1]),
            inorm.input[1], inorm.input[2], eps, back.output[0])


def _fused(name, inputs, output, **attrs):
    return helper.make_node(OP, inputs, [output], name=name, **attrs)


def rewrite(graph):
    """graph.node with every matched normalisation replaced by one
    DyceGroupNorm node (at the place of its last node, where all its inputs
    exist)."""
    g = _Graph(graph)
    replace, drop = {}, set()
    for node in g.nodes:
        if id(node) in drop:
            continue
        found = _layer_norm(g, node)
        if found:
            chain, x, axes, eps, out = found
            fused = _fused(f"{node.name or out} (LayerNorm)", [x], out,
                           axes=axes, epsilon=eps)
        else:
            found = _group_norm(g, node)
            if not found:
                continue
            chain, x, groups, scale, shift, eps, out = found
            fused = _fused(f"{node.name or out} (GroupNorm)", [x, scale, shift], out,
                           groups=groups, epsilon=eps)
        drop.update(id(n) for n in chain)
        replace[id(chain[-1])] = fused
    return [replace.get(id(n), n) for n in g.nodes if id(n) not in drop or id(n) in replace]


def _norm_groups(node, shape, axes):
    """Groups of the group_norm that normalises a `shape` tensor over `axes`
    (LayerNorm): all of (C, H, W) is one group, the spatial axes alone one
    group per channel (InstanceNorm)."""
    rank = len(shape)
    axes = normalized_axes(axes, rank)
    if rank in (2, 3, 4) and axes == list(range(1, rank)):
        return 1
    if rank in (3, 4) and axes == list(range(2, rank)):
        return shape[1]
    fail(node, f"normalisation over axes {axes} of a {tuple(shape)} tensor: only "
                "over all of (C, H, W) or C of (1, C) (one group), or over the "
                "spatial axes (one group per channel); a LayerNorm over the "
                "channels of each pixel (channels-last) is not supported")


def lower(lw, node, attrs):
    """InstanceNormalization, and the GroupNorm / LayerNorm patterns
    (rewrite, above) -> group_norm, with its scale and shift per channel."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    if len(shape) < 2 or shape[0] != 1:
        fail(node, f"input shape {shape} is not (1, C, ...)")
    c = shape[1]
    if node.op_type == "InstanceNormalization":
        if len(shape) not in (3, 4):
            fail(node, f"input shape {shape} is not (1, C, H, W) or (1, C, L)")
        groups = c
    elif "axes" in attrs:
        groups = _norm_groups(node, shape, attrs["axes"])
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
            params=fmt.node_params(NORM_GROUPS=groups, NORM_EPS=fmt.f32_bits(eps)))
