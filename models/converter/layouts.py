"""Channels-last views: x.permute(0, 2, 3, 1) of a (1, C, H, W) tensor is
the same bytes as dyce's NHWC tensor, so the converter takes it as a view
(an alias whose ONNX shape is (1, H, W, C), its name in `Lowering.last`)
instead of moving data, as ConvNeXt's blocks and torchvision's
LayerNorm2d use it: a LayerNorm over the last axis (norms.py: group_norm at
each pixel), a Linear on the last axis (here: a 1 x 1 convolution),
elementwise ops with per-channel constants (lowering.py), and the permute
back. Any other op on a channels-last view is refused with the reason."""

import numpy as np

import dyce_format as fmt

from . import attention, moves, pixels
from .common import fail

TO_LAST, TO_FIRST = [0, 2, 3, 1], [0, 3, 1, 2]

# ONNX ops that may read a channels-last view.
ALLOWED = {"Shape", "Transpose", "MatMul", "Pad", "Add", "Sub", "Neg", "Mul", "Div", "Erf", "Relu",
           "Clip", "Sigmoid", "HardSigmoid", "HardSwish", "LeakyRelu", "Tanh",
           "Elu", "Softplus", "Identity", "Dropout", "DyceGroupNorm"}


# And what may read a token sequence (1, L, D) as well (attention.py).
SEQUENCE_READERS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Gemm", "Softmax", "Gather", "Split", "Slice",
                    "Concat", "ReduceMean"}


def check_inputs(lw, node):
    if node.op_type in ALLOWED:
        return
    for name in node.input:
        if node.op_type in SEQUENCE_READERS and name and attention.is_seq(lw, name):
            continue
        if node.op_type == "Conv" and name and len(lw.shape(name)) == 3:
            continue   # a Conv1d: lowering.py checks the order of its values
        if node.op_type in ("Reshape", "Flatten", "Squeeze", "Unsqueeze"):
            continue   # regrouped: a move (moves.py)
        if node.op_type in ("ReduceMean", "ReduceMax", "ReduceL2") and len(lw.shape(name)) == 4:
            continue   # over H and W: a global pool (pools.py, elementwise.py); over C
        if node.op_type == "Slice" and len(lw.shape(name)) == 4:
            continue   # along H or W: a move (moves.sliced), torch.roll's halves
        if name and name in lw.last and len(lw.shape(name)) == 3 and lw.shape(name)[0] > 1:
            fail(node, f"input '{name}' of shape {lw.shape(name)} is a batch of token "
                        "sequences (nn.MultiheadAttention on a batch of windows or patches "
                        "lays them out (L, N, E)); dyce takes attention within windows "
                        "written with a qkv Linear, reshape and permute (timm's Attention, "
                        "Swin's WindowAttention)")
        if name and name in lw.last:
            fail(node, f"input '{name}' is a channels-last view (x.permute(0, 2, 3, 1)); "
                        "on it dyce takes only LayerNorm over the channels, Linear, "
                        "elementwise ops and the permute back")


def lower_transpose(lw, node, attrs):
    """NCHW -> NHWC and back: the same dyce tensor."""
    x = lw.tensor(node)
    shape, perm = lw.shape(x), list(attrs.get("perm", []))
    if x in lw.moves:
        moves.start(lw, node, x, lambda a: a.transpose(perm))
        return
    if len(shape) == 3 and perm == [0, 2, 1] and shape[1] == 1 and x not in lw.last \
            and x not in lw.heads:
        # One channel along L to L channels (a Conv1d's output back to a
        # vector, as ECA does): the same values in order.
        lw.emit(node, "view", [x], (1, shape[2], 1))
        return
    if len(shape) == 4 and perm == TO_FIRST and x in lw.last:
        # Back to NCHW, before attention may take a (1, 1, 1, C) view for a
        # sequence (torchvision's LayerNorm2d after global pooling).
        lw.make_alias(node, x, tuple(shape[i] for i in perm))
        lw.last.discard(node.output[0])   # (1, C, C, C) looks the same
        return
    if attention.lower_transpose(lw, node, x, shape, perm):
        return
    if len(shape) == 4 and perm == TO_LAST and x not in lw.last:
        lw.make_alias(node, x, tuple(shape[i] for i in perm))
        lw.last.add(node.output[0])
    elif not moves.start(lw, node, x, lambda a: a.transpose(perm)):
        fail(node, f"transpose {perm} of a {shape} tensor"
                    f"{' (channels-last)' if x in lw.last else ''}: only "
                    "(0, 2, 3, 1) to channels-last and (0, 3, 1, 2) back")


def as_rows(lw, node, x):
    """A (1, A, B) channel-major tensor (its B positions, A channels each:
    a sequence transposed, x.flatten(2)) moved into rows: the sequence of A
    tokens of B features, the same ONNX tensor, so that a Linear or an
    elementwise op can read its last axis (MLP-Mixer's token mixing).
    Returns the new tensor's name, or None when x is no such tensor."""
    shape = lw.shape(x)
    if len(shape) != 3 or shape[0] != 1 or x in lw.last or x in lw.heads:
        return None
    _, a, b = shape
    layout = lw.dyce_shape(x)
    if layout is None or layout[3] != a or layout[1] * layout[2] != b:
        return None
    out = f"{node.output[0]}/rows{len(lw.ops)}"
    picked = (np.arange(b)[None, :] * a + np.arange(a)[:, None]).ravel()
    pixels.pick_values(lw, node, x, picked, shape, layout=(1, 1, a, b), out=out)
    lw.last.add(out)
    return out


def lower_matmul_last(lw, node, x, w, bias=None):
    """x (1, H, W, C) channels-last, or a sequence, times w (C, N) (+ bias):
    a 1 x 1 convolution."""
    shape = lw.shape(x)
    _, h, width, c = lw.dyce_shape(x)
    if w.shape[0] != shape[-1]:
        fail(node, f"weight {w.shape} does not take the {shape[-1]} channels of {shape}")
    n = w.shape[1]
    lw.emit(node, "conv2d", [x], tuple(shape[:-1]) + (n,), layout=(1, h, width, n),
            weight=w.T.reshape(n, 1, 1, c), bias=bias,
            params=fmt.node_params(KH=1, KW=1, SH=1, SW=1, DH=1, DW=1, GROUPS=1))
    lw.last.add(node.output[0])


def constant_last(k, shape):
    """A constant operand of a channels-last (1, H, W, C) tensor as 1, C or
    H*W*C floats: its bytes are already in NHWC order."""
    padded = k.reshape((1,) * (len(shape) - k.ndim) + k.shape)
    if k.size == 1:
        return k.reshape(1)
    if all(d == 1 for d in padded.shape[:-1]):
        return np.broadcast_to(padded.reshape(-1), (shape[-1],)).copy()
    return np.broadcast_to(padded, shape).ravel()
