"""Resize (F.interpolate, nn.Upsample) -> the engine's resize: nearest
(PyTorch's default: asymmetric coordinates, the index rounded down) and
bilinear (half-pixel coordinates, or aligned corners), by scales or to
sizes. The source step per output pixel is stored as PyTorch computes it
(1 / scale in float, in / out, or (in - 1) / (out - 1) aligning corners),
so the engine samples where PyTorch does. Other modes are refused."""

import numpy as np

import dyce_format as fmt

from .common import fail

_COORDS = {("nearest", "asymmetric"): 0, ("linear", "half_pixel"): 0,
           ("linear", "pytorch_half_pixel"): 0, ("linear", "align_corners"): 1}


def _steps(node, scales, sizes, shape):
    """(out_h, out_w, inv_h, inv_w, align) of a Resize of a (1, C, H, W) tensor."""
    _, c, h, w = shape
    if sizes is not None:
        sizes = [int(v) for v in sizes]
        if len(sizes) != 4 or sizes[:2] != [1, c] or min(sizes) < 1:
            fail(node, f"sizes {sizes}: only height and width of a (1, {c}, H, W) tensor")
        out = sizes[2:]
        inv = [np.float32(h) / np.float32(out[0]), np.float32(w) / np.float32(out[1])]
    elif scales is not None and len(scales) == 4:
        if list(scales[:2]) != [1, 1] or min(scales) <= 0:
            fail(node, f"scales {list(scales)}: only height and width, by factors > 0")
        out = [int(np.floor(h * float(scales[2]))), int(np.floor(w * float(scales[3])))]
        inv = [np.float32(1.0 / float(scales[2])), np.float32(1.0 / float(scales[3]))]
    else:
        fail(node, "needs constant scales or sizes for (N, C, H, W)")
    if min(out) < 1:
        fail(node, f"output size {out} is empty")
    return out, inv


def lower(lw, node, attrs):
    x = lw.tensor(node)
    shape = lw.shape(x)
    if len(shape) != 4 or x in lw.last:
        fail(node, f"only a (1, C, H, W) tensor can be resized, not {shape}")
    mode = attrs.get("mode", "nearest")
    coord = attrs.get("coordinate_transformation_mode", "half_pixel")
    if (mode, coord) not in _COORDS or (
            mode == "nearest" and attrs.get("nearest_mode", "round_prefer_floor") != "floor"):
        fail(node, f"mode {mode} with {coord} coordinates: only nearest (asymmetric, "
                    "floor: F.interpolate's default) and bilinear (align_corners "
                    "either way) are supported")
    if attrs.get("exclude_outside", 0) or attrs.get("extrapolation_value", 0.0):
        fail(node, "exclude_outside / extrapolation_value are not supported")
    scales = lw.const(node, 2, required=False)
    sizes = lw.const(node, 3, required=False)
    if scales is not None and scales.size == 0:
        scales = None
    (oh, ow), inv = _steps(node, scales, sizes, shape)
    align = _COORDS[(mode, coord)]
    if align:   # PyTorch: (in - 1) / (out - 1), 0 for one output pixel
        inv = [np.float32(n - 1) / np.float32(o - 1) if o > 1 else np.float32(0)
               for n, o in ((shape[2], oh), (shape[3], ow))]
    if (oh, ow) == tuple(shape[2:]) and not align and all(v == 1 for v in inv):
        return lw.make_alias(node, x, shape)
    lw.emit(node, "resize", [x], (1, shape[1], oh, ow), params=fmt.node_params(
        RESIZE_MODE=int(mode == "linear"), RESIZE_ALIGN=align,
        RESIZE_INV_H=fmt.f32_bits(float(inv[0])), RESIZE_INV_W=fmt.f32_bits(float(inv[1]))))
