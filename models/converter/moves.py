"""Moves of values that no view expresses: nn.PixelShuffle and
nn.PixelUnshuffle (a reshape to six axes, a transpose, a reshape back),
a transpose of H and W, a channel shuffle written another way — any chain
of Reshape, Flatten, Squeeze, Unsqueeze and Transpose that the view rules
(lowering.py, layouts.py, attention.py) refuse, starting from a tensor
whose values' places are known.

The chain is followed on an array of positions — for every value of the
ONNX tensor, its offset in the source's NHWC data — with numpy's own
reshape and transpose, so its intermediate shapes may have any rank.
Where anything else reads its end, the values are picked in one
`channel_gather` (pixels.pick_values), exact."""

import numpy as np

from . import attention, pixels, rewrite
from .common import fail
from .folding import slice_spec, take_slices
from .shapes import nhwc, normalized_axes

OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "DepthToSpace",
       "SpaceToDepth"}


def start(lw, node, x, result):
    """node's output is x moved by `result(offsets)`; False when x's
    offsets are unknown."""
    where = pixels.offsets(lw, x) if x not in lw.moves else lw.moves[x][1]
    if where is None:
        return False
    source = x if x not in lw.moves else lw.moves[x][0]
    moved = result(where)
    lw.set_shape(node, moved.shape)
    lw.moves[node.output[0]] = (source, moved)
    return True


def sliced(lw, node, x):
    """A Slice of a move, or of a channels-last map along H or W (the
    halves of torch.roll, Swin's crop after its window reverse), as a move
    itself; False when x is neither."""
    shape = lw.shape(x)
    spec = slice_spec(lw, node, len(shape))
    if x not in lw.moves and not (x in lw.last and len(shape) == 4 and
                                  not attention.is_seq(lw, x) and
                                  any(axis in (1, 2) for axis, *_ in spec)):
        return False

    def take(a):
        a = take_slices(a, spec)
        if not a.size:
            fail(node, f"slice of {shape} takes nothing")
        return a
    return start(lw, node, x, take)


def _one_source(lw, names):
    """names are all moves of one source tensor."""
    return bool(names) and all(n in lw.moves for n in names) and \
        len({lw.moves[n][0] for n in names}) == 1


def joined(lw, node, names, axis):
    """A Concat of moves of one source (torch.roll's two halves) as a
    move; False when the inputs are not such."""
    if not _one_source(lw, names):
        return False
    source = lw.moves[names[0]][0]
    parts = [lw.moves[n][1] for n in names]
    if len({p.ndim for p in parts}) != 1:
        fail(node, f"concatenating moved tensors of shapes {[p.shape for p in parts]}")
    moved = np.concatenate(parts, axis=axis % parts[0].ndim)
    lw.set_shape(node, moved.shape)
    lw.moves[node.output[0]] = (source, moved)
    return True


def continues(lw, node):
    """node goes on with a move instead of reading its values."""
    if node.op_type in OPS or node.op_type == "Slice":
        return bool(node.input) and node.input[0] in lw.moves
    if node.op_type == "Concat":
        return _one_source(lw, [n for n in node.input if n])
    return False


def lower_depth_to_space(lw, node, attrs):
    """nn.PixelShuffle (DepthToSpace, CRD) or its DCR form; SpaceToDepth
    (nn.PixelUnshuffle is written as reshapes and a transpose instead)."""
    x, r = lw.tensor(node), attrs.get("blocksize", 0)
    shape = lw.shape(x)
    if len(shape) != 4 or r < 1:
        fail(node, f"blocksize {r} of a {shape} tensor")
    _, c, h, w = shape
    if node.op_type == "SpaceToDepth":
        if h % r or w % r:
            fail(node, f"blocksize {r} does not divide {h} x {w}")
        steps = ((1, c, h // r, r, w // r, r), (0, 3, 5, 1, 2, 4), (1, c * r * r, h // r, w // r))
    else:
        if c % (r * r):
            fail(node, f"blocksize {r}: {c} channels are not a multiple of {r * r}")
        crd = attrs.get("mode", "DCR") == "CRD"
        steps = ((1, c // (r * r), r, r, h, w) if crd else (1, r, r, c // (r * r), h, w),
                 (0, 1, 4, 2, 5, 3) if crd else (0, 3, 4, 1, 5, 2),
                 (1, c // (r * r), h * r, w * r))
    view, perm, out = steps
    if not start(lw, node, x, lambda a: a.reshape(view).transpose(perm).reshape(out)):
        fail(node, f"input '{x}' is a view whose values' places are not known here")


def _reads_channels(lw, node, name):
    """node reads `name`'s axis 1 as channels: a convolution, a reduction
    over axis 1 (triplet attention's pools of a permuted map), or an
    elementwise op with a channel-major map (the permuted branches added
    back)."""
    if node.op_type == "Conv":
        return True
    if node.op_type in ("Add", "Sub", "Mul", "Div", "Max", "Min"):
        return any(o != name and o not in lw.moves and not lw.is_const(o) and
                   o not in lw.last and len(lw.shape(o)) == 4 for o in node.input if o)
    if node.op_type not in ("ReduceMax", "ReduceMean", "ReduceMin", "ReduceSum"):
        return False
    # axes: ReduceSum's second input at opset 13, the others' attribute
    axes = (lw.const(node, 1, required=False) if node.op_type == "ReduceSum"
            else rewrite.attr(node, "axes"))
    return axes is not None and \
        normalized_axes([int(a) for a in axes], len(lw.shape(name))) == [1]


def materialize(lw, node):
    """node reads the end of a move: its values, picked from the source.
    A (1, A, B) end is laid out as a sequence of A tokens (what a
    LayerNorm or a Linear reads), a (1, A, B, C) end whose last axis runs
    over the source's channels as a channels-last map — except for a
    reader of axis 1 as channels (a Conv1d or Conv2d, a reduction over
    axis 1), which gets it channel-major."""
    for name in node.input:
        if name in lw.moves:
            pick(lw, node, name, channel_major=_reads_channels(lw, node, name))


def _channels_last(lw, source, offsets):
    """A (1, H, W, C) move that is channels-last: which channel of the
    source a value comes from depends on its last axis only (Swin's window
    reverse, torch.roll of the map, the patch merging's x[:, 0::2, 1::2, :]
    pieces concatenated along C)."""
    if offsets.ndim != 4:
        return False
    c = lw.dyce_shape(source)[3]
    channel = offsets % c
    if not np.all(channel == channel[:, :1, :1, :]):
        return False
    # From a (1, C, H, W) source too (MaxViT's window partition of its
    # conv maps), when the last axis runs over its channels.
    return source in lw.last or (c > 1 and not np.all(channel == channel.flat[0]))


def pick(lw, node, name, channel_major=False):
    """The moved tensor `name` made real (for node, or as the graph's output)."""
    source, offsets = lw.moves.pop(name)
    shape = offsets.shape
    windows = len(shape) == 3 and shape[0] > 1 and not channel_major
    last = len(shape) == 4 and shape[0] == 1 and not channel_major and \
        _channels_last(lw, source, offsets)
    if windows or last:
        # A batch of windows (W, L, E) -> (1, W, L, E), a window per row; a
        # map still channels-last (1, H, W, C) -> itself: the ONNX order is
        # the NHWC order.
        pixels.pick_values(lw, node, source, offsets.ravel(), shape,
                           layout=(1,) + shape[-3:], out=name)
        lw.last.add(name)
        return
    if nhwc(shape) is None:
        fail(node, f"reads a {shape} tensor (values moved by reshapes and "
                    "transposes): dyce holds (1, C, H, W), (1, C, L), (1, K), R groups "
                    "(1, R, C, H, W) or windows (W, L, E) of a channels-last map")
    rows = len(shape) == 3 and not channel_major
    if rows or len(shape) == 2:
        order = offsets
    else:                      # channel-major: pixel by pixel, channels within
        order = np.moveaxis(offsets[0].reshape(pixels.channels(shape), -1), 0, -1)
    pixels.pick_values(lw, node, source, np.ascontiguousarray(order).ravel(), shape,
                       layout=(1, 1) + shape[1:] if rows else None, out=name)
    if rows:
        lw.last.add(name)
