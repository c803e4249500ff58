"""The Fashion-MNIST ResNet-20 (or another depth of its family) with a free
width per unit group.

The layers of models/backbones/resnet_cifar.py's resnet20 — or resnet32,
resnet56: `set_depth` sets the blocks per stream, 3 by default — (whose
trained weights `from_resnet_cifar` maps in), grouped as the package's graphs:
`stages[k]` is block k + 1 (the stem inside the first), `head` GAP +
Linear; every basic block has its own inner width (the first conv's output
channels) and every residual stream its own width.

Unit groups (the "layers" of the knapsack), in this order everywhere
(importance.npz, permutations, widths):

    0, 1, 2   residual streams at 28x28, 14x14, 7x7 (16, 32, 64 channels)
    3 ... 11  inner width of blocks 1 ... 9 (graph stage<k> = block k;
              3 + BLOCKS - 1 at other depths)

A stream's channels are ONE prefix for every layer that produces them (the
stem or the projection shortcut, and the second conv of every block of the
stream: the add needs equal widths) and every layer that reads them (the
first conv of each block reading the stream, the next stream's projection
shortcut, the classifier). A block's inner width is free.

Widths(stream=(S0, S1, S2), inner=(I1, ..., I9)); the MACs are

    hw0·9·C·S0 (stem)
    + Σ_blocks hw·9·I_b·(s_in + s_out)      (conv1 + conv2)
    + hw1·S0·S1 + hw2·S1·S2                 (projection shortcuts)
    + K·S2                                   (classifier)

with hw = hw0 / hw1 / hw2 the pixels of streams 0 / 1 / 2 (784 / 196 / 49
on Fashion-MNIST's 28x28) for its blocks, C the input channels, K the
classes, s_out the block's stream and s_in the previous stream for the
first block of streams 1 and 2 (else s_out): bilinear in (stream, inner)
per block.

Input geometry: any image size, channel count and class count; a REDS
run sets them once from its data (`set_input`, before any network is
built). The default is Fashion-MNIST's, 28x28 gray, 10 classes.
"""

from typing import NamedTuple

import torch
from torch import nn

from dyce_build.nets import Exit

STREAMS = (16, 32, 64)                       # resnet_cifar.WIDTHS
# The depth (PER_STREAM, BLOCKS, GRAPHS, GROUP_NAMES, FULL: set_depth) and
# the input (INPUT_SHAPE, NUM_CLASSES, HW: the output pixels per stream,
# set_input) are set below the Widths class: resnet20 on Fashion-MNIST.


def set_depth(per_stream):
    """Blocks per stream: 3, 5, 9 for resnet20, resnet32, resnet56 (module-
    wide, like set_input; before any network is built)."""
    global PER_STREAM, BLOCKS, GRAPHS, GROUP_NAMES, FULL
    PER_STREAM = int(per_stream)
    BLOCKS = len(STREAMS) * PER_STREAM
    GRAPHS = tuple(f"stage{k}" for k in range(1, BLOCKS + 1)) + ("head",)
    GROUP_NAMES = (tuple(f"stream{s}" for s in range(len(STREAMS)))
                   + tuple(f"inner{b + 1}" for b in range(BLOCKS)))
    FULL = Widths(tuple(STREAMS), tuple(STREAMS[b // PER_STREAM] for b in range(BLOCKS)))


def set_input(channels, size, classes):
    """The run's image geometry and class count (module-wide: one REDS run
    per process narrows one network on one data set)."""
    global INPUT_SHAPE, NUM_CLASSES, HW
    INPUT_SHAPE, NUM_CLASSES = (1, int(channels)) + tuple(map(int, size)), int(classes)
    h, w = INPUT_SHAPE[2:]
    hw = []
    for s in range(len(STREAMS)):  # stream s > 0 starts with a stride-2 3x3 conv, padding 1
        hw.append(h * w)
        h, w = (h + 1) // 2, (w + 1) // 2
    HW = tuple(hw)


def conv_bn(cin, cout, kernel, stride):
    """resnet_cifar.conv_bn (the same parameter names)."""
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


class Widths(NamedTuple):
    """Prefix widths: stream (S0, S1, S2) and inner (I1 ... I9)."""
    stream: tuple
    inner: tuple

    def units(self):
        """The 12 group widths in unit-group order."""
        return tuple(int(v) for v in self.stream + self.inner)

    @staticmethod
    def of_units(units):
        u = [int(v) for v in units]
        return Widths(tuple(u[:len(STREAMS)]), tuple(u[len(STREAMS):]))

    def to_json(self):
        return {"stream": list(map(int, self.stream)),
                "inner": list(map(int, self.inner))}

    @staticmethod
    def from_json(obj):
        return Widths(tuple(obj["stream"]), tuple(obj["inner"]))


set_depth(3)
set_input(1, (28, 28), 10)


def network_name():
    """resnet_cifar.py's function of this depth: resnet20, resnet32, …"""
    return f"resnet{6 * PER_STREAM + 2}"


def stream_of(b):
    """Stream index of block b (0-based)."""
    return b // PER_STREAM


def projects(b):
    """Block b starts a new stream (stride 2, projection shortcut)."""
    return b > 0 and b % PER_STREAM == 0


def block_io(widths, b):
    """(input channels, inner, output channels) of block b at `widths`."""
    s = stream_of(b)
    cin = widths.stream[s - 1] if projects(b) else widths.stream[s]
    return int(cin), int(widths.inner[b]), int(widths.stream[s])


class Block(nn.Module):
    """resnet_cifar.BasicBlock with a separate inner width."""

    def __init__(self, cin, inner, cout, stride, project):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, inner, 3, stride),
                                  nn.ReLU(), conv_bn(inner, cout, 3, 1))
        self.shortcut = (conv_bn(cin, cout, 1, stride) if project
                         else nn.Identity())
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    """The ResNet at `widths` (default FULL); `stages[k]` is graph
    stage<k+1>, then `head`."""

    def __init__(self, widths=None):
        super().__init__()
        widths = widths or FULL
        blocks = []
        for b in range(BLOCKS):
            cin, inner, cout = block_io(widths, b)
            stride = 2 if projects(b) else 1
            blocks.append(Block(cin, inner, cout, stride, projects(b)))
        stem = nn.Sequential(conv_bn(INPUT_SHAPE[1], widths.stream[0], 3, 1), nn.ReLU())
        blocks[0] = nn.Sequential(stem, blocks[0])
        self.stages = nn.ModuleList(blocks)
        self.head = Exit(widths.stream[-1], NUM_CLASSES, 0)
        self.widths = widths

    def features(self, x):
        """The output of every stage, in order."""
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs

    def forward(self, x):
        return self.head(self.features(x)[-1])


def from_resnet_cifar(state):
    """resnet_cifar.resnet20's state dict with ResNet's keys (at FULL):
    stem.* -> stages.0.0.*, stages.<s>.<b>.* -> the stage of block 3s + b,
    fc.* -> head.mlp.0.*."""
    out = {}
    for key, value in state.items():
        first, rest = key.split(".", 1)
        if first == "stem":
            out["stages.0.0." + rest] = value
        elif first == "fc":
            out["head.mlp.0." + rest] = value
        else:
            s, b, tail = rest.split(".", 2)
            k = PER_STREAM * int(s) + int(b)
            out[f"stages.0.1.{tail}" if k == 0 else f"stages.{k}.{tail}"] = value
    return out


def stem(net):
    """The stem's conv_bn (Sequential(Conv2d, BatchNorm2d))."""
    return net.stages[0][0][0]


def blocks(net):
    """The nine Block modules in order."""
    return [net.stages[0][1]] + list(net.stages[1:])


def classifier(net):
    return net.head.mlp[-1]


class Group(NamedTuple):
    """A unit group: conv_bn pairs producing its channels (filters and BN
    permuted / sliced together) and modules reading them (weight dim 1)."""
    name: str
    producers: list
    consumers: list


def unit_groups(net):
    """[Group] in unit-group order (streams 0..2, inner 1..9)."""
    blks = blocks(net)
    groups = []
    for s in range(len(STREAMS)):
        mine = [b for b in range(BLOCKS) if stream_of(b) == s]
        prods = [stem(net)] if s == 0 else [blks[mine[0]].shortcut]
        prods += [blks[b].body[2] for b in mine]
        cons = [blks[b].body[0][0] for b in mine if not projects(b)]
        if s + 1 < len(STREAMS):
            nxt = mine[-1] + 1
            cons += [blks[nxt].body[0][0], blks[nxt].shortcut[0]]
        else:
            cons.append(classifier(net))
        groups.append(Group(GROUP_NAMES[s], prods, cons))
    for b, blk in enumerate(blks):
        groups.append(Group(GROUP_NAMES[len(STREAMS) + b], [blk.body[0]],
                            [blk.body[2][0]]))
    return groups


def level_graph_widths(widths):
    """{graph: {role: channels}}: the output width of every dense node role
    of every graph (roles stem, conv1, conv2, shortcut, fc)."""
    out = {}
    for b in range(BLOCKS):
        _, inner, cout = block_io(widths, b)
        roles = {"conv1": inner, "conv2": cout}
        if b == 0:
            roles["stem"] = int(widths.stream[0])
        if projects(b):
            roles["shortcut"] = cout
        out[GRAPHS[b]] = roles
    out["head"] = {"fc": NUM_CLASSES}
    return out


def graph_macs(widths):
    """{graph: MACs of the graph alone} at `widths` (closed form)."""
    out = {}
    for b in range(BLOCKS):
        cin, inner, cout = block_io(widths, b)
        hw = HW[stream_of(b)]
        m = hw * 9 * inner * (cin + cout)
        if projects(b):
            m += hw * cin * cout
        if b == 0:
            m += HW[0] * 9 * INPUT_SHAPE[1] * int(widths.stream[0])
        out[GRAPHS[b]] = m
    out["head"] = NUM_CLASSES * int(widths.stream[-1])
    return out


def total_macs(widths):
    return sum(graph_macs(widths).values())


def param_count(widths):
    """Parameters of the subnetwork: conv weights, BN affine, classifier."""
    total = 9 * INPUT_SHAPE[1] * widths.stream[0] + 2 * widths.stream[0]
    for b in range(BLOCKS):
        cin, inner, cout = block_io(widths, b)
        total += 9 * cin * inner + 2 * inner + 9 * inner * cout + 2 * cout
        if projects(b):
            total += cin * cout + 2 * cout
    return int(total + NUM_CLASSES * widths.stream[-1] + NUM_CLASSES)


def stage_shapes(widths=None):
    """NCHW output shape of every stage at `widths` (default FULL)."""
    with torch.no_grad():
        feats = ResNet(widths).eval().features(torch.zeros(INPUT_SHAPE))
    return [tuple(f.shape) for f in feats]
