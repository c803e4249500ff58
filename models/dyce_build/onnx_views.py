"""ONNX pooling, view, reduction and resizing operators as PyTorch code, for
--backbone FILE.onnx (the same make() contract as onnx_ops.py)."""

import math

import numpy as np
import torch
import torch.nn.functional as F

from .onnx_ops import Unsupported, axis_of, torch_pad, window, batch_shape, const, ints, merged, sized_ints

INT64_MAX = 2 ** 63 - 1


def pool(kind):
    def make(a, ins, n_out):
        kernel, strides, dilations, pads, symmetric = window(a, ins)
        n = len(kernel)
        if n not in (1, 2):
            raise Unsupported(f"a {n}-D pool (1-D and 2-D are taken)")
        if n_out > 1:
            raise Unsupported("its indices output is used")
        ceil = bool(a.get("ceil_mode", 0))
        pad = 0 if symmetric else torch_pad(pads)
        padding = pads[:n] if symmetric else 0
        if n == 1:   # a 1-D pool as a 2-D one of height 1, which the converter takes
            kernel, strides, padding = [1] + kernel, [1] + strides, [0, padding[0]] if padding else 0
        if kind == "max":
            if dilations != [1] * n:
                raise Unsupported("a dilated max pool")

            def fn(x):
                if pad:
                    x = F.pad(x, pad, value=float("-inf"))
                if n == 1:
                    return F.max_pool2d(x.unsqueeze(2), kernel, strides, padding, ceil_mode=ceil).squeeze(2)
                return F.max_pool2d(x, kernel, strides, padding, ceil_mode=ceil)
            return fn, []
        include = bool(a.get("count_include_pad", 0))

        def avg(x):
            if pad:
                x = F.pad(x, pad)
            if n == 1:
                return F.avg_pool2d(x.unsqueeze(2), kernel, strides, padding, ceil_mode=ceil,
                                    count_include_pad=include).squeeze(2)
            return F.avg_pool2d(x, kernel, strides, padding, ceil_mode=ceil, count_include_pad=include)
        if symmetric or include:
            return avg, []
        # Uneven padding left out of the counts (Keras' AveragePooling2D with
        # padding='same'): the zero-padded sums over the count of image pixels
        # in each window, which depends on the map's size only.
        counts = avg(torch.ones((1, 1) + tuple(ins[0].shape[2:])))
        return (lambda x: avg(x) / counts), []
    return make


def global_pool(kind):
    def make(a, ins, _):
        if len(ins[0].shape) == 3:   # (N, C, L): adaptive_*_pool2d would read it as (C, H, W)
            f = F.adaptive_avg_pool1d if kind == "avg" else F.adaptive_max_pool1d
        elif len(ins[0].shape) == 4:
            f = F.adaptive_avg_pool2d if kind == "avg" else F.adaptive_max_pool2d
        else:
            raise Unsupported(f"a global pool of a {len(ins[0].shape)}-D tensor")
        return (lambda x: f(x, 1)), []
    return make


def flatten(a, ins, _):
    axis = axis_of(a, len(ins[0].shape))
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
    axis = axis_of(a, len(ins[0].shape))
    merge = merged(ins)
    # A constant of batch 1 beside maps of any batch (a class token that a
    # file exported at batch 1 holds expanded): repeated along the batch.
    batched = axis != 0 and any(i.dynamic and i.shape[0] == 1 for i in ins)

    def fn(*dynamic):
        xs = merge(dynamic)
        if batched:
            n = dynamic[0].shape[0]
            xs = [x.expand(n, *x.shape[1:]) if not i.dynamic and x.shape[0] == 1 else x
                  for x, i in zip(xs, ins)]
        return torch.cat(xs, axis)
    return fn, []


def split(a, ins, n_out):
    axis = axis_of(a, len(ins[0].shape), 0)
    sizes = a.get("split")
    if sizes is None and len(ins) > 1 and ins[1] is not None:
        sizes = ints(ins[1], "split")
    if sizes is None:   # equal parts over all the node's outputs, read or not
        parts = a["_outputs"]
        sizes = [-(-ins[0].shape[axis] // parts)] * parts
        sizes[-1] = ins[0].shape[axis] - sum(sizes[:-1])
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
    index, backwards = [slice(None)] * rank, []
    for s, e, ax, st in zip(starts, ends, axes, steps):
        ax = ax + rank if ax < 0 else ax
        if st > 0:   # e.g. x[:, :, ::2, ::2], the CIFAR ResNets' option-A shortcut
            index[ax] = slice(s, None if e >= INT64_MAX // 2 else e, st)
            continue
        # PyTorch slices no negative step: the positions, from the shape
        if ax == 0:
            raise Unsupported("a slice with a negative step along the batch")
        e = None if e <= -INT64_MAX // 2 else e
        backwards.append((ax, torch.tensor(range(ins[0].shape[ax])[slice(s, e, st)])))
    index = tuple(index)

    def fn(x):
        x = x[index]
        for ax, idx in backwards:
            x = torch.index_select(x, ax, idx)
        return x
    return fn, []


def gather(a, ins, _):
    axis = axis_of(a, len(ins[0].shape), 0)
    idx = const(ins[1], "indices").long()
    if idx.dim() == 0:
        i = int(idx)
        return (lambda x: x.select(axis, i)), []
    if idx.dim() != 1:
        raise Unsupported("a Gather of a multi-dimensional index")
    if (idx < 0).any():   # ONNX counts negative indices from the end; index_select does not
        if axis == 0:
            raise Unsupported("a Gather of negative indices along the batch")
        idx = idx % ins[0].shape[axis]
    return (lambda x: torch.index_select(x, axis, idx)), []


def pad(a, ins, _):
    mode = a.get("mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    pads = list(a["pads"]) if "pads" in a else ints(ins[1], "pads")
    value = float(a.get("value", 0.0))
    if len(ins) > 2 and ins[2] is not None:
        value = float(const(ins[2], "constant value"))
    rank = len(ins[0].shape)
    tp = torch_pad(pads)
    while len(tp) > 2 and tp[-2:] == [0, 0]:   # leading dims not padded
        tp = tp[:-2]
    if not any(tp):   # a Pad of nothing (PyTorch's before an AvgPool1d at opset 11)
        return (lambda x: x), []
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
        axis = axis_of(a, rank, -1 if a["_opset"] >= 13 else 1)
        if a["_opset"] < 13 and axis != rank - 1 and any(d != 1 for d in ins[0].shape[axis + 1:]):
            raise Unsupported("a softmax over several dimensions (opset < 13)")
        f = F.log_softmax if log else F.softmax
        return (lambda x: f(x, axis)), []
    return make


def _resized(a, ins):
    """Resize / Upsample: the output's H and W, and the scales if given."""
    shape = ins[0].shape
    if len(shape) != 4:
        raise Unsupported("a resize of other than a (N, C, H, W) map")
    if len(ins) > 3 and ins[3] is not None:           # sizes
        return sized_ints(ins[3], "sizes")[0][2:], None   # H, W: the same at any batch
    scales_at = 2 if len(ins) > 2 and a["_opset"] >= 11 else 1
    scales = [float(v) for v in const(ins[scales_at], "scales").reshape(-1).tolist()]
    if len(scales) != 4 or scales[:2] != [1.0, 1.0]:
        raise Unsupported("a resize of other than the two spatial dimensions")
    return [int(math.floor(shape[2 + d] * scales[2 + d])) for d in range(2)], scales[2:]


def _source(n_in, n_out, scale, coord, nearest):
    """The input index of each output index of ONNX's nearest resize."""
    out = []
    for i in range(n_out):
        x = {"half_pixel": (i + 0.5) / scale - 0.5,
             "pytorch_half_pixel": (i + 0.5) / scale - 0.5 if n_out > 1 else 0.0,
             "align_corners": i * (n_in - 1) / (n_out - 1) if n_out > 1 else 0.0,
             "asymmetric": i / scale,
             "tf_half_pixel_for_nn": (i + 0.5) / scale}.get(coord)
        k = {"round_prefer_floor": math.ceil(x - 0.5), "round_prefer_ceil": math.floor(x + 0.5),
             "floor": math.floor(x), "ceil": math.ceil(x)}.get(nearest) if x is not None else None
        if k is None:
            return None
        out.append(min(max(k, 0), n_in - 1))
    return out


def resize(a, ins, _):
    mode = a.get("mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    coord = a.get("coordinate_transformation_mode", b"half_pixel")
    coord = coord.decode() if isinstance(coord, bytes) else coord
    size, scales = _resized(a, ins)
    if mode == "nearest":
        nearest = a.get("nearest_mode", b"round_prefer_floor")
        nearest = nearest.decode() if isinstance(nearest, bytes) else nearest
        if a["_opset"] < 11:   # Upsample, and Resize before opset 11: asymmetric, floor
            coord, nearest = "asymmetric", "floor"
        # Taken where the pixels it picks are PyTorch's (asymmetric, floor, at
        # the ratio of the sizes), as with any rounding at a whole scale
        # (Keras' UpSampling2D, PyTorch's nearest-exact).
        for d in range(2):
            n_in = ins[0].shape[2 + d]
            scale = scales[d] if scales else size[d] / n_in
            picked = F.interpolate(torch.arange(n_in, dtype=torch.float32).reshape(1, 1, -1),
                                   size=size[d], mode="nearest").reshape(-1).long().tolist()
            if _source(n_in, size[d], scale, coord, nearest) != picked:
                raise Unsupported(f"nearest resizing with {coord} coordinates and "
                                  f"{nearest} rounding from {n_in} to {size[d]} pixels "
                                  "(PyTorch picks other pixels)")
        return (lambda x: F.interpolate(x, size=size, mode="nearest")), []
    if mode == "linear":
        if coord not in ("align_corners", "pytorch_half_pixel", "half_pixel"):
            raise Unsupported(f"linear resizing with {coord} coordinates")
        align = coord == "align_corners"
        return (lambda x: F.interpolate(x, size=size, mode="bilinear", align_corners=align)), []
    raise Unsupported(f"{mode} resizing")


def layer_norm(a, ins, _):
    rank = len(ins[0].shape)
    axis = axis_of(a, rank, -1)
    shape = list(ins[0].shape[axis:])
    w = const(ins[1], "scale").float().reshape(shape)
    b = const(ins[2], "bias").float().reshape(shape) if len(ins) > 2 and ins[2] is not None else None
    eps = float(a.get("epsilon", 1e-5))
    return (lambda x: F.layer_norm(x, shape, w, b, eps)), []


def instance_norm(a, ins, _):
    w, b = const(ins[1], "scale").float(), const(ins[2], "bias").float()
    eps = float(a.get("epsilon", 1e-5))
    return (lambda x: F.instance_norm(x, weight=w, bias=b, eps=eps)), []
