"""Token sequences and multi-head attention (ViT blocks, self-attention on
a feature map) on dyce's NHWC tensors.

A sequence (1, L, D) is a channels-last view (layouts.py): its L tokens
are the positions of a dyce tensor (the H x W of the feature map it was
flattened from, or 1 x L) and its D features the channels. Heads stay in
channel groups: head g of a (1, L, G*K) tensor is channels g*K .. g*K+K-1,
so a head split is a view, not a copy. Forms of such views (`lw.heads`,
name -> (form, G)), each over a tensor with L positions:

    split    (1, L, G, K)       x.view(B, L, G, K)
    heads    (1, G, L, K)       its transpose(1, 2): q, k, v, scores
    heads_t  (1, G, K, L)       k.transpose(-2, -1)
    qkv      (1, L, P, G, K)    qkv(x).reshape(B, L, 3, G, K)
    qkv_t    (P, 1, G, L, K)    its permute(2, 0, 3, 1, 4); qkv[p] is a slice

A sequence is `heads` with G = 1, and a (1, C, L) tensor (channel-major,
not a view) is its `heads_t`. q @ k^T and attn @ v are the engine's matmul
(groups = heads), the softmax over keys a softmax per channel group.
x[:, i] (the class token) and flattening read the tokens through a `view`
to one row; a constant token prepended (torch.cat([cls, x], 1)) is a zero
pad of the row plus a constant."""

import numpy as np

import dyce_format as fmt

from .common import fail

FORMS = {4: ("split", "heads", "heads_t"), 5: ("qkv", "qkv_t")}
# Transposes between forms: (form, perm) -> new form.
_MOVES = {("split", (0, 2, 1, 3)): "heads", ("split", (0, 2, 3, 1)): "heads_t",
          ("heads", (0, 2, 1, 3)): "split", ("heads", (0, 1, 3, 2)): "heads_t",
          ("heads_t", (0, 1, 3, 2)): "heads", ("heads_t", (0, 3, 1, 2)): "split",
          ("qkv", (2, 0, 3, 1, 4)): "qkv_t"}
# ONNX ops that may read a head view (anything else is refused, naming it).
READERS = {"Transpose", "Reshape", "MatMul", "Softmax", "Mul", "Div", "Add",
           "Gather", "Split", "Squeeze", "Identity", "Dropout"}


def is_seq(lw, name):
    return name in lw.last and len(lw.shape(name)) == 3


def check_inputs(lw, node):
    for name in node.input:
        if name and name in lw.heads and node.op_type not in READERS:
            fail(node, f"input '{name}' is an attention head view "
                        f"{lw.shape(name)}; dyce takes only the transposes, "
                        "matmuls, softmax and scaling of attention on it")


def _alias(lw, node, x, shape, form=None, groups=1, seq=False, out=None):
    out = out or node.output[0]
    lw.make_alias(node, x, shape, out=out)
    if form:
        lw.heads[out] = (form, groups)
    if seq:
        lw.last.add(out)


def one_row(lw, node, x):
    """x's tokens as one row (1, 1, L, D): x itself, or a `view` of it."""
    _, h, w, c = lw.dyce_shape(x)
    if h == 1:
        return x
    name = f"{node.output[0]}/row"
    lw.emit(node, "view", [x], lw.shape(x), out=name, layout=(1, 1, h * w, c))
    lw.last.add(name)
    return name


def lower_transpose(lw, node, x, shape, perm):
    """True when the transpose is a move between the views above."""
    perm = tuple(perm)
    if x in lw.heads:
        form, groups = lw.heads[x]
        new = _MOVES.get((form, perm))
        if new is None:
            fail(node, f"transpose {list(perm)} of an attention {form} view {shape}")
        _alias(lw, node, x, tuple(shape[i] for i in perm), new, groups)
        return True
    if len(shape) == 3 and perm == (0, 2, 1):
        # (1, C, L) <-> (1, L, C): the same dyce tensor, channel-major or a sequence
        _alias(lw, node, x, (1, shape[2], shape[1]), seq=x not in lw.last)
        return True
    return False


def lower_view(lw, node, x, src, dst):
    """Reshapes of sequences and heads; True when handled."""
    if x in lw.heads:
        form, groups = lw.heads[x]
        if form == "split" and dst == (1, src[1], src[2] * src[3]):
            _alias(lw, node, x, dst, seq=True)
        elif form == "qkv_t" and src[0] == 1 and dst == src[1:]:
            _alias(lw, node, x, dst, "heads", groups)   # unbind's squeeze
        else:
            fail(node, f"reshape of an attention {form} view {src} to {dst}")
        return True
    if is_seq(lw, x):
        _, length, d = src
        if dst[:2] == (1, length) and len(dst) in (4, 5) and int(np.prod(dst[2:])) == d:
            _alias(lw, node, x, dst, FORMS[len(dst)][0], dst[-2])
        elif len(dst) == 4 and dst[0] == 1 and dst[3] == d and dst[1] * dst[2] == length:
            _grid(lw, node, x, dst, dst[1:3], last=True)   # (1, H, W, D), then permuted
        elif dst == (1, length * d):
            lw.emit(node, "view", [one_row(lw, node, x)], dst, layout=(1, 1, 1, length * d))
        else:
            fail(node, f"reshape of a token sequence {src} to {dst}")
        return True
    if len(src) == 3 and len(dst) == 4 and x not in lw.last and \
            dst[:2] == src[:2] and dst[2] * dst[3] == src[2]:
        _grid(lw, node, x, dst, dst[2:], last=False)   # (1, C, L) -> (1, C, H, W)
        return True
    return False


def _grid(lw, node, x, dst, hw, last):
    """A sequence back on an H x W grid: the same tensor, or a `view`."""
    _, h, w, c = lw.dyce_shape(x)
    if (h, w) == tuple(hw):
        lw.make_alias(node, x, dst)
    else:
        lw.emit(node, "view", [x], dst, layout=(1,) + tuple(hw) + (c,))
    if last:
        lw.last.add(node.output[0])


def _operand(lw, node, name):
    """(form, G, rows, inner) of a matmul operand: heads (1, G, rows, inner)
    or heads_t (1, G, inner, rows), a sequence as G = 1 heads."""
    shape = lw.shape(name)
    if name in lw.heads and lw.heads[name][0] in ("heads", "heads_t"):
        form, groups = lw.heads[name]
    elif len(shape) == 3 and shape[0] == 1:
        form, groups = ("heads" if name in lw.last else "heads_t"), 1
        shape = (1, 1) + tuple(shape[1:])
    else:
        fail(node, f"matmul of a computed {shape} tensor: only attention's "
                    "q @ k^T and attn @ v of token sequences or heads")
    _, _, a, b = shape
    return (form, groups) + ((a, b) if form == "heads" else (b, a))


def lower_matmul(lw, node):
    """q @ k^T (B as heads_t) or attn @ v (B as heads): dyce's matmul."""
    a, b = lw.tensor(node, 0), lw.tensor(node, 1)
    form_a, ga, m, k = _operand(lw, node, a)
    form_b, gb, rows_b, inner_b = _operand(lw, node, b)
    trans_b = form_b == "heads_t"
    _, ha, wa, ca = lw.dyce_shape(a)
    positions_b = int(np.prod(lw.dyce_shape(b)[1:3]))
    if form_a != "heads" or ga != gb or ha * wa != m or positions_b != rows_b or (
            trans_b and inner_b != k) or (not trans_b and rows_b != k):
        fail(node, f"matmul of {lw.shape(a)} and {lw.shape(b)}: not a per-head "
                    "product of token sequences")
    n = rows_b if trans_b else inner_b
    shape = (1, m, n) if len(lw.shape(a)) == 3 else (1, ga, m, n)
    lw.emit(node, "matmul", [a, b], shape, layout=(1, ha, wa, ga * n),
            params=fmt.node_params(MATMUL_GROUPS=ga, MATMUL_TRANS_B=int(trans_b),
                                   MATMUL_ALPHA=fmt.f32_bits(1.0)))
    if len(shape) == 3:
        lw.last.add(node.output[0])
    else:
        lw.heads[node.output[0]] = ("heads", ga)


def lower_softmax(lw, node, x, axis, log):
    """Softmax over the last axis of a sequence or of heads: per group."""
    shape = lw.shape(x)
    form, groups = lw.heads.get(x, ("heads", 1))
    if form != "heads" or axis != len(shape) - 1:
        fail(node, f"softmax over axis {axis} of an attention view {shape}: "
                    "only over its last axis (the keys)")
    lw.emit(node, "softmax", [x], shape,
            params=fmt.node_params(SOFTMAX_LOG=int(log), SOFTMAX_GROUPS=groups))
    if x in lw.heads:
        lw.heads[node.output[0]] = (form, groups)


def lower_gather(lw, node, x, idx, axis):
    """qkv[p] of a qkv_t view (a channel slice: heads), or x[:, i] of a
    sequence (token i: a view to one row, then its channels)."""
    shape = lw.shape(x)
    if np.ndim(idx) != 0:
        fail(node, f"gather of a list {np.asarray(idx).tolist()} from an attention view")
    if x in lw.heads and lw.heads[x][0] == "qkv_t" and axis == 0:
        groups, span = lw.heads[x][1], int(np.prod(shape[2:])) // shape[3]
        p = int(idx) % shape[0]
        _slice(lw, node, x, np.arange(p * span, (p + 1) * span), shape[1:])
        lw.heads[node.output[0]] = ("heads", groups)
    elif is_seq(lw, x) and axis == 1:
        _, length, d = shape
        i = int(idx) % length
        row = lw.emit_step(node, "flat", "view", [one_row(lw, node, x)],
                           (1, length * d), layout=(1, 1, 1, length * d))
        lw.emit(node, "channel_gather", [row], (1, d),
                weight=np.arange(i * d, (i + 1) * d, dtype=np.float64))
    else:
        fail(node, f"gather along axis {axis} of an attention view {shape}")


def lower_slice(lw, node, x, taken):
    """x[:, a:b] (tokens) and x[..., a:b] (features) of a sequence:
    `taken` is [(axis, indices)]."""
    _, length, d = lw.shape(x)
    tokens, features = np.arange(length), np.arange(d)
    for axis, idx in taken:
        if axis == 1:
            tokens = tokens[idx]
        elif axis == 2:
            features = features[idx]
        elif not np.array_equal(idx, np.arange(1)):
            fail(node, f"slicing axis {axis} of a token sequence {lw.shape(x)}")
    if tokens.size == 0 or features.size == 0:
        fail(node, f"slice of {lw.shape(x)} takes nothing")
    out = (1, tokens.size, features.size)
    if np.array_equal(tokens, np.arange(length)):
        _slice(lw, node, x, features, out)
    else:
        row = lw.emit_step(node, "flat", "view", [one_row(lw, node, x)],
                           (1, length * d), layout=(1, 1, 1, length * d))
        picked = (tokens[:, None] * d + features[None, :]).ravel()
        part = lw.emit_step(node, "picked", "channel_gather", [row], (1, picked.size),
                            weight=picked.astype(np.float64))
        lw.emit(node, "view", [part], out, layout=(1, 1) + out[1:])
    lw.last.add(node.output[0])


def _slice(lw, node, x, channels, shape, out=None):
    _, h, w, _ = lw.dyce_shape(x)
    lw.emit(node, "channel_gather", [x], shape, out=out,
            layout=(1, h, w, len(channels)), weight=channels.astype(np.float64))


def lower_split(lw, node, x, sizes_of, axis):
    """qkv.unbind(0) of a qkv_t view, or a sequence's features split
    (q, k, v = qkv(x).chunk(3, -1)): channel slices."""
    shape = lw.shape(x)
    if x in lw.heads and lw.heads[x][0] == "qkv_t" and axis == 0:
        groups, span = lw.heads[x][1], int(np.prod(shape[2:])) // shape[3]
        at = 0
        for size, out in zip(sizes_of(shape[0]), node.output):
            if size != 1:
                fail(node, f"split of {shape} into parts of {size}: only unbind")
            _slice(lw, node, x, np.arange(at * span, (at + 1) * span),
                   (1,) + tuple(shape[1:]), out=out)
            lw.heads[out] = ("qkv_t", groups)
            at += 1
    elif is_seq(lw, x) and axis == 2:
        at = 0
        for size, out in zip(sizes_of(shape[2]), node.output):
            _slice(lw, node, x, np.arange(at, at + size), shape[:2] + (size,), out=out)
            lw.last.add(out)
            at += size
    else:
        fail(node, f"split along axis {axis} of an attention view {shape}")


def lower_concat(lw, node, axis):
    """Along a sequence's tokens (constant tokens around one computed
    sequence: a zero pad of its row plus a constant), or its features."""
    names = list(node.input)
    computed = [n for n in names if not lw.is_const(n)]
    shapes = [lw.shape(n) for n in names]
    if axis == 2 and all(is_seq(lw, n) for n in names):
        lengths = {s[1] for s in shapes}
        layouts = {lw.dyce_shape(n)[1:3] for n in names}
        if len(lengths) != 1 or len(layouts) != 1:
            fail(node, f"concatenating sequences of shapes {shapes} along features")
        h, w = layouts.pop()
        d = sum(s[2] for s in shapes)
        lw.emit(node, "concat", names, (1, shapes[0][1], d), layout=(1, h, w, d))
        lw.last.add(node.output[0])
        return
    if axis != 1 or len(computed) != 1 or not is_seq(lw, computed[0]):
        fail(node, f"concatenation along axis {axis} of {shapes}: of sequences, "
                    "only constant tokens around one computed sequence, or features")
    at = names.index(computed[0])
    x = one_row(lw, node, computed[0])
    before = sum(s[1] for s in shapes[:at])
    after = sum(s[1] for s in shapes[at + 1:])
    _, length, d = shapes[at]
    total = before + length + after
    consts = [np.broadcast_to(lw.const(node, i), (1, shapes[i][1], d)).astype(np.float64)
              if i != at else np.zeros((1, length, d)) for i in range(len(names))]
    padded = lw.emit_step(node, "pad", "pad", [x], (1, total, d), layout=(1, 1, total, d),
                          params=fmt.node_params(PAD_L=before, PAD_R=after),
                          weight=np.ones(d))
    lw.emit(node, "add", [padded], (1, total, d), layout=(1, 1, total, d),
            weight=np.concatenate(consts, axis=1).ravel())
    lw.last.add(node.output[0])


def lower_token_mean(lw, node, x, keepdims):
    """x.mean(1) of a sequence: the global average over its tokens."""
    _, _, d = lw.shape(x)
    if keepdims:
        lw.emit(node, "global_avg_pool", [x], (1, 1, d), layout=(1, 1, 1, d))
        lw.last.add(node.output[0])
    else:
        lw.emit(node, "global_avg_pool", [x], (1, d))


def sequence_output(lw, node, out):
    """A graph ending in a sequence hands on its tokens as one row, the
    layout a sequence input has (graph.py); `node` made `out`."""
    if not is_seq(lw, out) or lw.dyce_shape(out)[1] == 1:
        return out
    return one_row(lw, node, out)
