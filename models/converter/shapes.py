"""Shape arithmetic of ONNX operators: NCHW to dyce's NHWC, Reshape-like
targets, padding and pooling / convolution windows."""

import numpy as np

import dyce_format as fmt

from .common import fail


def nhwc(shape):
    """dyce shape of an ONNX shape: (1,C,H,W) -> (1,H,W,C), (1,K) -> (1,1,1,K)."""
    if len(shape) == 4 and shape[0] == 1:
        return (1, shape[2], shape[3], shape[1])
    if len(shape) == 2 and shape[0] == 1:
        return (1, 1, 1, shape[1])
    if len(shape) == 3 and shape[0] == 1:       # (1, C, L): the positions as W
        return (1, 1, shape[2], shape[1])
    if len(shape) == 5 and shape[0] == 1:       # (1, R, C, H, W): R groups of C channels
        return (1, shape[3], shape[4], shape[1] * shape[2])
    return None


def _reshape_target(src, spec, allowzero):
    """ONNX Reshape semantics: 0 copies the input dimension, -1 is inferred."""
    dims = [src[i] if d == 0 and not allowzero else int(d)
            for i, d in enumerate(spec)]
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = int(np.prod(src)) // max(known, 1)
    if int(np.prod(dims)) != int(np.prod(src)) or min(dims, default=0) < 0:
        raise ValueError(f"cannot reshape {tuple(src)} to {tuple(spec)}")
    return tuple(dims)


def normalized_axes(axes, rank):
    return sorted(int(a) % rank for a in axes)


def view_target(lw, node, attrs, src):
    """Output shape of Reshape / Flatten / Squeeze / Unsqueeze for input src."""
    op = node.op_type
    if op == "Reshape":
        return _reshape_target(src, lw.const(node, 1), attrs.get("allowzero", 0))
    if op == "Flatten":
        axis = attrs.get("axis", 1)
        axis += len(src) if axis < 0 else 0
        return (int(np.prod(src[:axis])), int(np.prod(src[axis:])))
    axes = lw.const(node, 1, required=op == "Unsqueeze")
    if op == "Squeeze":
        drop = (normalized_axes(axes, len(src)) if axes is not None
                else [i for i, d in enumerate(src) if d == 1])
        if any(src[i] != 1 for i in drop):
            raise ValueError(f"cannot squeeze axes {drop} of {tuple(src)}")
        return tuple(d for i, d in enumerate(src) if i not in drop)
    out = list(src)                                   # Unsqueeze
    for a in normalized_axes(axes, len(src) + len(axes)):
        out.insert(a, 1)
    return tuple(out)


def padding(node, attrs, in_hw, kernel, strides, dilations):
    """(top, left, bottom, right) padding from `pads` or `auto_pad`."""
    auto = attrs.get("auto_pad", "NOTSET")
    if auto == "NOTSET":
        p = attrs.get("pads", [0, 0, 0, 0])
        pads = (p[0], p[1], p[2], p[3])
    elif auto == "VALID":
        pads = (0, 0, 0, 0)
    elif auto in ("SAME_UPPER", "SAME_LOWER"):
        begin, end = [], []
        for size, k, s, d in zip(in_hw, kernel, strides, dilations):
            out = -(-size // s)
            total = max((out - 1) * s + d * (k - 1) + 1 - size, 0)
            small, big = total // 2, total - total // 2
            begin.append(small if auto == "SAME_UPPER" else big)
            end.append(big if auto == "SAME_UPPER" else small)
        pads = (begin[0], begin[1], end[0], end[1])
    else:
        fail(node, f"unsupported auto_pad {auto}")
    if min(pads) < 0:
        fail(node, f"negative padding {list(pads)}")
    return pads


def window_out(node, size, k_eff, stride, pad_begin, pad_end):
    out = (size + pad_begin + pad_end - k_eff) // stride + 1
    if out < 1:
        fail(node, f"window {k_eff} does not fit input size {size}")
    return out


def window_params(kernel, strides, pads, **more):
    """The params of a conv or pool: window slots, padding and `more`."""
    (kh, kw), (sh, sw), (top, left, bottom, right) = kernel, strides, pads
    return fmt.node_params(KH=kh, KW=kw, SH=sh, SW=sw, PAD_T=top, PAD_L=left,
                           PAD_B=bottom, PAD_R=right, **more)
