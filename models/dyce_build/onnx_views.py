"""ONNX pooling, view, reduction and resizing operators as PyTorch code, for
--backbone FILE.onnx (the same make() contract as onnx_ops.py)."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from .onnx_ops import Unsupported, _axis, _torch_pad, _window, batch_shape, const, ints, sized_ints

INT64_MAX = 2 ** 63 - 1


def _pool(kind):
    def make(a, ins, n_out):
        kernel, strides, dilations, pads, symmetric = _window(a, ins)
        if len(kernel) != 2:
            raise Unsupported(f"a {len(kernel)}-D pool (2-D is taken)")
        if n_out > 1:
            raise Unsupported("its indices output is used")
        ceil = bool(a.get("ceil_mode", 0))
        if kind == "max":
            pad = 0 if symmetric else _torch_pad(pads)
            padding = pads[:2] if symmetric else 0
            if dilations != [1, 1]:
                raise Unsupported("a dilated max pool")

            def fn(x):
                if pad:
                    x = F.pad(x, pad, value=float("-inf"))
                return F.max_pool2d(x, kernel, strides, padding, ceil_mode=ceil)
            return fn, []
        include = bool(a.get("count_include_pad", 0))
        if not symmetric and not include:
            raise Unsupported("an average pool with uneven padding left out of its counts")
        pad = 0 if symmetric else _torch_pad(pads)
        padding = pads[:2] if symmetric else 0

        def avg(x):
            if pad:
                x = F.pad(x, pad)
            return F.avg_pool2d(x, kernel, strides, padding, ceil_mode=ceil,
                                count_include_pad=include)
        return avg, []
    return make


def global_pool(kind):
    f = F.adaptive_avg_pool2d if kind == "avg" else F.adaptive_max_pool2d
    return lambda a, ins, _: ((lambda x: f(x, 1)), [])


def flatten(a, ins, _):
    axis = _axis(a, len(ins[0].shape))
    if axis == 0:
        return (lambda x: x.reshape(1, -1)), []
    return (lambda x: torch.flatten(x, axis)), []


def _reshaped(shape, target, allowzero):
    """The shape a Reshape to `target` gives `shape` (0 copies, -1 infers)."""
    t = [shape[d] if v == 0 and not allowzero else v for d, v in enumerate(target)]
    known = math.prod(v for v in t if v != -1)
    return tuple(math.prod(shape) // max(known, 1) if v == -1 else v for v in t)


def reshape(a, ins, _):
    zero = a.get("allowzero", 0)
    t1, t2 = sized_ints(ins[1], "shape")
    o1 = _reshaped(ins[0].shape, t1, zero)
    if ins[1].value2 is None and t1[:1] == [1] and ins[0].shape[0] == 1:
        shape = [-1] + list(o1[1:])   # a batch of 1 written into the file
    else:
        shape = batch_shape(o1, _reshaped(ins[0].shape2, t2, zero), "shape")
    return (lambda x: x.reshape(shape)), []


def expand(a, ins, _):
    t1, t2 = sized_ints(ins[1], "shape")
    o1 = np.broadcast_shapes(ins[0].shape, tuple(t1))
    o2 = np.broadcast_shapes(ins[0].shape2, tuple(t2))
    shape = batch_shape(o1, o2, "shape")
    return (lambda x: x.expand(shape)), []


def transpose(a, ins, _):
    perm = list(a.get("perm", reversed(range(len(ins[0].shape)))))
    return (lambda x: x.permute(perm)), []


def _axes(a, ins, rank):
    axes = a.get("axes")
    if axes is None and len(ins) > 1 and ins[1] is not None:
        axes = ints(ins[1], "axes")
    return None if axes is None else sorted(v + rank if v < 0 else v for v in axes)


def squeeze(a, ins, _):
    axes = _axes(a, ins, len(ins[0].shape))
    if axes is None:
        axes = [d for d, v in enumerate(ins[0].shape) if v == 1 and d > 0]

    def fn(x):
        for d in reversed(axes):
            x = x.squeeze(d)
        return x
    return fn, []


def unsqueeze(a, ins, _):
    given = list(a["axes"]) if "axes" in a else ints(ins[1], "axes")
    rank = len(ins[0].shape) + len(given)
    axes = sorted(v + rank if v < 0 else v for v in given)

    def fn(x):
        for d in axes:
            x = x.unsqueeze(d)
        return x
    return fn, []


def concat(a, ins, _):
    axis = _axis(a, len(ins[0].shape))
    parts = [None if i.dynamic else i.value.float() for i in ins]
    # A constant of batch 1 beside maps of any batch (a class token that a
    # file exported at batch 1 holds expanded): repeated along the batch.
    batched = axis != 0 and any(i.dynamic and i.shape[0] == 1 for i in ins)

    def fn(*xs):
        it = iter(xs)
        xs = [next(it) if p is None else p for p in parts]
        if batched:
            n = next(x for x, p in zip(xs, parts) if p is None).shape[0]
            xs = [x.expand(n, *x.shape[1:]) if p is not None and x.shape[0] == 1 else x
                  for x, p in zip(xs, parts)]
        return torch.cat(xs, axis)
    return fn, []


def split(a, ins, n_out):
    axis = _axis(a, len(ins[0].shape), 0)
    sizes = a.get("split")
    if sizes is None and len(ins) > 1 and ins[1] is not None:
        sizes = ints(ins[1], "split")
    if sizes is None:
        sizes = [-(-ins[0].shape[axis] // n_out)] * n_out
    sizes = list(sizes)
    return (lambda x: torch.split(x, sizes, axis)), []


def slice_(a, ins, _):
    rank = len(ins[0].shape)
    if "starts" in a:   # opset < 10
        starts, ends = list(a["starts"]), list(a["ends"])
        axes = list(a.get("axes", range(len(starts))))
        steps = [1] * len(starts)
    else:
        starts, ends = ints(ins[1], "starts"), ints(ins[2], "ends")
        axes = ints(ins[3], "axes") if len(ins) > 3 and ins[3] is not None else list(range(len(starts)))
        steps = ints(ins[4], "steps") if len(ins) > 4 and ins[4] is not None else [1] * len(starts)
    index = [slice(None)] * rank
    for s, e, ax, st in zip(starts, ends, axes, steps):
        if st != 1:
            raise Unsupported(f"a slice with step {st}")
        ax = ax + rank if ax < 0 else ax
        index[ax] = slice(s, None if e >= INT64_MAX // 2 else e)
    index = tuple(index)
    return (lambda x: x[index]), []


def gather(a, ins, _):
    axis = _axis(a, len(ins[0].shape), 0)
    idx = const(ins[1], "indices").long()
    if idx.dim() == 0:
        i = int(idx)
        return (lambda x: x.select(axis, i)), []
    if idx.dim() != 1:
        raise Unsupported("a Gather of a multi-dimensional index")
    return (lambda x: torch.index_select(x, axis, idx)), []


def pad(a, ins, _):
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = list(a["pads"]) if "pads" in a else ints(ins[1], "pads")
    value = float(a.get("value", 0.0))
    if len(ins) > 2 and ins[2] is not None:
        value = float(const(ins[2], "constant value"))
    rank = len(ins[0].shape)
    tp = _torch_pad(pads)
    while len(tp) > 2 and tp[-2:] == [0, 0]:   # leading dims not padded
        tp = tp[:-2]
    if mode == "constant":
        return (lambda x: F.pad(x, tp, value=value)), []
    if len(tp) > 2 * (rank - 2):
        raise Unsupported(f"{mode} padding of the batch or channel dimension")
    torch_mode = {"reflect": "reflect", "edge": "replicate"}.get(mode)
    if torch_mode is None:
        raise Unsupported(f"padding mode {mode}")
    return (lambda x: F.pad(x, tp, mode=torch_mode)), []


REDUCE = {"ReduceMean": torch.mean, "ReduceSum": torch.sum,
          "ReduceMax": torch.amax, "ReduceMin": torch.amin}


def reduce(op):
    f = REDUCE[op]

    def make(a, ins, _):
        rank = len(ins[0].shape)
        axes = _axes(a, ins, rank) or list(range(rank))
        keep = bool(a.get("keepdims", 1))
        return (lambda x: f(x, axes, keepdim=keep)), []
    return make


def softmax(log):
    def make(a, ins, _):
        rank = len(ins[0].shape)
        axis = _axis(a, rank, -1 if a["_opset"] >= 13 else 1)
        if a["_opset"] < 13 and axis != rank - 1 and any(d != 1 for d in ins[0].shape[axis + 1:]):
            raise Unsupported("a softmax over several dimensions (opset < 13)")
        f = F.log_softmax if log else F.softmax
        return (lambda x: f(x, axis)), []
    return make


def _resized(a, ins):
    """Resize / Upsample: the output's H and W."""
    shape = ins[0].shape
    if len(shape) != 4:
        raise Unsupported("a resize of other than a (N, C, H, W) map")
    if len(ins) > 3 and ins[3] is not None:           # sizes
        return sized_ints(ins[3], "sizes")[0][2:]   # H, W: the same at any batch
    scales_at = 2 if len(ins) > 2 and a["_opset"] >= 11 else 1
    scales = [float(v) for v in const(ins[scales_at], "scales").reshape(-1).tolist()]
    if len(scales) != 4 or scales[:2] != [1.0, 1.0]:
        raise Unsupported("a resize of other than the two spatial dimensions")
    return [int(math.floor(shape[2 + d] * scales[2 + d])) for d in range(2)]


def resize(a, ins, _):
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    coord = a.get("coordinate_transformation_mode", b"half_pixel")
    coord = coord.decode() if isinstance(coord, bytes) else coord
    size = _resized(a, ins)
    if mode == "nearest":
        nearest = a.get("nearest_mode", b"round_prefer_floor")
        nearest = nearest.decode() if isinstance(nearest, bytes) else nearest
        if coord != "asymmetric" or nearest != "floor":
            if a["_opset"] >= 11:
                raise Unsupported(f"nearest resizing with {coord} coordinates and "
                                  f"{nearest} rounding (PyTorch's is asymmetric, floor)")
        return (lambda x: F.interpolate(x, size=size, mode="nearest")), []
    if mode == "linear":
        if coord not in ("align_corners", "pytorch_half_pixel", "half_pixel"):
            raise Unsupported(f"linear resizing with {coord} coordinates")
        align = coord == "align_corners"
        return (lambda x: F.interpolate(x, size=size, mode="bilinear", align_corners=align)), []
    raise Unsupported(f"{mode} resizing")


def layer_norm(a, ins, _):
    rank = len(ins[0].shape)
    axis = _axis(a, rank, -1)
    shape = list(ins[0].shape[axis:])
    w = const(ins[1], "scale").float().reshape(shape)
    b = const(ins[2], "bias").float().reshape(shape) if len(ins) > 2 and ins[2] is not None else None
    eps = float(a.get("epsilon", 1e-5))
    return (lambda x: F.layer_norm(x, shape, w, b, eps)), []


def instance_norm(a, ins, _):
    w, b = const(ins[1], "scale").float(), const(ins[2], "bias").float()
    eps = float(a.get("epsilon", 1e-5))
    return (lambda x: F.instance_norm(x, weight=w, bias=b, eps=eps)), []
