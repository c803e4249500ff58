"""Folding for --backbone FILE.onnx: the nodes of an ONNX graph that compute
from constants and from the input's shape (not its pixels), evaluated at
batch 1 and at batch 2 (onnx_backbone.py) by the converter's own constant
folding (converter/folding.py), given the inputs' values at that batch.
The few operators it does not fold (reading a shape's slice or size,
no-ops, arithmetic a converted graph never holds on constants) are here."""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from converter.folding import FOLD as CONVERTER_FOLD  # noqa: E402  (models/converter)


# Inputs of opset 13 that older opsets give as attributes (the converter
# reads opsets 13-17; ONNX files come older too).
_AS_ATTRIBUTES = {("Squeeze", 1): "axes", ("Unsqueeze", 1): "axes",
                  ("Slice", 1): "starts", ("Slice", 2): "ends", ("Slice", 3): "axes"}


class _Values:
    """What the converter's folding asks of its walk (`lw`), answered from
    one batch's values: const(node, i), and shape(name) for Shape."""

    def __init__(self, node, a, values):
        self.a, self.values = a, values
        self.by_name = dict(zip(node.input, values))

    def const(self, node, i, required=True):
        value = self.values[i] if i < len(self.values) else None
        attribute = _AS_ATTRIBUTES.get((node.op_type, i))
        if value is None and attribute in self.a:
            value = np.array(self.a[attribute], np.int64)
        if value is None and required:
            raise ValueError(f"input {i} is required")
        return value

    def shape(self, name):
        return self.by_name[name].shape


def _shape(a, x):   # opset 15's start and end
    s = np.array(x[0].shape, dtype=np.int64)
    return s[a.get("start", 0):a.get("end", len(s))]


def _variadic(fn):
    return lambda a, x: fn.reduce([v for v in x if v is not None])


OWN = {
    "Shape": _shape, "Size": lambda a, x: np.array(x[0].size, dtype=np.int64),
    "Identity": lambda a, x: x[0], "Dropout": lambda a, x: x[0],
    "Tile": lambda a, x: np.tile(x[0], x[1].astype(np.int64).tolist()),
    "Pow": lambda a, x: np.power(x[0], x[1]), "Sqrt": lambda a, x: np.sqrt(x[0]),
    "Abs": lambda a, x: np.abs(x[0]), "Reciprocal": lambda a, x: 1 / x[0],
    "Floor": lambda a, x: np.floor(x[0]), "Ceil": lambda a, x: np.ceil(x[0]),
    "Relu": lambda a, x: np.maximum(x[0], 0),
    "Min": _variadic(np.minimum), "Max": _variadic(np.maximum),
    "Less": lambda a, x: np.less(x[0], x[1]), "Greater": lambda a, x: np.greater(x[0], x[1]),
}


def _evaluate(node, a, values):
    if node.op_type in OWN:
        return OWN[node.op_type](a, values)
    if node.op_type in CONVERTER_FOLD:
        return CONVERTER_FOLD[node.op_type][0](_Values(node, a, values), node, a)
    raise ValueError(f"{node.op_type} computed from constants is not folded by the builder")


def fold(node, a, inputs):
    """[(at batch 1, at batch 2)] per output of `node` with attributes `a`,
    whose inputs are (at batch 1, at batch 2) pairs (None where absent)."""
    pairs = []
    for b in (0, 1):
        out = _evaluate(node, a, [None if v is None else v[b] for v in inputs])
        pairs.append(out if isinstance(out, (list, tuple)) else [out])
    return [(np.asarray(o1), np.asarray(o2)) for o1, o2 in zip(*pairs)]
