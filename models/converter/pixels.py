"""Moves of pixels: crops and strided slices of height and width
(x[:, :, 1:-1, ::2]), reflection and edge padding (nn.ReflectionPad2d,
nn.ReplicationPad2d), concatenation along height or width — one
`channel_gather` over the map viewed as one row of its H*W*C values,
between two `view`s. Exact (a copy), and as
general as an index list; channel_gather's indices are float32, so the
map may hold at most 2^24 values. Where the values move in runs of whole
pixels (or of equal groups of channels), the gather takes an index per
run (p[GATHER_BLOCK])."""

import numpy as np

import dyce_format as fmt

from .common import fail
from .shapes import nhwc

MAX_VALUES = 2 ** 24


def channels(shape):
    """The channels of the dyce tensor of an ONNX shape: C, or R·C of
    (1, R, C, H, W) (shapes.nhwc)."""
    return shape[1] * shape[2] if len(shape) == 5 else shape[1]


def offsets(lw, x):
    """x's values' offsets in its NHWC data, as an array of x's ONNX shape;
    None when the converter does not know them (attention head views)."""
    shape, layout = lw.shape(x), lw.dyce_shape(x)
    n = int(np.prod(shape))
    if x in lw.heads or layout is None or int(np.prod(layout)) != n:
        return None
    if x in lw.last:                 # channels last: the ONNX order itself
        return np.arange(n).reshape(shape)
    c = channels(shape)
    if len(shape) < 2 or shape[0] != 1 or layout[3] != c:
        return None
    grid = np.arange(n).reshape(n // c, c).T   # (C, pixels)
    return grid.reshape(shape)


def _block(picked, channels):
    """The largest divisor B of the source's channels such that `picked`
    is runs of B consecutive values (whole pixels, or whole groups of
    channels, moved: a window partition, a roll, a crop) — the gather then
    stores an index per run; 1 when values move one by one. Runs of B
    exist when every break in the consecutive values falls at a multiple
    of B, and so does the end."""
    breaks = np.flatnonzero(np.diff(picked) != 1) + 1
    g = int(np.gcd.reduce(np.append(breaks, picked.size)))
    return max(b for b in range(1, channels + 1) if channels % b == 0 and g % b == 0)


def pick_values(lw, node, x, picked, shape, layout=None, out=None):
    """node's output (or `out`, a step of node), of ONNX `shape` (and dyce
    `layout`, when not the NHWC of shape): x's values at NHWC positions
    `picked`, in order — a view of x as one row, a channel_gather of it, a
    view to the result (none when the result is one row itself)."""
    values = int(np.prod(lw.dyce_shape(x)))
    if values > MAX_VALUES:
        fail(node, f"moving values of a {lw.shape(x)} tensor: at most 2^24 values")
    if not picked.size:
        fail(node, f"the result of {lw.shape(x)} would be empty")
    if np.array_equal(picked, np.arange(values)):
        # nothing moves (a transpose of a unit axis): one view
        return lw.emit(node, "view", [x], shape, out=out, layout=layout)
    step = "" if out is None else out.rsplit("/", 1)[-1] + "-"
    row = lw.emit_step(node, step + "flat", "view", [x], (1, values), layout=(1, 1, 1, values))
    block = _block(picked, lw.dyce_shape(x)[3])
    fields = dict(weight=picked[::block].astype(np.float64))
    if block > 1:
        fields["params"] = fmt.node_params(GATHER_BLOCK=block)
    if (layout or nhwc(shape)) == (1, 1, 1, picked.size):
        return lw.emit(node, "channel_gather", [row], shape, out=out, layout=layout, **fields)
    part = lw.emit_step(node, step + "picked", "channel_gather", [row], (1, picked.size),
                        **fields)
    lw.emit(node, "view", [part], shape, out=out, layout=layout)


def gather_pixels(lw, node, x, rows, cols, channels=None):
    """node's output: pixel (i, j), channel k is x's pixel (rows[i],
    cols[j]), channel channels[k] (default: all, in order)."""
    _, c, _, w = lw.shape(x)
    channels = np.arange(c) if channels is None else np.asarray(channels)
    rows, cols = np.asarray(rows), np.asarray(cols)
    picked = ((rows[:, None, None] * w + cols[None, :, None]) * c
              + channels[None, None, :]).ravel()
    pick_values(lw, node, x, picked, (1, channels.size, rows.size, cols.size))


def pad_indices(size, before, after, mode):
    """Source index of each padded position along one axis (np.pad's
    reflect and edge are ONNX's and PyTorch's)."""
    idx = np.arange(size)
    if before < 0:
        idx, before = idx[-before:], 0
    if after < 0:
        idx, after = idx[:len(idx) + after], 0
    if mode == "reflect" and max(before, after) >= len(idx):
        raise ValueError(f"reflection by {max(before, after)} of {len(idx)} positions")
    return np.pad(idx, (before, after), mode="reflect" if mode == "reflect" else "edge")


def lower_pad(lw, node, x, pads, mode):
    """Pad in mode reflect or edge, of H and W."""
    shape = lw.shape(x)
    if len(shape) != 4 or pads[:2] + pads[4:6] != [0] * 4:
        fail(node, f"pads {pads}: only of H and W")
    try:
        rows = pad_indices(shape[2], pads[2], pads[6], mode)
        cols = pad_indices(shape[3], pads[3], pads[7], mode)
    except ValueError as err:
        fail(node, str(err))
    gather_pixels(lw, node, x, rows, cols)


def concat_channels(lw, node, parts, rest, out=None):
    """The engine's concat of `parts` along channels (each (1, C_i) + rest),
    chained when there are more than it reads at once; node's output, or
    the step `out`."""
    while len(parts) > fmt.MAX_CONCAT_INPUTS:
        head = parts[:fmt.MAX_CONCAT_INPUTS]
        name = lw.emit_step(node, f"concat{len(lw.ops)}", "concat", head,
                            (1, sum(lw.shape(n)[1] for n in head)) + rest)
        parts = [name] + parts[fmt.MAX_CONCAT_INPUTS:]
    shape = (1, sum(lw.shape(n)[1] for n in parts)) + rest
    if out is None:
        return lw.emit(node, "concat", parts, shape)
    return lw.emit_step(node, out, "concat", parts, shape)


def concat(lw, node, names, axis):
    """torch.cat of (1, C, H, W) or (1, C, L) maps along H, W or L: each
    map as one row of its values, the rows concatenated, then the values
    picked into the result's NHWC order — no gather where that is the rows'
    order already (along H, or along W of one-row maps)."""
    shapes = [lw.shape(n) for n in names]
    rank = len(shapes[0])
    rows, index, offset = [], [], 0
    for name, shape in zip(names, shapes):
        where = None if name in lw.last else offsets(lw, name)
        if where is None or len(shape) != rank or shape[0] != 1 or \
                any(a != b for i, (a, b) in enumerate(zip(shape, shapes[0])) if i != axis):
            fail(node, f"input '{name}' of shape {shape} does not match {shapes[0]} "
                        f"outside axis {axis}")
        values = int(np.prod(shape))
        rows.append(lw.emit_step(node, f"row{len(lw.ops)}", "view", [name], (1, values),
                                 layout=(1, 1, 1, values)))
        index.append(offset + where)   # each value's place in the concatenated rows
        offset += values
    joined = np.concatenate(index, axis=axis)
    picked = np.moveaxis(joined, 1, -1).ravel()     # in the result's NHWC order
    row = concat_channels(lw, node, rows, (), out="rows")
    pick_values(lw, node, row, picked, joined.shape)


def take(lw, node, x, axis, idx, out):
    """The step or output `out` of node: x's positions `idx` along its axis
    `axis` (height, width or length; a Split's part)."""
    where = None if x in lw.last else offsets(lw, x)
    if where is None:
        fail(node, f"taking positions along axis {axis} of a {lw.shape(x)} view")
    taken = np.take(where, idx, axis=axis)
    pick_values(lw, node, x, np.moveaxis(taken, 1, -1).ravel(), taken.shape, out=out)
