"""Pools and reductions: MaxPool / AveragePool (ceil mode as extra end
padding), the global pools, and ReduceMean / ReduceMax over the spatial
axes (a global pool), over H or W alone (a pool whose window is that
axis) or over the channels at each pixel (channel_reduce: CBAM); adaptive
pools to sizes that do not divide the input (the builder exports them as
dyce.AdaptivePool: PyTorch's exporter refuses them)."""

import numpy as np

import dyce_format as fmt

from . import attention, channels, moves, pixels
from .common import fail
from .shapes import nhwc, normalized_axes, padding, window_out, window_params


def _ceil_mode_pads(size, kernel, stride, begin, end):
    """The end padding that makes a floor-mode window count equal the
    ceil-mode one (PyTorch's rule, which its ONNX export implies: one more
    window when the stride leaves cells over, unless it would start past
    the input and its begin padding)."""
    span = size + begin + end - kernel
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + begin:
        out -= 1
    return max(end, (out - 1) * stride + kernel - size - begin)


def lower_pool(lw, node, attrs):
    x = lw.tensor(node)
    lw.reject_extra_outputs(node)
    shape = lw.shape(x)
    kernel = attrs["kernel_shape"]
    if len(shape) != 4 or len(kernel) != 2:
        fail(node, "only 2-D pooling of a (1, C, H, W) tensor")
    if any(d != 1 for d in attrs.get("dilations", [1, 1])):
        fail(node, f"dilations {attrs['dilations']} are not supported")
    strides = attrs.get("strides", [1, 1])
    pads = padding(node, attrs, shape[2:], kernel, strides, (1, 1))
    count_pad = attrs.get("count_include_pad", 0) if node.op_type == "AveragePool" else 0
    if count_pad and not any(pads):
        count_pad = 0  # no padding to count (and PyTorch counts no overhang)
    if attrs.get("ceil_mode", 0):
        # ceil_mode = floor mode over extra end padding, which a max pool
        # and an average pool that counts no padding both skip.
        ceil = [_ceil_mode_pads(shape[2 + i], kernel[i], strides[i], pads[i], pads[2 + i])
                for i in range(2)]
        counts_overhang = count_pad
        zero_pad = _zero_pad_of(lw, x) if node.op_type == "AveragePool" else None
        if zero_pad is not None and not any(pads):
            # PyTorch's export of AvgPool2d(padding=p, ceil_mode=True,
            # count_include_pad=True): a zero Pad, then this pool. PyTorch
            # counts its windows on the unpadded input with padding p (the
            # last one dropped when it would start in the end padding);
            # fusion.py makes the pool count the Pad's zeros (and any cell
            # past them), so: that many windows over the padded input.
            t, l, b, r = zero_pad
            torch_ceil = [_ceil_mode_pads(shape[2 + i] - begin - end, kernel[i], strides[i],
                                          begin, end) - end
                          for i, (begin, end) in enumerate(((t, b), (l, r)))]
            if torch_ceil != ceil:
                # ONNX's shape inference counted the window PyTorch drops (as
                # onnxruntime does not): the shapes the file declares from
                # here on are one too large, so only the computed ones hold.
                lw.declared.clear()
            ceil, counts_overhang = torch_ceil, 1
        if counts_overhang and ceil != [pads[2], pads[3]]:
            fail(node, "ceil_mode=1 with count_include_pad=1 and padding: the "
                        "windows past the input would count cells PyTorch does not")
        pads = [pads[0], pads[1], ceil[0], ceil[1]]
    oh = window_out(node, shape[2], kernel[0], strides[0], pads[0], pads[2])
    ow = window_out(node, shape[3], kernel[1], strides[1], pads[1], pads[3])
    if node.op_type == "MaxPool" and list(kernel) == list(shape[2:]) and not any(pads):
        # nn.AdaptiveMaxPool2d(1): one window over everything
        return lw.emit(node, "global_max_pool", [x], (1, shape[1], 1, 1))
    more = {"COUNT_PAD": count_pad} if node.op_type == "AveragePool" else {}
    params = window_params(kernel, strides, pads, **more)
    op = "max_pool" if node.op_type == "MaxPool" else "avg_pool"
    lw.emit(node, op, [x], (1, shape[1], oh, ow), params=params)


def _zero_pad_of(lw, x):
    """(top, left, bottom, right) when x is the output of a zero Pad of H
    and W ("pad" op), else None."""
    src = next((op for op in reversed(lw.ops) if op.output == lw.resolve(x)), None)
    return tuple(src.params[fmt.PADS]) if src is not None and src.op == "pad" else None


_GLOBAL_POOL = {"GlobalAveragePool": "global_avg_pool", "ReduceMean": "global_avg_pool",
                "GlobalMaxPool": "global_max_pool", "ReduceMax": "global_max_pool"}


def lower_global_pool(lw, node, attrs):
    x = lw.tensor(node)
    shape = lw.shape(x)
    if len(shape) != 4:
        fail(node, f"input shape {shape} is not (1, C, H, W)")
    lw.emit(node, _GLOBAL_POOL[node.op_type], [x], (1, shape[1], 1, 1))


def _reduce_one_axis(lw, node, x, shape, axis, keep):
    """ReduceMean / ReduceMax over H or W alone: a pool whose window is that
    whole axis (torch.max(x, dim=3), x.mean(2))."""
    _, c, h, w = shape
    kernel = (h, 1) if axis == 2 else (1, w)
    out4 = (1, c, 1, w) if axis == 2 else (1, c, h, 1)
    op = "avg_pool" if node.op_type == "ReduceMean" else "max_pool"
    more = {"COUNT_PAD": 0} if op == "avg_pool" else {}
    params = window_params(kernel, (1, 1), (0, 0, 0, 0), **more)
    if keep:
        return lw.emit(node, op, [x], out4, params=params)
    # (1, C, W) is the bytes of (1, 1, W, C); (1, C, H) those of (1, H, 1, C)
    lw.emit(node, op, [x], (1, c, w if axis == 2 else h), params=params,
            layout=(1, 1, w, c) if axis == 2 else (1, h, 1, c))


def lower_reduce(lw, node, attrs):
    """ReduceMean / ReduceMax over the spatial axes -> a global pool; over
    H or W alone -> a pool over that axis."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    spatial = list(range(2, len(shape)))  # (1, C, H, W) or (1, C, H*W)
    what = "mean" if node.op_type == "ReduceMean" else "max"
    axes = normalized_axes(attrs.get("axes", []), len(shape))
    if x in lw.last and x not in lw.heads and axes == [len(shape) - 1] and \
            attrs.get("keepdims", 1):
        # over the channels of a channels-last map or the features of a
        # sequence, at each pixel / token (ConvNeXt V2's GRN)
        lw.emit(node, "channel_reduce", [x], tuple(shape[:-1]) + (1,),
                layout=tuple(lw.dyce_shape(x)[:3]) + (1,),
                params=fmt.node_params(REDUCE_MAX=int(what == "max")))
        lw.last.add(node.output[0])
        return
    if attention.is_seq(lw, x) and node.op_type == "ReduceMean":
        return attention.lower_token_mean(lw, node, x, axes, attrs.get("keepdims", 1))
    if len(shape) == 5 and axes == [1] and node.op_type == "ReduceMean":
        return channels.reduce_groups(lw, node, x, True, attrs.get("keepdims", 1))
    if x in lw.last and len(shape) == 4 and axes == [1, 2]:
        # x.mean((1, 2)) of a channels-last map (Swin, ConvNeXt written
        # channels-last): the global pool of the same NHWC tensor
        c = shape[3]
        if attrs.get("keepdims", 1):
            lw.emit(node, _GLOBAL_POOL[node.op_type], [x], (1, 1, 1, c), layout=(1, 1, 1, c))
            lw.last.add(node.output[0])
        else:
            lw.emit(node, _GLOBAL_POOL[node.op_type], [x], (1, c))
        return
    if len(shape) == 4 and axes in ([2], [3]) and x not in lw.last:
        return _reduce_one_axis(lw, node, x, shape, axes[0], attrs.get("keepdims", 1))
    if len(shape) == 4 and axes == [1] and x not in lw.last:
        params = fmt.node_params(REDUCE_MAX=int(what == "max"))
        if attrs.get("keepdims", 1):
            return lw.emit(node, "channel_reduce", [x], (1, 1) + tuple(shape[2:]), params=params)
        # torch.max(x, 1)[0] (triplet attention's pools): the (1, H, W) result
        # is the reduced map's values moved (a view of one row, or a gather)
        kept = lw.emit_step(node, "kept", "channel_reduce", [x], (1, 1) + tuple(shape[2:]),
                            params=params)
        return moves.start(lw, node, kept, lambda a: a.reshape((1,) + tuple(shape[2:])))
    if len(shape) not in (3, 4) or axes != spatial:
        fail(node, f"only the {what} over the spatial axes of a (1, C, H, W) "
                    f"or (1, C, H*W) tensor, over H or W alone, or over C "
                    f"(axes {attrs.get('axes')}, shape {shape})")
    out = ((1, shape[1]) + (1,) * len(spatial) if attrs.get("keepdims", 1)
           else (1, shape[1]))
    lw.emit(node, _GLOBAL_POOL[node.op_type], [x], out)


def lower_reduce_sum(lw, node, attrs):
    """ReduceSum over the spatial axes (x.sum((2, 3)), attention pooling's
    weighted sum): the global mean times the number of positions."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    axes = lw.const(node, 1, required=False)
    spatial = list(range(2, len(shape)))
    if axes is not None and len(shape) == 5 and \
            normalized_axes([int(a) for a in axes], 5) == [1]:
        return channels.reduce_groups(lw, node, x, False, attrs.get("keepdims", 1))
    if axes is None or len(shape) not in (3, 4) or x in lw.last or \
            normalized_axes([int(a) for a in axes], len(shape)) != spatial:
        fail(node, f"only the sum over the spatial axes of a (1, C, H, W) or "
                    f"(1, C, L) tensor (axes {None if axes is None else list(axes)}, "
                    f"shape {shape})")
    out = ((1, shape[1]) + (1,) * len(spatial) if attrs.get("keepdims", 1)
           else (1, shape[1]))
    mean = f"{node.output[0]}/mean"
    lw.emit(node, "global_avg_pool", [x], out, out=mean)
    lw.emit(node, "mul", [mean], out, weight=np.array([float(np.prod(shape[2:]))]))


ADAPTIVE = "AdaptivePool"  # domain "dyce": models/dyce_build/package.py writes it


def lower_adaptive(lw, node, attrs):
    """dyce.AdaptivePool (output_size, mode avg / max) -> adaptive_pool."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    size = list(attrs.get("output_size", []))
    if len(shape) != 4 or len(size) != 2 or min(size) < 1 or x in lw.last:
        fail(node, f"an adaptive pool of a (1, C, H, W) tensor to (H', W') "
                    f"(input {shape}, output_size {size})")
    lw.emit(node, "adaptive_pool", [x], (1, shape[1]) + tuple(size),
            params=fmt.node_params(ADAPTIVE_MAX=int(attrs.get("mode") == "max")))


def lower_map_times_column(lw, node):
    """x.view(b, 1, c, h * w) @ weights (b, 1, h * w, 1) — GCNet's global
    context, attention pooling written as a matmul: the weights viewed as a
    one-channel map, times the map at every pixel, summed over the
    positions. True when node is that (before its moved operand is read);
    False for any other MatMul."""
    if node.op_type != "MatMul" or len(node.input) != 2:
        return False
    a, b = node.input
    if a not in lw.moves or lw.is_const(b) or b in lw.heads or b in lw.last:
        return False
    source, offsets = lw.moves[a]
    shape, cols = lw.shape(source), lw.shape(b)
    if len(shape) != 4 or source in lw.last or lw.dyce_shape(source) != nhwc(shape):
        return False
    c, hw = shape[1], shape[2] * shape[3]
    if offsets.shape[-2:] != (c, hw) or int(np.prod(offsets.shape[:-2])) != 1 or \
            not np.array_equal(offsets.reshape(c, hw), pixels.offsets(lw, source).reshape(c, hw)) or \
            cols[-2:] != (hw, 1) or int(np.prod(cols)) != hw:
        return False
    if b in lw.moves:
        moves.pick(lw, node, b, channel_major=True)
    # one query whose H*W scores are the weights, times the map's pixels as
    # the values: the engine's attn . v (C * H * W MACs, as PyTorch counts)
    weights = lw.emit_step(node, "weights", "view", [b], (1, hw))
    lw.emit(node, "matmul", [weights, source], tuple(offsets.shape[:-1]) + (1,),
            layout=(1, 1, 1, c),
            params=fmt.node_params(MATMUL_GROUPS=1, MATMUL_TRANS_B=0,
                                   MATMUL_ALPHA=fmt.f32_bits(1.0), MATMUL_ROWWISE=0))
    return True
