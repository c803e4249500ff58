"""Folding for --backbone FILE.onnx: the nodes of an ONNX graph that compute
from constants and from the input's shape (not its pixels), evaluated with
numpy at batch 1 and at batch 2 (onnx_backbone.py)."""

import numpy as np
from onnx import numpy_helper
from onnx.mapping import TENSOR_TYPE_TO_NP_TYPE


def _axes(a, x, at=1):
    axes = a.get("axes")
    if axes is None and len(x) > at and x[at] is not None:
        axes = x[at].reshape(-1).tolist()
    return axes


def _shape(a, x):
    s = np.array(x[0].shape, dtype=np.int64)
    return s[a.get("start", 0):a.get("end", len(s))]


def _constant(a, x):
    if "value" in a:
        return numpy_helper.to_array(a["value"])
    for key in ("value_float", "value_int"):
        if key in a:
            return np.array(a[key], dtype=np.float32 if key == "value_float" else np.int64)
    for key in ("value_floats", "value_ints"):
        if key in a:
            return np.array(a[key], dtype=np.float32 if key == "value_floats" else np.int64)
    raise ValueError("a Constant without a value this builder reads")


def _constant_of_shape(a, x):
    value = numpy_helper.to_array(a["value"]) if "value" in a else np.zeros(1, np.float32)
    return np.full(x[0].astype(np.int64).tolist(), value.reshape(-1)[0], dtype=value.dtype)


def _slice(a, x):
    data = x[0]
    if "starts" in a:
        starts, ends = a["starts"], a["ends"]
        axes = a.get("axes", list(range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = x[1].tolist(), x[2].tolist()
        axes = x[3].tolist() if len(x) > 3 and x[3] is not None else list(range(len(starts)))
        steps = x[4].tolist() if len(x) > 4 and x[4] is not None else [1] * len(starts)
    index = [slice(None)] * data.ndim
    for s, e, ax, st in zip(starts, ends, axes, steps):
        index[ax] = slice(s, e, st)
    return data[tuple(index)]


def _squeeze(a, x):
    axes = _axes(a, x)
    return np.squeeze(x[0], axis=tuple(axes) if axes is not None else None)


def _unsqueeze(a, x):
    axes = _axes(a, x)
    rank = x[0].ndim + len(axes)
    out = x[0]
    for d in sorted(v + rank if v < 0 else v for v in axes):
        out = np.expand_dims(out, d)
    return out


def _reshape(a, x):
    shape = [x[0].shape[d] if v == 0 and not a.get("allowzero", 0) else v
             for d, v in enumerate(x[1].astype(np.int64).tolist())]
    return x[0].reshape(shape)


def _div(a, x):
    if np.issubdtype(x[0].dtype, np.integer) and np.issubdtype(x[1].dtype, np.integer):
        return np.trunc(x[0] / x[1]).astype(x[0].dtype)   # ONNX: integer division truncates
    return x[0] / x[1]


def _scatter_nd(a, x):
    """Swin's attention mask, written region by region into a constant."""
    if a.get("reduction", b"none") not in (b"none", "none"):
        raise ValueError("a ScatterND with a reduction")
    out, idx = x[0].copy(), x[1].astype(np.int64)
    k = idx.shape[-1]
    for i, u in zip(idx.reshape(-1, k), x[2].reshape((-1,) + out.shape[k:])):
        out[tuple(i)] = u
    return out


def _reduce(f):
    return lambda a, x: f(x[0], axis=None if _axes(a, x) is None else tuple(_axes(a, x)),
                          keepdims=bool(a.get("keepdims", 1)))


def _flatten(a, x):
    axis = a.get("axis", 1)
    axis = axis + x[0].ndim if axis < 0 else axis
    return x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)


FOLD = {
    "Shape": _shape, "Size": lambda a, x: np.array(x[0].size, dtype=np.int64),
    "Constant": _constant, "ConstantOfShape": _constant_of_shape,
    "Identity": lambda a, x: x[0], "Dropout": lambda a, x: x[0],
    "Cast": lambda a, x: x[0].astype(TENSOR_TYPE_TO_NP_TYPE[a["to"]]),
    "Gather": lambda a, x: np.take(x[0], x[1].astype(np.int64), axis=a.get("axis", 0)),
    "Concat": lambda a, x: np.concatenate([v for v in x if v is not None], axis=a["axis"]),
    "Slice": _slice, "Squeeze": _squeeze, "Unsqueeze": _unsqueeze, "Reshape": _reshape,
    "Flatten": _flatten, "ScatterND": _scatter_nd,
    "Transpose": lambda a, x: np.transpose(x[0], a.get("perm")),
    "Expand": lambda a, x: x[0] * np.ones(x[1].astype(np.int64).tolist(), dtype=x[0].dtype),
    "Tile": lambda a, x: np.tile(x[0], x[1].astype(np.int64).tolist()),
    "Add": lambda a, x: x[0] + x[1], "Sub": lambda a, x: x[0] - x[1],
    "Mul": lambda a, x: x[0] * x[1], "Div": _div, "Pow": lambda a, x: np.power(x[0], x[1]),
    "Mod": lambda a, x: (np.fmod if a.get("fmod", 0) else np.mod)(x[0], x[1]),
    "Sqrt": lambda a, x: np.sqrt(x[0]), "Neg": lambda a, x: -x[0], "Abs": lambda a, x: np.abs(x[0]),
    "Reciprocal": lambda a, x: 1 / x[0], "Floor": lambda a, x: np.floor(x[0]),
    "Ceil": lambda a, x: np.ceil(x[0]), "Relu": lambda a, x: np.maximum(x[0], 0),
    "Min": lambda a, x: np.minimum.reduce(x), "Max": lambda a, x: np.maximum.reduce(x),
    "Equal": lambda a, x: np.equal(x[0], x[1]), "Less": lambda a, x: np.less(x[0], x[1]),
    "Greater": lambda a, x: np.greater(x[0], x[1]), "Not": lambda a, x: np.logical_not(x[0]),
    "Where": lambda a, x: np.where(x[0], x[1], x[2]),
    "Range": lambda a, x: np.arange(x[0], x[1], x[2]).astype(x[0].dtype),
    "ReduceProd": _reduce(np.prod), "ReduceSum": _reduce(np.sum), "ReduceMean": _reduce(np.mean),
}


def fold(op, a, inputs):
    """[(at batch 1, at batch 2)] per output of node `op` with attributes `a`,
    whose inputs are (at batch 1, at batch 2) pairs (None where absent)."""
    f = FOLD.get(op)
    if f is None:
        raise ValueError(f"{op} computed from constants is not folded by the builder")
    pairs = []
    for b in (0, 1):
        out = f(a, [None if v is None else v[b] for v in inputs])
        pairs.append(out if isinstance(out, (list, tuple)) else [out])
    return [(np.asarray(o1), np.asarray(o2)) for o1, o2 in zip(*pairs)]
