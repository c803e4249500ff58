"""The DS-CNN-S-like network with prefix-width (nested) subnetworks.

Architecture (REDS appendix table 7 uses DS-CNN-S on Fashion-MNIST):
stem conv 3x3 stride 2, C -> 64, BN, ReLU (28x28 -> 14x14 on Fashion-MNIST);
four depthwise-separable blocks (dw conv 3x3 + BN + ReLU, pw conv 1x1
64 -> 64 + BN + ReLU) at that size; global average pool; Linear 64 -> classes.

Graphs (the cascade naming contract): `stage1` = stem + block 1, `stage2` =
block 2, `stage3` = block 3, `head` = block 4 + GAP + Linear.

Widths. A level is {graph: [output channels of every DENSE conv / linear
node in graph order]} (exactly the LEVELS contract of the package):
stage1 [n_stem, n_pw1], stage2 [n_pw2], stage3 [n_pw3], head [n_pw4, K].
Depthwise convs take their input's width; the classifier keeps its K outputs.
Internally a level is also written as the 5-tuple `units` = (n_stem, n_pw1,
n_pw2, n_pw3, n_pw4): the unit groups ("layers") the knapsack chooses.
A sliced forward uses weight[:n_out, :n_in] of every layer (prefix
channels) and the matching prefix of the BatchNorm parameters/statistics,
so after reordering by importance every subnetwork is a prefix.

Only ops the converter lowers: Conv (groups), BatchNorm (folded), ReLU,
AdaptiveAvgPool 1, Flatten, Linear.

Input geometry: the network is fully convolutional up to its pooling, so
it takes any image size and channel count and any class count; a REDS run
sets them once from its data (`set_input`, before any network is built:
the closed-form MACs of the knapsack and the export shapes follow them).
The default is Fashion-MNIST's, 28x28 gray, 10 classes.
"""

import copy

import torch
from torch import nn
from torch.nn import functional as F

WIDTH = 64
BLOCKS = 4
STEM_STRIDE = 2
NUM_CLASSES = 10
INPUT_SHAPE = (1, 1, 28, 28)
GRAPHS = ("stage1", "stage2", "stage3", "head")
FULL_UNITS = (WIDTH,) * (BLOCKS + 1)


def set_input(channels, size, classes):
    """The run's image geometry and class count (module-wide: one REDS run
    per process narrows one network on one data set)."""
    global INPUT_SHAPE, NUM_CLASSES
    INPUT_SHAPE, NUM_CLASSES = (1, int(channels)) + tuple(map(int, size)), int(classes)


def stage_size():
    """(h, w) of the stage maps (after the stride-2 stem, padding 1)."""
    return tuple((v + STEM_STRIDE - 1) // STEM_STRIDE for v in INPUT_SHAPE[2:])


def stage_hw():
    h, w = stage_size()
    return h * w


class ConvBN(nn.Module):
    """Conv (no bias, 'same' padding) + BN + ReLU; prefix-sliceable."""

    def __init__(self, cin, cout, kernel, stride=1, depthwise=False):
        super().__init__()
        groups = cin if depthwise else 1
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2,
                              groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.depthwise = depthwise

    def forward(self, x, n_out=None):
        n_in = x.shape[1]
        if self.depthwise:
            n_out = n_in
        n_out = self.conv.out_channels if n_out is None else n_out
        if n_in == self.conv.in_channels and n_out == self.conv.out_channels:
            return self.relu(self.bn(self.conv(x)))
        w = self.conv.weight[:n_out]
        if not self.depthwise:
            w = w[:, :n_in]
        x = F.conv2d(x, w, None, self.conv.stride, self.conv.padding,
                     groups=n_out if self.depthwise else 1)
        bn = self.bn
        x = F.batch_norm(x, bn.running_mean[:n_out], bn.running_var[:n_out],
                         bn.weight[:n_out], bn.bias[:n_out], bn.training,
                         bn.momentum, bn.eps)
        return F.relu(x)


class DSBlock(nn.Module):
    """Depthwise 3x3 + BN + ReLU, pointwise 1x1 + BN + ReLU."""

    def __init__(self, cin, cout):
        super().__init__()
        self.dw = ConvBN(cin, cin, 3, depthwise=True)
        self.pw = ConvBN(cin, cout, 1)

    def forward(self, x, n_out=None):
        return self.pw(self.dw(x), n_out)


class Stage1(nn.Module):
    """Graph stage1: stem + block 1. widths: [n_stem, n_pw1]."""

    def __init__(self, n_stem, n_out, channels):
        super().__init__()
        self.stem = ConvBN(channels, n_stem, 3, STEM_STRIDE)
        self.block = DSBlock(n_stem, n_out)

    def forward(self, x, widths=None):
        widths = widths or [None, None]
        return self.block(self.stem(x, widths[0]), widths[1])


class Stage(nn.Module):
    """Graphs stage2, stage3: one block. widths: [n_pw]."""

    def __init__(self, cin, cout):
        super().__init__()
        self.block = DSBlock(cin, cout)

    def forward(self, x, widths=None):
        return self.block(x, (widths or [None])[0])


class Head(nn.Module):
    """Graph head: block 4 + GAP + Linear. widths: [n_pw4, classes]."""

    def __init__(self, cin, cout, classes):
        super().__init__()
        self.block = DSBlock(cin, cout)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(cout, classes)

    def forward(self, x, widths=None):
        x = self.pool(self.block(x, (widths or [None])[0]))
        if x.shape[1] == self.fc.in_features:
            return self.fc(x)
        return F.linear(x, self.fc.weight[:, :x.shape[1]], self.fc.bias)


class DSCNN(nn.Module):
    """The network; `stages[k]` is graph GRAPHS[k]. units = 5 widths;
    input channels and classes: the run's (set_input) unless given."""

    def __init__(self, units=FULL_UNITS, channels=None, classes=None):
        super().__init__()
        n = list(units)
        channels = INPUT_SHAPE[1] if channels is None else channels
        classes = NUM_CLASSES if classes is None else classes
        self.stages = nn.ModuleList([Stage1(n[0], n[1], channels), Stage(n[1], n[2]),
                                     Stage(n[2], n[3]), Head(n[3], n[4], classes)])

    def features(self, x, level=None):
        """Every stage output (the last is the logits) at a level's widths."""
        outs = []
        for name, stage in zip(GRAPHS, self.stages):
            x = stage(x, (level or {}).get(name))
            outs.append(x)
        return outs

    def forward(self, x, level=None):
        return self.features(x, level)[-1]

    # Layers in unit-group order: (producing conv, depthwise conv that
    # reads its channels or None, conv/linear that reads them next).
    def unit_layers(self):
        s = self.stages
        blocks = [s[0].block, s[1].block, s[2].block, s[3].block]
        layers = [(s[0].stem, blocks[0].dw, blocks[0].pw.conv)]
        for k in range(BLOCKS):
            nxt = blocks[k + 1] if k + 1 < BLOCKS else None
            layers.append((blocks[k].pw, nxt.dw if nxt else None,
                           nxt.pw.conv if nxt else s[3].fc))
        return layers


def level_widths(units):
    """5-tuple of unit widths -> the LEVELS dict of graph widths (the
    classifier keeps every class)."""
    n = [int(v) for v in units]
    return {"stage1": [n[0], n[1]], "stage2": [n[2]], "stage3": [n[3]],
            "head": [n[4], NUM_CLASSES]}


def stage_out_widths(units):
    """Channels of the stage1..3 outputs (what exits read) at `units`."""
    return [int(units[1]), int(units[2]), int(units[3])]


def _narrow_convbn(src, dst, n_in, n_out):
    w = src.conv.weight.data
    dst.conv.weight.data.copy_(w[:n_out] if src.depthwise
                               else w[:n_out, :n_in])
    for name in ("weight", "bias", "running_mean", "running_var"):
        getattr(dst.bn, name).data.copy_(getattr(src.bn, name).data[:n_out])
    dst.bn.num_batches_tracked.copy_(src.bn.num_batches_tracked)


def materialise(net, units):
    """A plain DSCNN of the given widths holding net's prefix weights.

    Used to count MACs with the ordinary hook counter and to cross-check the
    sliced forward (same logits).
    """
    small = DSCNN(units).eval()
    n = list(units)
    ins = [INPUT_SHAPE[1]] + n[:-1]
    for (src, src_dw, _), (dst, dst_dw, _), n_in, n_out in zip(
            net.unit_layers(), small.unit_layers(), ins, n):
        _narrow_convbn(src, dst, n_in, n_out)
        if src_dw is not None:
            _narrow_convbn(src_dw, dst_dw, n_out, n_out)
    small.stages[3].fc.weight.data.copy_(net.stages[3].fc.weight.data[:, :n[4]])
    small.stages[3].fc.bias.data.copy_(net.stages[3].fc.bias.data)
    return small


def stage_shapes(units=FULL_UNITS):
    """NCHW output shape of stage1..3 and the head's output."""
    with torch.no_grad():
        feats = DSCNN(units).eval().features(torch.zeros(INPUT_SHAPE))
    return [tuple(f.shape) for f in feats]


def graph_macs(net, units):
    """{graph: MACs of the graph alone} at `units` (the hook counter of
    the builder on the materialised narrow network)."""
    from dyce_build.nets import count_macs
    small = materialise(net, units)
    shapes = [INPUT_SHAPE] + stage_shapes(units)[:-1]
    return {name: count_macs(stage, shape)
            for name, stage, shape in zip(GRAPHS, small.stages, shapes)}


def analytic_macs(units):
    """Total MACs of the network at `units` (closed form, for the knapsack):
    stem hw·9·C·n0, per block dw hw·9·n_in + pw hw·n_in·n_out, FC
    classes·n_last (hw: stage_hw, C: input channels)."""
    n, hw = [int(v) for v in units], stage_hw()
    total = hw * 9 * INPUT_SHAPE[1] * n[0]
    for k in range(BLOCKS):
        total += hw * 9 * n[k] + hw * n[k] * n[k + 1]
    return total + NUM_CLASSES * n[-1]


def param_count(units):
    """Parameters of the subnetwork (conv weights, BN affine, FC)."""
    n = [int(v) for v in units]
    total = 9 * INPUT_SHAPE[1] * n[0] + 2 * n[0]
    for k in range(BLOCKS):
        total += 9 * n[k] + 2 * n[k] + n[k] * n[k + 1] + 2 * n[k + 1]
    return total + NUM_CLASSES * n[-1] + NUM_CLASSES


def copy_net(net):
    return copy.deepcopy(net)
