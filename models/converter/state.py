"""The lowering state: one walk over the ONNX graph keeps the folded
constants, the shapes of computed tensors, aliases (views that are the same
dyce tensor) and the dyce ops emitted so far."""

import numpy as np
from onnx import numpy_helper

from .common import Op, fail, where
from .shapes import nhwc


def _declared_shapes(graph):
    """Fully static shapes the model itself declares (outputs, value_info)."""
    shapes = {}
    for info in list(graph.value_info) + list(graph.output):
        dims = info.type.tensor_type.shape.dim
        if dims and all(d.HasField("dim_value") for d in dims):
            shapes[info.name] = tuple(d.dim_value for d in dims)
    return shapes


class Lowering:
    """Walks the ONNX graph once, folding constants and emitting _Ops."""

    def __init__(self, graph):
        self.consts = {t.name: numpy_helper.to_array(t)
                       for t in graph.initializer}
        self.declared = _declared_shapes(graph)
        self.shapes = {}     # dynamic tensor name (ONNX) -> its ONNX shape
        self.alias = {}      # ONNX name -> name of the dyce tensor it equals
        # dyce tensor -> its NHWC shape where nhwc(its ONNX shape) is not it:
        # an op on a (1, C, H*W) view of a (1, C, H, W) tensor keeps H x W.
        self.layout = {}
        # ONNX names of channels-last views (layouts.py): (1, H, W, C) with
        # the channels last, as the dyce tensor behind them is laid out.
        self.last = set()
        # ONNX names of (1, C, 1, 1) vectors expanded over H, W (channels.py):
        # only a Mul or Add may read them, as a per-channel operand.
        self.expanded = set()
        # ONNX names of attention head views (attention.py): name -> (form, G)
        self.heads = {}
        # ONNX names of values moved by reshapes and transposes no view
        # expresses (moves.py): name -> (source tensor, offsets array)
        self.moves = {}
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
                fail(node, f"input {i} is required")
            return None
        name = self.resolve(node.input[i])
        if name not in self.consts:
            fail(node, f"input {i} '{node.input[i]}' must be a constant")
        return self.consts[name]

    def weight(self, node, i, required=True):
        """A float32 constant input (weights, biases, BN statistics)."""
        value = self.const(node, i, required)
        if value is not None and value.dtype != np.float32:
            fail(node, f"input {i} has dtype {value.dtype}, expected float32")
        return value

    def tensor(self, node, i=0):
        """ONNX name of the computed (non-constant) input i of node."""
        if i >= len(node.input) or not node.input[i]:
            fail(node, f"input {i} is required")
        name = node.input[i]
        if self.is_const(name):
            fail(node, f"input {i} '{name}' is a constant; dyce needs a "
                        "computed tensor here")
        if name not in self.shapes:
            fail(node, f"input '{name}' is not computed before this node")
        return name

    def shape(self, name):
        """ONNX shape; an alias keeps its own (e.g. (1, C) of (1, C, 1, 1))."""
        if self.is_const(name):
            return tuple(self.consts[self.resolve(name)].shape)
        return self.shapes[name]

    def set_shape(self, node, shape, out=None):
        """Record the shape of node's output `out` (default: its first),
        checking what the model says."""
        out, shape = out or node.output[0], tuple(int(d) for d in shape)
        if self.declared.get(out, shape) != shape:
            fail(node, f"computed shape {shape} but the model declares "
                        f"{self.declared[out]}")
        self.shapes[out] = shape

    def emit(self, node, op, inputs, shape, out=None, layout=None, **fields):
        """Add a dyce op computing node's output `out` (default: its first)
        with the given ONNX shape; `layout`: its NHWC shape where that is not
        nhwc(shape) (a channels-last result, a pool over one axis)."""
        keeps = (layout is None and inputs and not self.is_const(inputs[0])
                 and tuple(shape) == self.shape(inputs[0]))
        if nhwc(shape) is None and layout is None and not keeps:
            fail(node, f"result shape {tuple(shape)} is neither (1, C, H, W) "
                        "nor (1, K)")
        out = out or node.output[0]
        self.set_shape(node, shape, out)
        if layout is not None:
            self.layout[out] = tuple(layout)
        elif keeps:
            # An op keeping its input's shape keeps its layout.
            kept = self.dyce_shape(inputs[0])
            if kept != nhwc(shape):
                self.layout[out] = kept
            if inputs[0] in self.last:
                self.last.add(out)
            if inputs[0] in self.heads:
                self.heads[out] = self.heads[inputs[0]]
        self.ops.append(Op(op=op, inputs=[self.resolve(n) for n in inputs],
                            output=out, origin=where(node), **fields))

    def emit_step(self, node, suffix, op, inputs, shape, **fields):
        """An intermediate op of a node lowered to several; returns its tensor."""
        name = f"{node.output[0]}/{suffix}"
        self.emit(node, op, inputs, shape, out=name, **fields)
        return name

    def dyce_shape(self, name):
        """NHWC shape of the dyce tensor behind ONNX tensor `name`."""
        t = self.resolve(name)
        return self.layout.get(t) or nhwc(self.shapes[t])

    def make_alias(self, node, source, shape=None, out=None):
        """node's output `out` (default: its first) is source's data; shape
        is its ONNX shape if computed."""
        out = out or node.output[0]
        self.alias[out] = self.resolve(source)
        if shape is not None:
            self.set_shape(node, shape, out)
            if source in self.last and tuple(shape) == self.shape(source):
                self.last.add(out)   # Identity, Dropout of a channels-last view
            if source in self.heads and tuple(shape) == self.shape(source):
                self.heads[out] = self.heads[source]   # ... or of attention scores

    def reject_extra_outputs(self, node):
        """Optional outputs (Dropout mask, MaxPool indices, BN stats) unused."""
        for name in node.output[1:]:
            if name and name in self.used:
                fail(node, f"output '{name}' is used; only the first output "
                            "is supported")
