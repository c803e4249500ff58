"""Lowering of ONNX Pad: zero padding of H and W (a "pad" op that fusion.py
merges into its consumer), a constant other than zero (shifted around a
zero pad), reflection and edge padding (pixels.py), zero channels before
and after (a 1x1 convolution copying each channel), and the H and W of a
channels-last view."""

import numpy as np

import dyce_format as fmt

from . import pixels
from .common import fail
from .shapes import window_params


def lower_pad(lw, node, attrs):
    """Zero padding of H and W (in the padding slots of a "pad" op, which
    is not a dyce op): fusion.py merges it into its consumer, or makes it a
    depthwise convolution by one."""
    x = lw.tensor(node)
    pads = [int(p) for p in lw.const(node, 1)]
    value = lw.const(node, 2, required=False)
    shape = lw.shape(x)
    if x in lw.last:
        return _pad_last(lw, node, x, pads, value, attrs)
    if attrs.get("mode", "constant") in ("reflect", "edge"):
        return pixels.lower_pad(lw, node, x, pads, attrs["mode"])
    v = 0.0 if value is None else float(np.asarray(value).ravel()[0])
    if attrs.get("mode", "constant") != "constant" or np.isnan(v) or v == np.inf:
        fail(node, "only constant, reflection and edge padding are supported")
    if (len(shape) == 4 and v == 0.0 and pads[0] == pads[4] == 0 and min(pads) >= 0
            and pads[1] + pads[5] > 0):
        x, shape = _pad_channels(lw, node, x, shape, pads)
        pads = [0, 0] + pads[2:4] + [0, 0] + pads[6:]
        if not any(pads):
            return lw.make_alias(node, x, shape)
    if len(shape) != 4 or pads[:2] + pads[4:6] != [0] * 4 or min(pads) < 0:
        # Say what was asked: a crop, or which axis of which tensor.
        axes = sorted({i % len(shape) for i, p in enumerate(pads) if p} - ({2, 3} if len(shape) == 4 else set()))
        why = ("negative pads (a crop)" if min(pads) < 0 else
               f"it pads axis {', '.join(map(str, axes)) or 'none'} of a {tuple(shape)} tensor")
        fail(node, f"pads {pads}: {why}; only H and W of a (N, C, H, W) map are padded "
             "(channels too, with zeros)")
    t, l, b, r = pads[2], pads[3], pads[6], pads[7]
    if not (t or l or b or r):
        # A Pad of nothing (PyTorch's export of AvgPool2d(ceil_mode=True,
        # count_include_pad=True) writes one): its input itself.
        return lw.make_alias(node, x, shape)
    out = (1, shape[1], shape[2] + t + b, shape[3] + l + r)
    fields = dict(params=fmt.node_params(PAD_T=t, PAD_L=l, PAD_B=b, PAD_R=r),
                  weight=np.ones(shape[1]))   # the channels, should it become a conv
    if v == -np.inf:
        # timm's MaxPool2dSame: a max pool's own padding (fusion.py)
        return lw.emit(node, "pad_min", [x], out, **fields)
    if v == 0.0:
        return lw.emit(node, "pad", [x], out, **fields)
    # (x - v) padded with zeros, plus v: v where padded, x within a rounding
    shifted = lw.emit_step(node, "shifted", "add", [x], shape, weight=np.array([-v]))
    padded = lw.emit_step(node, "padded", "pad", [shifted], out, **fields)
    lw.emit(node, "add", [padded], out, weight=np.array([v]))


def _pad_channels(lw, node, x, shape, pads):
    """Zero channels before and after (a CIFAR ResNet's option-A shortcut:
    F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, p, p))) as a 1x1 convolution
    whose weights copy each channel to its new place: exact (one product
    by 1, the others by 0, no bias). Returns (its tensor, its shape)."""
    before, after, c = pads[1], pads[5], shape[1]
    w = np.zeros((before + c + after, 1, 1, c), np.float32)   # OHWI
    w[np.arange(c) + before, 0, 0, np.arange(c)] = 1.0
    out = (1, before + c + after) + tuple(shape[2:])
    return lw.emit_step(node, "channels", "conv2d", [x], out, weight=w,
                 params=window_params((1, 1), (1, 1), (0, 0, 0, 0), DH=1, DW=1, GROUPS=1)), out


def _pad_last(lw, node, x, pads, value, attrs):
    """Zero padding of H and W of a channels-last (1, H, W, C) view (Swin
    pads its map to whole windows): the same dyce pad; none: x itself."""
    shape = lw.shape(x)
    v = 0.0 if value is None else float(np.asarray(value).ravel()[0])
    if len(shape) != 4 or attrs.get("mode", "constant") != "constant" or v != 0.0 or \
            pads[0] or pads[3] or pads[4] or pads[7] or min(pads) < 0:
        fail(node, f"pads {pads} of a channels-last {shape} view: only zero "
                    "padding of its H and W")
    t, l, b, r = pads[1], pads[2], pads[5], pads[6]
    if not (t or l or b or r):
        return lw.make_alias(node, x, shape)
    out = (1, shape[1] + t + b, shape[2] + l + r, shape[3])
    lw.emit(node, "pad", [x], out, layout=out,
            params=fmt.node_params(PAD_T=t, PAD_L=l, PAD_B=b, PAD_R=r), weight=np.ones(shape[3]))
    lw.last.add(node.output[0])
