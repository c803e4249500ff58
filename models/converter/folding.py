"""Constant folding: ONNX nodes whose inputs are all constants (shape
arithmetic, Constant, casts, reshapes of weights) are evaluated with numpy
while the graph is lowered, so only computed tensors reach dyce."""

import numpy as np
import onnx
from onnx import numpy_helper

from .common import fail
from .shapes import view_target


def _fold_constant(lw, node, attrs):
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    for key, dtype in (("value_float", np.float32), ("value_floats", np.float32),
                       ("value_int", np.int64), ("value_ints", np.int64)):
        if key in attrs:
            return np.array(attrs[key], dtype)
    fail(node, "Constant without a numeric value")


def slice_indices(size, start, end, step):
    """The indices ONNX Slice takes along an axis of `size` elements."""
    start = int(start) + (size if start < 0 else 0)
    end = int(end) + (size if end < 0 else 0)
    if step > 0:          # clamping as the ONNX Slice spec defines it
        start, end = min(max(start, 0), size), min(max(end, 0), size)
    else:
        start, end = min(max(start, 0), size - 1), min(max(end, -1), size - 1)
    return np.arange(start, end, int(step))


def slice_spec(lw, node, rank):
    """[(axis, start, end, step)] of a Slice node (constant inputs 1..4)."""
    starts, ends = lw.const(node, 1), lw.const(node, 2)
    axes = lw.const(node, 3, required=False)
    steps = lw.const(node, 4, required=False)
    axes = range(len(starts)) if axes is None else axes
    steps = [1] * len(starts) if steps is None else steps
    return [(int(a) % rank, s, e, t) for s, e, a, t in zip(starts, ends, axes, steps)]


def take_slices(data, spec):
    """`data` sliced as a Slice node's spec (slice_spec) says."""
    for axis, start, end, step in spec:
        data = np.take(data, slice_indices(data.shape[axis], start, end, step), axis=axis)
    return data


def _fold_slice(lw, node, attrs):
    data = lw.const(node, 0)
    return take_slices(data, slice_spec(lw, node, data.ndim))


def _fold_div(lw, node, attrs):
    x, y = lw.const(node, 0), lw.const(node, 1)
    if np.issubdtype(x.dtype, np.integer):
        return np.fix(x / y).astype(x.dtype)   # ONNX integer Div truncates
    return x / y


def _fold_constant_of_shape(lw, node, attrs):
    value = attrs.get("value")
    fill = (numpy_helper.to_array(value) if value is not None
            else np.zeros(1, np.float32))
    return np.full(tuple(lw.const(node, 0)), fill.ravel()[0], fill.dtype)


def _fold_expand(lw, node, attrs):
    x, shape = lw.const(node, 0), tuple(lw.const(node, 1))
    return np.broadcast_to(x, np.broadcast_shapes(x.shape, shape)).copy()


def _fold_view(lw, node, attrs):
    x = lw.const(node, 0)
    try:
        return x.reshape(view_target(lw, node, attrs, x.shape))
    except ValueError as err:
        fail(node, str(err))


def _values(lw, node):
    return [lw.const(node, i) for i in range(len(node.input))]


def _elementwise(fn):
    return lambda lw, node, attrs: fn(*_values(lw, node))


def _reduction(fn):
    """ReduceMean / Sum / Max / Min / L2 / Prod of a constant (a weight
    standardised in forward): axes from the attribute or, for ReduceSum,
    the second input; none given: all."""
    def fold(lw, node, attrs):
        x = lw.const(node, 0)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = lw.const(node, 1).tolist()
        if not axes and attrs.get("noop_with_empty_axes", 0):
            return x
        axis = None if not axes else tuple(int(a) % x.ndim for a in axes)
        return np.asarray(fn(x, axis=axis, keepdims=bool(attrs.get("keepdims", 1))), x.dtype)
    return fold


def _l2(x, axis, keepdims):
    return np.sqrt(np.sum(np.square(x), axis=axis, keepdims=keepdims))


_REDUCE_ATTRS = {"axes", "keepdims", "noop_with_empty_axes"}


def _fold_scatter_nd(lw, node, attrs):
    """ScatterND of constants: a mask built by slice assignments in forward
    (Swin's shifted-window mask, `mask[a:b, c:d] = k`)."""
    if attrs.get("reduction", "none") != "none":
        fail(node, f"reduction '{attrs['reduction']}' is not supported")
    data = np.array(lw.const(node, 0))
    indices, updates = lw.const(node, 1), lw.const(node, 2)
    depth = indices.shape[-1]
    for index, value in zip(indices.reshape(-1, depth), updates.reshape(
            (-1,) + data.shape[depth:])):
        data[tuple(index)] = value
    return data


# op type -> (evaluator(lw, node, attrs), allowed attribute names)
FOLD = {
    **{f"Reduce{name}": (_reduction(fn), _REDUCE_ATTRS) for name, fn in (
        ("Mean", np.mean), ("Sum", np.sum), ("Max", np.max), ("Min", np.min), ("L2", _l2),
        ("Prod", np.prod))},   # Prod: the element count of a shape (x.std's divisor)
    "Constant": (_fold_constant, {"value", "value_float", "value_floats",
                                  "value_int", "value_ints"}),
    "Shape": (lambda lw, node, attrs:
              np.array(lw.shape(node.input[0]), np.int64), set()),
    "Gather": (lambda lw, node, attrs: np.take(
        lw.const(node, 0), lw.const(node, 1), axis=attrs.get("axis", 0)),
        {"axis"}),
    "Concat": (lambda lw, node, attrs: np.concatenate(
        _values(lw, node), axis=attrs["axis"]), {"axis"}),
    "Cast": (lambda lw, node, attrs: lw.const(node, 0).astype(
        onnx.mapping.TENSOR_TYPE_TO_NP_TYPE[attrs["to"]]), {"to"}),
    "Slice": (_fold_slice, set()),
    "ConstantOfShape": (_fold_constant_of_shape, {"value"}),
    "Expand": (_fold_expand, set()),
    "Reshape": (_fold_view, {"allowzero"}),
    "Flatten": (_fold_view, {"axis"}),
    "Squeeze": (_fold_view, set()),
    "Unsqueeze": (_fold_view, set()),
    "Transpose": (lambda lw, node, attrs: np.transpose(
        lw.const(node, 0), attrs.get("perm")), {"perm"}),
    "MatMul": (_elementwise(np.matmul), set()),   # a weight computed in forward (spectral_norm)
    "Mod": (lambda lw, node, attrs: (np.fmod if attrs.get("fmod", 0) else np.mod)(
        *_values(lw, node)), {"fmod"}),   # pad sizes from sizes (Swin)
    "Add": (_elementwise(np.add), set()),
    "Sub": (_elementwise(np.subtract), set()),
    "Mul": (_elementwise(np.multiply), set()),
    "Div": (_fold_div, set()),
    "Neg": (_elementwise(np.negative), set()),
    "Equal": (_elementwise(np.equal), set()),
    "Not": (_elementwise(np.logical_not), set()),
    "Where": (_elementwise(np.where), set()),
    "Range": (_elementwise(np.arange), set()),
    "ScatterND": (_fold_scatter_nd, {"reduction"}),
}
