"""Channel moves -> the engine's channel_gather (output channel k of every
pixel is input channel idx[k]):

- Slice along channels (x[:, a:b], x[:, ::2], torch.chunk's Slices),
- Split along channels (torch.split, torch.chunk at some opsets): one
  gather per output that the model reads,
- Gather along channels with constant indices (x[:, [2, 0, 1]],
  torch.index_select),
- Expand / Tile of channels (a gray image fed to a colour model:
  x.expand(-1, 3, -1, -1), x.repeat(1, 3, 1, 1)); an Expand of a
  (1, C, 1, 1) vector over H, W (SE's y.expand_as(x)) is the vector, for
  the Mul or Add reading it,
- a channel shuffle (ShuffleNet): Reshape (N, G, C/G, H, W) -> Transpose
  (0, 2, 1, 3, 4) -> Reshape (N, C, H, W), matched before lowering
  (MATCHERS, rewrite.py) into one DyceChannelShuffle node.

- channel groups: a (1, R, C, H, W) tensor is the map (1, H, W, R*C)
  (shapes.nhwc; a reshape of (1, R*C, H, W), torch.stack of R maps):
  its sum or mean over the R groups (SKNet's and ResNeSt's split
  attention) as gathers and adds, a softmax across the groups between
  two gathers.

A move that keeps every channel in order is the tensor itself (an alias).
Slicing height or width (a crop) is refused with the reason."""

import numpy as np

import dyce_format as fmt

from . import attention, moves, pixels, rewrite
from .common import fail
from .folding import slice_indices, slice_spec

SHUFFLE = "DyceChannelShuffle"


def _shuffle(view, first):
    """Reshape -> Transpose -> Reshape of a channel shuffle, from the first."""
    if first.op_type != "Reshape":
        return None
    spec = view.consts.get(first.input[1])
    if spec is None or spec.ndim != 1 or len(spec) != 5 or int(spec[1]) < 1:
        return None
    swap = view.only_reader(first.output[0], "Transpose")
    back = swap and view.only_reader(swap.output[0], "Reshape")
    if back is None or list(rewrite.attr(swap, "perm", [])) != [0, 2, 1, 3, 4]:
        return None
    target = view.consts.get(back.input[1])
    if target is None or target.ndim != 1 or len(target) != 4:
        return None
    name = f"{first.name or back.output[0]} (channel shuffle)"
    return [first, swap, back], rewrite.node(SHUFFLE, name, [first.input[0]],
                                             back.output[0], groups=int(spec[1]))


MATCHERS = (_shuffle,)


def _gather(lw, node, x, idx, out, last=False):
    """Output `out` of node: channels idx of x (an alias when it is all of
    them, in order); with `last`, of a channels-last (1, H, W, C) map,
    whose channels are its last axis."""
    shape = lw.shape(x)
    idx = np.asarray(idx, np.int64)
    if idx.size == 0:
        fail(node, f"output '{out}' takes no channel")
    c = shape[3] if last else shape[1]
    result = (tuple(shape[:3]) + (int(idx.size),) if last
              else (1, int(idx.size)) + tuple(shape[2:]))
    if idx.size == c and np.array_equal(idx, np.arange(c)):
        lw.make_alias(node, x, result, out=out)
    else:
        lw.emit(node, "channel_gather", [x], result, out=out,
                layout=(1,) + tuple(shape[1:3]) + (int(idx.size),) if last else None,
                weight=idx.astype(np.float64))
    if last:
        lw.last.add(out)


def _channels(lw, node):
    """The computed input of a channel move and its channel count."""
    x = lw.tensor(node)
    shape = lw.shape(x)
    if (len(shape) not in (2, 3, 4) or shape[0] != 1) and attention.roles_of(lw, x) is None:
        fail(node, f"input shape {shape} is not (1, C, ...)")
    return x, shape


def lower_slice(lw, node, attrs):
    if moves.sliced(lw, node, lw.tensor(node)):
        return
    x, shape = _channels(lw, node)
    if x in lw.last and len(shape) == 4 and not attention.is_seq(lw, x):
        # q, k, v = qkv.chunk(3, -1) of a channels-last map (MaxViT); moves
        # take the slices along H and W
        idx = np.arange(shape[3])
        for axis, start, end, step in slice_spec(lw, node, 4):
            if axis != 3:
                fail(node, f"slicing axis {axis} of a channels-last {shape} map")
            idx = idx[slice_indices(shape[3], start, end, step)]
        return _gather(lw, node, x, idx, node.output[0], last=True)
    idx = np.arange(shape[1])
    spec = slice_spec(lw, node, len(shape))
    if attention.is_seq(lw, x):
        return attention.lower_slice(lw, node, x, [
            (axis, slice_indices(shape[axis], start, end, step))
            for axis, start, end, step in spec])
    spatial = [np.arange(d) for d in shape[2:]]
    for axis, start, end, step in spec:
        taken = slice_indices(shape[axis], start, end, step)
        if axis == 1:
            idx = idx[taken]
        elif axis >= 2 and len(shape) == 4 and x not in lw.last:
            spatial[axis - 2] = spatial[axis - 2][taken]
        elif not np.array_equal(taken, np.arange(shape[axis])):
            fail(node, f"slicing axis {axis} of a {shape} tensor: only channels, "
                        "height and width of a (1, C, H, W) map")
    if any(not np.array_equal(s, np.arange(d)) for s, d in zip(spatial, shape[2:])):
        # a crop, or a flip (step -1: torch.flip of H or W)
        return pixels.gather_pixels(lw, node, x, *spatial, channels=idx)
    _gather(lw, node, x, idx, node.output[0])


def lower_split(lw, node, attrs):
    x, shape = _channels(lw, node)
    if x in lw.heads or attention.is_seq(lw, x):
        return attention.lower_split(lw, node, x, lambda n: _split_sizes(
            lw, node, attrs, n), attrs.get("axis", 0) % len(shape))
    axis = attrs.get("axis", 0) % len(shape)
    if axis != 1 and not (axis > 1 and len(shape) in (3, 4)):
        fail(node, f"split along axis {attrs.get('axis', 0)} of {shape}: only "
                    "along channels, height, width or length")
    sizes = _split_sizes(lw, node, attrs, shape[axis],
                         "channels" if axis == 1 else f"positions along axis {axis}")
    at = 0
    for size, out in zip(sizes, node.output):
        if out in lw.used and axis == 1:
            _gather(lw, node, x, np.arange(at, at + size), out)
        elif out in lw.used:   # a part of the height, width or length (CoordAtt)
            pixels.take(lw, node, x, axis, np.arange(at, at + size), out)
        at += size


def _split_sizes(lw, node, attrs, total, what="channels"):
    """The part sizes of a Split of `total` `what` along its axis."""
    sizes = lw.const(node, 1, required=False)
    if sizes is None:
        sizes = attrs.get("split")
    count = len(node.output)
    if sizes is None:
        if total % count:
            fail(node, f"{total} {what} do not split into {count} equal parts")
        sizes = [total // count] * count
    sizes = [int(s) for s in sizes]
    if len(sizes) != count or sum(sizes) != total or min(sizes) < 0:
        fail(node, f"split sizes {sizes} do not divide {total} {what} into "
                    f"{count} outputs")
    return sizes


def lower_gather(lw, node, attrs):
    x, shape = _channels(lw, node)
    idx = lw.const(node, 1)
    if x in lw.heads or attention.is_seq(lw, x):
        return attention.lower_gather(lw, node, x, idx, attrs.get("axis", 0) % len(shape))
    if attrs.get("axis", 0) % len(shape) != 1 or idx.ndim != 1:
        fail(node, f"gather along axis {attrs.get('axis', 0)} of {shape} with "
                    f"indices of shape {idx.shape}: only a list of channels (axis 1)")
    idx = np.asarray(idx, np.int64)
    if idx.size and (idx.min() < -shape[1] or idx.max() >= shape[1]):
        fail(node, f"channel indices {idx.tolist()} outside 0..{shape[1] - 1}")
    _gather(lw, node, x, idx % shape[1], node.output[0])


def lower_expand(lw, node, attrs):
    """x.expand(-1, 3, -1, -1) / x.repeat(1, 3, 1, 1) of a gray image (a
    model made for colour fed one channel): Expand or Tile along channels
    only."""
    x, shape = _channels(lw, node)
    spec = [int(v) for v in lw.const(node, 1)]
    if node.op_type == "Tile":
        if len(spec) != len(shape) or any(r != 1 for i, r in enumerate(spec) if i != 1) or spec[1] < 1:
            fail(node, f"repeats {spec} of {shape}: only along channels")
        return _gather(lw, node, x, np.tile(np.arange(shape[1]), spec[1]), node.output[0])
    try:
        out = np.broadcast_shapes(tuple(shape), tuple(spec))
    except ValueError:
        fail(node, f"shape {spec} does not broadcast {shape}")
    if len(shape) == 4 and shape[2:] == (1, 1) and len(out) == 4 and out[:2] == shape[:2]:
        # y.expand_as(x) of a squeeze-and-excitation vector: the vector
        # itself, which the Mul or Add reading it broadcasts per channel
        lw.make_alias(node, x, tuple(out))
        lw.expanded.add(node.output[0])
        return
    if tuple(out) == tuple(shape):   # broadcast to its own shape (torch's repeat exports one)
        return lw.make_alias(node, x, tuple(out))
    if (len(out) != len(shape) or shape[1] != 1
            or any(a != b for i, (a, b) in enumerate(zip(out, shape)) if i != 1)):
        fail(node, f"expanding {shape} to {tuple(out)}: only the channels of a "
                    "one-channel tensor")
    _gather(lw, node, x, np.zeros(out[1], np.int64), node.output[0])


def lower_shuffle(lw, node, attrs):
    x, shape = _channels(lw, node)
    groups, c = attrs["groups"], shape[1]
    if len(shape) != 4 or c % groups:
        fail(node, f"{groups} groups do not divide the {c} channels of {shape}")
    k = np.arange(c)
    _gather(lw, node, x, (k % groups) * (c // groups) + k // groups, node.output[0])


def _groups(lw, node, x):
    """(R, C) of a (1, R, C, H, W) channel-grouped tensor."""
    shape = lw.shape(x)
    if len(shape) != 5 or x in lw.last or lw.dyce_shape(x)[3] != shape[1] * shape[2]:
        fail(node, f"a {shape} tensor that is not R groups of C channels of a map")
    return shape[1], shape[2]


def reduce_groups(lw, node, x, mean, keep):
    """ReduceSum / ReduceMean over the R groups of a (1, R, C, H, W) tensor:
    the sum of its R channel slices (a mean: times 1/R)."""
    (r, c), shape = _groups(lw, node, x), lw.shape(x)
    part = (1, c) + tuple(shape[3:])
    out = (1, 1) + tuple(shape[2:]) if keep else part
    acc = None
    for k in range(r):
        name = lw.emit_step(node, f"group{k}", "channel_gather", [x], part,
                            weight=np.arange(k * c, (k + 1) * c, dtype=np.float64))
        acc = name if acc is None else lw.emit_step(node, f"sum{k}", "add", [acc, name], part)
    if mean and r > 1:
        acc = lw.emit_step(node, "mean", "mul", [acc], part, weight=np.array([1.0 / r]))
    lw.make_alias(node, acc, out)


def softmax_groups(lw, node, x, axis, log):
    """Softmax over axis 1 (across the R groups, for each channel: SKNet's
    branch weights) or 2 (within each group) of a (1, R, C, H, W) tensor:
    the engine's softmax over groups of channels at each pixel; across
    groups, the channels regrouped channel-major first and back after."""
    r, c = _groups(lw, node, x)
    shape = lw.shape(x)
    params = fmt.node_params(SOFTMAX_LOG=int(log), SOFTMAX_GROUPS=r if axis == 2 else c)
    if axis == 2:
        return lw.emit(node, "softmax", [x], shape, params=params)
    if axis != 1:
        fail(node, f"softmax over axis {axis} of a {shape} tensor: only across "
                    "or within its channel groups (axes 1, 2)")
    across = np.arange(r * c).reshape(r, c)
    flat = (1, r * c) + tuple(shape[3:])
    by_channel = lw.emit_step(node, "by-channel", "channel_gather", [x], flat,
                              weight=across.T.ravel().astype(np.float64))
    soft = lw.emit_step(node, "soft", "softmax", [by_channel], flat, params=params)
    back = np.arange(r * c).reshape(c, r).T.ravel()
    lw.emit(node, "channel_gather", [soft], shape, weight=back.astype(np.float64))
