"""Token sequences and multi-head attention (ViT blocks, nn.MultiheadAttention,
self-attention on a feature map) on dyce's NHWC tensors.

A sequence is a channels-last view (layouts.py): its L tokens are the
positions of a dyce tensor (the H x W of the map it was flattened from, or
1 x L) and its E features the channels, whichever ONNX shape shows them:
(1, L, E), nn.MultiheadAttention's sequence-first (L, 1, E), or (L, E).
Heads stay in channel groups: head g is channels g*K .. g*K+K-1 (and with
q, k, v packed in one tensor, p*G*K + g*K + k), so a head split or a
transpose is a view, never a copy. A view's axes are named by roles, one
letter per ONNX axis (`lw.heads`: name -> (roles, G)):

    1 a unit axis   L tokens   E all features   G heads   K a head's features
    P q / k / v (packed: qkv(x).reshape(B, L, 3, G, K))
    W windows (Swin: attention within windows of the map, a batch of
      sequences): a (W, L, E) sequence is the dyce tensor (1, W, L, E),
      a window per row; its products run row by row (MATMUL_ROWWISE)

Without unit axes (and with G = 1 a head's K is E) a view is one of FORMS.
q @ k^T and attn @ v are the engine's matmul (groups = heads), the softmax
over the keys a softmax per channel group. x[:, i] (a class token),
x[:, a:b] and flattening read the tokens through a `view` to one row; a
constant token prepended (torch.cat([cls, x], 1)) is a zero pad of the row
plus a constant."""

import numpy as np

import dyce_format as fmt

from . import pixels
from .common import fail

SEQUENCE = ("LE", "E")
FORMS = SEQUENCE + ("EL", "LGK", "GLK", "GKL", "LPGK", "PGLK", "LPE", "PLE")
ROWS = ("GLK",) + SEQUENCE          # a matmul's A, or B as attn @ v
COLUMNS = ("GKL", "EL")             # B as q @ k^T
# ONNX ops that may read a head view (anything else is refused, naming it).
READERS = {"Shape", "Transpose", "Reshape", "MatMul", "Einsum", "Softmax", "Mul", "Div",
           "Add", "Gather", "Split", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


def _canonical(roles, shape, groups):
    """The form of a view: its roles without unit axes and windows, E for K
    when G = 1."""
    kept = "".join(r for r, d in zip(roles, shape) if d != 1 and r not in "1W")
    return kept.replace("G", "").replace("K", "E") if groups == 1 else kept


def roles_of(lw, name):
    """(roles, G, form) of a sequence or head view; None for other tensors."""
    shape = lw.shape(name)
    if name in lw.heads:
        roles, groups = lw.heads[name]
    elif name in lw.last and sum(d != 1 for d in shape[:-1]) <= 1:
        roles, groups = "".join("L" if d != 1 else "1" for d in shape[:-1]) + "E", 1
    elif name in lw.last and windowed(lw, name):
        roles, groups = "WLE", 1
    else:
        return None
    return roles, groups, _canonical(roles, shape, groups)


def windowed(lw, name):
    """name is a batch of windows' sequences: (W, L, E), the dyce tensor
    (1, W, L, E). (A (1, W, L, E) one is a channels-last map until its
    features split into heads: lower_view.)"""
    shape, layout = lw.shape(name), lw.dyce_shape(name)
    return len(shape) == 3 and shape[0] > 1 and layout is not None \
        and tuple(layout[1:]) == tuple(shape)


def windows(roles, shape):
    """The number of windows of a view (1 without a W axis)."""
    return _size(roles, shape, "W")


def is_seq(lw, name):
    r = roles_of(lw, name)
    return r is not None and r[2] in SEQUENCE


def _size(roles, shape, letter):
    return shape[roles.index(letter)] if letter in roles else 1


def check_inputs(lw, node):
    for name in node.input:
        if name and name in lw.heads and node.op_type not in READERS:
            fail(node, f"input '{name}' is an attention head view "
                        f"{lw.shape(name)}; dyce takes only the transposes, "
                        "matmuls, softmax and scaling of attention on it")


def _set_view(lw, out, roles, groups):
    """Record out's roles: a sequence goes to lw.last, other views to lw.heads."""
    form = _canonical(roles, lw.shape(out), groups)
    if form in SEQUENCE:
        lw.last.add(out)
        lw.heads.pop(out, None)
    elif form == "EL" and len(lw.shape(out)) == 3 and lw.shape(out)[0] == 1:
        lw.last.discard(out)     # (1, C, L): an ordinary channel-major tensor
    else:
        lw.heads[out] = (roles, groups)
        lw.last.discard(out)


def constant_operand(lw, node, x, k):
    """A constant added to or multiplying a head view (a relative position
    bias (1, G, L, L), a per-head scale) in the order of x's data: tokens,
    then q / k / v, heads, a head's features."""
    roles, _ = lw.heads[x]
    shape = lw.shape(x)
    if np.broadcast_shapes(k.shape, shape) != tuple(shape):
        fail(node, f"constant of shape {k.shape} would broadcast the {shape} view")
    if k.size == 1:
        return k.reshape(1)
    full = np.broadcast_to(k.reshape((1,) * (len(shape) - k.ndim) + k.shape), shape)
    order = sorted(range(len(shape)), key=lambda i: "1WLPGKE".index(roles[i]))
    return np.ascontiguousarray(full.transpose(order)).ravel()


def same_view(lw, node, a, b):
    """Two head views combined elementwise must lay out their data alike."""
    if lw.heads.get(a) != lw.heads.get(b) or lw.shape(a) != lw.shape(b) or \
            lw.dyce_shape(a) != lw.dyce_shape(b):
        fail(node, f"elementwise op of attention views {lw.shape(a)} and "
                    f"{lw.shape(b)} that are not laid out alike")


def _alias(lw, node, x, shape, roles, groups, out=None):
    out = out or node.output[0]
    lw.make_alias(node, x, tuple(shape), out=out)
    _set_view(lw, out, roles, groups)


def one_row(lw, node, x):
    """x's tokens as one row (1, 1, L, E): x itself, or a `view` of it."""
    _, h, w, c = lw.dyce_shape(x)
    if h == 1:
        return x
    name = f"{node.output[0]}/row"
    lw.emit(node, "view", [x], lw.shape(x), out=name, layout=(1, 1, h * w, c))
    return name


def _known(lw, x):
    """roles_of x, where x may also be a plain (1, C, L) tensor ("1EL")."""
    r = roles_of(lw, x)
    shape = lw.shape(x)
    if r is None and len(shape) == 3 and shape[0] == 1:
        return "1EL", 1, _canonical("1EL", shape, 1)
    return r


def lower_transpose(lw, node, x, shape, perm):
    """True when the transpose moves axes of a sequence or head view."""
    r = _known(lw, x)
    if r is None:
        return False
    roles, groups, _ = r
    out_shape = tuple(shape[i] for i in perm)
    new = "".join(roles[i] for i in perm)
    if _canonical(new, out_shape, groups) not in FORMS:
        fail(node, f"transpose {list(perm)} of a {shape} attention view "
                    f"(axes {roles}): not a move between the views dyce takes")
    _alias(lw, node, x, out_shape, new, groups)
    return True


def _regroup(roles, src, dst, groups):
    """Roles of dst when a view of roles `roles`, shape src, is reshaped to
    dst: unit axes come and go, E splits into (G, K) or (P, G, K) and
    merges back; tokens stay whole. Returns (roles, G), or None when the
    reshape is none of these."""
    items = [(r, d) for r, d in zip(roles, src) if d != 1 and r != "1"]
    out, i, j = [], 0, 0
    dims = list(dst)
    while j < len(dims):
        d = dims[j]
        if d == 1:
            out.append("1")
            j += 1
            continue
        if i >= len(items):
            break
        r, size = items[i]
        if size == d:
            out.append(r)
            i, j = i + 1, j + 1
            continue
        run = next((n for n in (2, 3) if int(np.prod(dims[j:j + n])) == size
                    and 1 not in dims[j:j + n]), None)
        if r == "E" and run:
            out += ["G", "K"] if run == 2 else ["P", "G", "K"]
            groups = dims[j] if run == 2 else dims[j + 1]
            i, j = i + 1, j + run
            continue
        merged = next((n for n in (2, 3) if int(np.prod([s for _, s in items[i:i + n]])) == d),
                      None)
        letters = "".join(x for x, _ in items[i:i + (merged or 0)])
        if letters in ("GK", "PGK"):
            out.append("E")
            i, j = i + merged, j + 1
            continue
        break
    if i != len(items) or j != len(dims):
        return None
    return "".join(out), (1 if "G" not in out else groups)


def lower_view(lw, node, x, src, dst):
    """Reshapes of sequences and head views; True when handled."""
    r = roles_of(lw, x)
    if r is None and x in lw.last and len(src) == 4 and len(dst) > 4 and \
            tuple(dst[:3]) == tuple(src[:3]) and int(np.prod(dst[3:])) == src[3]:
        # The features of a channels-last (1, W, L, E) split into heads:
        # windows of tokens (MaxViT's block and grid attention)
        r = "1WLE", 1, "LE"
    if r is None:
        if len(src) == 3 and len(dst) == 4 and x not in lw.last and \
                dst[:2] == src[:2] and dst[2] * dst[3] == src[2]:
            _grid(lw, node, x, dst, dst[2:], last=False)   # (1, C, L) -> (1, C, H, W)
            return True
        return False
    roles, groups, form = r
    length, d = _size(roles, src, "L"), src[-1]
    if form in SEQUENCE and len(dst) == 4 and dst[0] == 1 and dst[3] == d \
            and dst[1] * dst[2] == length and 1 not in dst[1:3]:
        _grid(lw, node, x, dst, dst[1:3], last=True)       # (1, H, W, E), then permuted
    elif form in SEQUENCE and len(dst) == 2 and dst == (1, length * d) and length > 1:
        lw.emit(node, "view", [x], dst, layout=(1, 1, 1, length * d))
    else:
        regrouped = _regroup(roles, src, dst, groups)
        if regrouped is None and x in lw.last:
            return False   # tokens regrouped (Swin's window reverse): a move
        if regrouped is None:
            fail(node, f"reshape of a {src} attention view (axes {roles}) to {dst}: "
                        "only head splits and merges of the features, unit axes")
        _alias(lw, node, x, dst, *regrouped)
    return True


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
    """(form, G, rows, inner, windows) of a matmul operand (rows: its
    tokens, in each window)."""
    r = _known(lw, name)
    if r is None or r[2] not in ROWS + COLUMNS:
        fail(node, f"matmul of a computed {lw.shape(name)} tensor: only attention's "
                    "q @ k^T and attn @ v of token sequences or heads")
    roles, groups, form = r
    shape = lw.shape(name)
    per = _size(roles, shape, "K" if groups > 1 else "E")
    return form, groups, _size(roles, shape, "L"), per, windows(roles, shape)


def _positions(lw, name, count):
    """The tokens of each of `count` windows in name's dyce tensor (a
    window per row), or None when they are not laid out so."""
    _, h, w, _ = lw.dyce_shape(name)
    if count == 1:
        return h * w
    return w if h == count else None


def lower_einsum(lw, node, equation):
    """torch.einsum of two attention views: q k^T ('...id,...jd->...ij')
    or attn v ('...ij,...jd->...id') over the same leading axes (MaxViT)
    is lower_matmul's product, k read as its transpose."""
    eq = equation.replace(" ", "")
    a, b = lw.tensor(node, 0), lw.tensor(node, 1)
    try:
        (left, right), out = eq.split("->")[0].split(","), eq.split("->")[1]
    except ValueError:
        left = right = out = ""
    lead = left[:-2]
    refusal = (f"einsum '{eq}' of two computed tensors: only attention's "
               "q k^T ('...id,...jd->...ij') and attn v ('...ij,...jd->...id')")
    if not (len(left) == len(right) == len(out) == len(lw.shape(a)) >= 3
            and right[:-2] == lead and out[:-2] == lead and "." not in eq):
        fail(node, refusal)
    i, d = left[-2:]
    if right[-1] == d and right[-2] != d and out[-2:] == i + right[-2]:
        roles, groups = (lw.heads[b] if b in lw.heads else roles_of(lw, b)[:2])
        shape = lw.shape(b)
        k_t = f"{node.output[0]}/keys"
        _alias(lw, node, b, tuple(shape[:-2]) + (shape[-1], shape[-2]),
               roles[:-2] + roles[-1] + roles[-2], groups, out=k_t)
        return lower_matmul(lw, node, a, k_t)
    if right[-2] == d and out[-2:] == i + right[-1]:
        return lower_matmul(lw, node, a, b)
    fail(node, refusal)


def lower_matmul(lw, node, a=None, b=None):
    """q @ k^T (B in columns) or attn @ v (B in rows): dyce's matmul; within
    windows (a W axis on both) row by row."""
    if a is None:
        a, b = lw.tensor(node, 0), lw.tensor(node, 1)
    form_a, ga, m, k, wins = _operand(lw, node, a)
    form_b, gb, rows_b, inner_b, wins_b = _operand(lw, node, b)
    trans_b = form_b in COLUMNS
    _, ha, wa, _ = lw.dyce_shape(a)
    if form_a not in ROWS or ga != gb or wins != wins_b or \
            _positions(lw, a, wins) != m or _positions(lw, b, wins) != rows_b or (
            trans_b and inner_b != k) or (not trans_b and rows_b != k):
        fail(node, f"matmul of {lw.shape(a)} and {lw.shape(b)}: not a per-head "
                    "product of token sequences")
    n = rows_b if trans_b else inner_b
    shape_a, shape_b = lw.shape(a), lw.shape(b)
    shape = tuple(shape_a[:-1]) + (shape_b[-1],)
    lw.emit(node, "matmul", [a, b], shape, layout=(1, ha, wa, ga * n),
            params=fmt.node_params(MATMUL_GROUPS=ga, MATMUL_TRANS_B=int(trans_b),
                                   MATMUL_ALPHA=fmt.f32_bits(1.0),
                                   MATMUL_ROWWISE=int(wins > 1)))
    roles = lw.heads[a][0] if a in lw.heads else roles_of(lw, a)[0]
    _set_view(lw, node.output[0], roles, ga)


def lower_softmax(lw, node, x, axis, log):
    """Softmax over the last axis of a sequence or of heads: per group."""
    roles, groups, form = roles_of(lw, x)
    shape = lw.shape(x)
    if form not in ROWS or axis != len(shape) - 1:
        fail(node, f"softmax over axis {axis} of an attention view {shape} "
                    f"(axes {roles}): only over its last axis (the keys)")
    lw.emit(node, "softmax", [x], shape,
            params=fmt.node_params(SOFTMAX_LOG=int(log), SOFTMAX_GROUPS=groups))


def _span(roles, shape, axis):
    """Channels of one q / k / v part of a packed view (its P axis at
    `axis`): all features of a token over the parts."""
    return int(np.prod(shape)) // shape[axis] // _size(roles, shape, "L") \
        // windows(roles, shape)


def _token_axis(roles, axis):
    return roles[axis] == "L" or (roles[axis] == "1" and "L" not in roles)


def lower_gather(lw, node, x, idx, axis):
    """qkv[p] of a packed view (a channel slice: heads), or x[:, i] of a
    sequence (token i: a view to one row, then its channels)."""
    roles, groups, form = roles_of(lw, x)
    shape = lw.shape(x)
    if np.ndim(idx) != 0:
        fail(node, f"gather of a list {np.asarray(idx).tolist()} from an attention view")
    if roles[axis] == "P":
        span = _span(roles, shape, axis)
        p = int(idx) % shape[axis]
        _slice(lw, node, x, np.arange(p * span, (p + 1) * span),
               shape[:axis] + shape[axis + 1:])
        _set_view(lw, node.output[0], roles[:axis] + roles[axis + 1:], groups)
    elif form in SEQUENCE and _token_axis(roles, axis):
        length, d = shape[axis], shape[-1]
        i = int(idx) % length
        if shape[:axis] + shape[axis + 1:] != (1, d):
            fail(node, f"token {i} of {shape}: a (1, {d}) result expected")
        pixels.pick_values(lw, node, x, np.arange(i * d, (i + 1) * d), (1, d))
    else:
        fail(node, f"gather along axis {axis} of an attention view {shape} (axes {roles})")


def _slice(lw, node, x, channels, shape, out=None):
    _, h, w, _ = lw.dyce_shape(x)
    lw.emit(node, "channel_gather", [x], tuple(shape), out=out,
            layout=(1, h, w, len(channels)), weight=channels.astype(np.float64))


def lower_slice(lw, node, x, taken):
    """x[:, a:b] (tokens) and x[..., a:b] (features) of a sequence:
    `taken` is [(axis, indices)]."""
    roles, _, _ = roles_of(lw, x)
    shape = lw.shape(x)
    length, d = _size(roles, shape, "L"), shape[-1]
    tokens, features = np.arange(length), np.arange(d)
    for axis, idx in taken:
        if axis == len(shape) - 1:
            features = features[idx]
        elif roles[axis] == "L":
            tokens = tokens[idx]
        elif not np.array_equal(idx, np.arange(1)):
            fail(node, f"slicing axis {axis} of a token sequence {shape}")
    if tokens.size == 0 or features.size == 0:
        fail(node, f"slice of {shape} takes nothing")
    out = tuple(tokens.size if r == "L" else features.size if i == len(shape) - 1
                else shape[i] if r == "W" else 1 for i, r in enumerate(roles))
    if np.array_equal(tokens, np.arange(length)):
        _slice(lw, node, x, features, out)
    elif windows(roles, shape) > 1:
        fail(node, f"slicing the tokens of each window of {shape}")
    else:
        pixels.pick_values(lw, node, x, (tokens[:, None] * d + features[None, :]).ravel(),
                           out, layout=(1, 1, tokens.size, features.size))
    lw.last.add(node.output[0])


def lower_split(lw, node, x, sizes_of, axis):
    """qkv.unbind(0) of a packed view, a sequence's features split
    (q, k, v = qkv(x).chunk(3, -1), nn.MultiheadAttention's in_proj), or
    each head's features split: channel slices."""
    roles, groups, form = roles_of(lw, x)
    shape = lw.shape(x)
    at = 0
    if roles[axis] == "P":
        span = _span(roles, shape, axis)
        for size, out in zip(sizes_of(shape[axis]), node.output):
            part = shape[:axis] + (size,) + shape[axis + 1:]
            _slice(lw, node, x, np.arange(at * span, (at + size) * span), part, out=out)
            _set_view(lw, out, roles, groups)
            at += size
    elif form in SEQUENCE and axis == len(shape) - 1:
        for size, out in zip(sizes_of(shape[axis]), node.output):
            _slice(lw, node, x, np.arange(at, at + size), shape[:-1] + (size,), out=out)
            lw.last.add(out)
            at += size
    elif roles[axis] == "K" and "P" not in roles:
        # each head's features split (LeViT's q, k, v of sizes kd, kd, d):
        # the same slice of every head's channels, still one group per head
        k = shape[axis]
        for size, out in zip(sizes_of(k), node.output):
            idx = (np.arange(groups)[:, None] * k + np.arange(at, at + size)[None, :]).ravel()
            _slice(lw, node, x, idx, shape[:axis] + (size,) + shape[axis + 1:], out=out)
            _set_view(lw, out, roles, groups)
            at += size
    else:
        fail(node, f"split along axis {axis} of an attention view {shape} (axes {roles})")


def lower_concat(lw, node, axis):
    """Along a sequence's tokens (constant tokens around one computed
    sequence: a zero pad of its row plus a constant), or its features."""
    names = list(node.input)
    computed = [n for n in names if not lw.is_const(n)]
    shapes = [lw.shape(n) for n in names]
    seq = computed[0] if len(computed) == 1 else None
    if axis == len(shapes[0]) - 1 and all(is_seq(lw, n) for n in names):
        layouts = {lw.dyce_shape(n)[1:3] for n in names}
        if len({s[:-1] for s in shapes}) != 1 or len(layouts) != 1:
            fail(node, f"concatenating sequences of shapes {shapes} along features")
        h, w = layouts.pop()
        d = sum(s[-1] for s in shapes)
        lw.emit(node, "concat", names, shapes[0][:-1] + (d,), layout=(1, h, w, d))
        lw.last.add(node.output[0])
        return
    if seq is None or not is_seq(lw, seq) or not _token_axis(roles_of(lw, seq)[0], axis):
        fail(node, f"concatenation along axis {axis} of {shapes}: of sequences, "
                    "only constant tokens around one computed sequence, or features")
    at = names.index(seq)
    x = one_row(lw, node, seq)
    before = sum(s[axis] for s in shapes[:at])
    after = sum(s[axis] for s in shapes[at + 1:])
    d, total = shapes[at][-1], sum(s[axis] for s in shapes)
    rows = [np.zeros((shapes[at][axis], d)) if i == at else np.broadcast_to(
            np.moveaxis(lw.const(node, i), axis, -2), shapes[i]).reshape(-1, d)
            for i in range(len(names))]
    out = shapes[at][:axis] + (total,) + shapes[at][axis + 1:]
    padded = lw.emit_step(node, "pad", "pad", [x], out, layout=(1, 1, total, d),
                          params=fmt.node_params(PAD_L=before, PAD_R=after),
                          weight=np.ones(d))
    lw.emit(node, "add", [padded], out, layout=(1, 1, total, d),
            weight=np.concatenate(rows).astype(np.float64).ravel())
    lw.last.add(node.output[0])


def lower_token_mean(lw, node, x, axes, keepdims):
    """x.mean(1) of a sequence: the global average over its tokens."""
    roles, _, _ = roles_of(lw, x)
    shape = lw.shape(x)
    if len(axes) != 1 or not _token_axis(roles, axes[0]):
        fail(node, f"mean over axes {axes} of a token sequence {shape}: only over the tokens")
    d = shape[-1]
    if keepdims:
        out = tuple(1 if i == axes[0] else s for i, s in enumerate(shape))
        lw.emit(node, "global_avg_pool", [x], out, layout=(1, 1, 1, d))
        lw.last.add(node.output[0])
    elif len(shape) == 3 and axes[0] < 2:
        lw.emit(node, "global_avg_pool", [x], (1, d) if shape[1 - axes[0]] == 1
                else fail(node, f"mean of {shape} over axis {axes[0]} leaves a batch"))
    else:
        fail(node, f"mean over axes {axes} of {shape}: a (1, {d}) result expected")


def sequence_output(lw, node, out):
    """A graph ending in a sequence hands on its tokens as one row, the
    layout a sequence input has (graph.py); `node` made `out`."""
    if not is_seq(lw, out) or lw.dyce_shape(out)[1] == 1:
        return out
    return one_row(lw, node, out)
