"""The prefix-sliced forward of the ResNet-20 and its narrow copies.

`forward(net, x, widths)` runs the full-width `net` as the subnetwork of
`widths` (nets.Widths): every conv uses weight[:n_out, :n_in] and the
prefix of its BatchNorm, the classifier weight[:, :S2]; the identity
shortcut adds the stream's S channels to the block's S output channels.
Gradients flow into the shared full-width parameters (joint fine-tuning).

`materialise(net, widths)` is an ordinary nets.ResNet(widths) holding the
prefix of every tensor (every dimension sliced to the narrow shape): the
network the package runs at that level. `check` asserts the two give the
same logits.
"""

import torch
from torch import nn
from torch.nn import functional as F

from . import nets

TOLERANCE = 1e-4


def conv_bn(cb, x, n_out):
    """Sequential(Conv2d, BatchNorm2d) on x's channels with n_out outputs."""
    conv, bn = cb[0], cb[1]
    n_in = x.shape[1]
    if n_in == conv.in_channels and n_out == conv.out_channels:
        return cb(x)
    y = F.conv2d(x, conv.weight[:n_out, :n_in], None, conv.stride,
                 conv.padding)
    return F.batch_norm(y, bn.running_mean[:n_out], bn.running_var[:n_out],
                        bn.weight[:n_out], bn.bias[:n_out], bn.training,
                        bn.momentum, bn.eps)


def block(blk, x, inner, out):
    """One basic block at (inner, out) widths; x has the input stream's."""
    h = F.relu(conv_bn(blk.body[0], x, inner))
    h = conv_bn(blk.body[2], h, out)
    if isinstance(blk.shortcut, nn.Identity):
        if x.shape[1] != out:
            raise ValueError(f"identity shortcut: {x.shape[1]} != {out}")
        sc = x
    else:
        sc = conv_bn(blk.shortcut, x, out)
    return F.relu(h + sc)


def features(net, x, widths=None):
    """Every stage output, then the logits, at `widths` (None = full)."""
    w = widths or nets.FULL
    x = F.relu(conv_bn(nets.stem(net), x, int(w.stream[0])))
    outs = []
    for b, blk in enumerate(nets.blocks(net)):
        _, inner, cout = nets.block_io(w, b)
        x = block(blk, x, inner, cout)
        outs.append(x)
    pooled = F.adaptive_avg_pool2d(x, 1).flatten(1)
    fc = nets.classifier(net)
    outs.append(F.linear(pooled, fc.weight[:, :pooled.shape[1]], fc.bias))
    return outs


def forward(net, x, widths=None):
    """Logits of the subnetwork `widths`."""
    return features(net, x, widths)[-1]


def materialise(net, widths):
    """A plain nets.ResNet(widths) with net's prefix weights (eval mode)."""
    small = nets.ResNet(widths)
    src = net.state_dict()
    state = {k: src[k][tuple(slice(0, d) for d in v.shape)].clone()
             for k, v in small.state_dict().items()}
    small.load_state_dict(state)
    return small.eval()


def check(net, named_levels, x, log):
    """Sliced forward == materialised narrow network at every level; the
    max abs logit difference per level."""
    diffs = {}
    net.eval()
    with torch.no_grad():
        for name, widths in named_levels:
            a = forward(net, x, widths)
            b = materialise(net, widths)(x)
            diffs[name] = float((a - b).abs().max())
    log("sliced vs narrow: max abs logit difference "
        + ", ".join(f"{n} {d:.3g}" for n, d in diffs.items())
        + f" on {len(x)} images (tolerance {TOLERANCE})")
    bad = {n: d for n, d in diffs.items() if not d < TOLERANCE}
    if bad:
        raise RuntimeError(f"sliced forward != narrow network: {bad}")
    return diffs
