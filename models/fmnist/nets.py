"""Architectures: the ResNet-20 backbone in stages, DyCE exits, tiny savers.

Graph naming (the package and records contract): `stage1` … `stage9` are the
backbone split at residual-block outputs (stage1 = stem + block 1), `head` is
GAP + Linear on stage9's output, `exit<p>_<type>` reads stage p's output
(p = 1 … 8), `saver<i>` reads the package input. Only ops the converter
lowers exactly are used: conv, BatchNorm (folded), ReLU, add, global average
pooling, flatten, linear.
"""

import torch
from torch import nn

from dyce_build.nets import count_macs  # noqa: F401 (the pipelines' MAC count)

WIDTHS = (16, 32, 64)
BLOCKS_PER_STAGE = 3
NUM_CLASSES = 10
INPUT_SHAPE = (1, 1, 28, 28)
# Exit types: name -> hidden widths of the MLP after GAP (empty = linear),
# cheapest first (DyCE's released types are 1-5 layers of 500-1000 units for
# ImageNet; these are scaled to 16-64 input channels).
EXIT_TYPES = {"a": (), "b": (128,), "c": (128, 128)}
# Tiny savers: (out channels, stride) of each 3x3 conv + BN + ReLU, then
# GAP + Linear.
SAVERS = (
    ((8, 2), (16, 2), (24, 2)),
    ((16, 2), (24, 2), (32, 1), (64, 2)),
    ((12, 1), (32, 2), (64, 2), (128, 2)),
)


def conv_bn(cin, cout, kernel, stride):
    """Conv (no bias, 'same' padding) followed by BatchNorm."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
        nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    """ResNet basic block; 1x1 conv + BN projection when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride), nn.ReLU(),
                                  conv_bn(cout, cout, 3, 1))
        self.shortcut = (conv_bn(cin, cout, 1, stride)
                         if stride != 1 or cin != cout else nn.Identity())
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class Classifier(nn.Module):
    """GAP -> flatten -> MLP (ReLU between layers): the head and every exit."""

    def __init__(self, cin, hidden=()):
        super().__init__()
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        layers, width = [], cin
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        self.mlp = nn.Sequential(*layers, nn.Linear(width, NUM_CLASSES))

    def forward(self, x):
        return self.mlp(self.pool(x))


class Backbone(nn.Module):
    """ResNet-20 for 1x28x28: `stages[k]` is graph stage<k+1>, then `head`."""

    def __init__(self):
        super().__init__()
        blocks, cin = [], WIDTHS[0]
        for s, cout in enumerate(WIDTHS):
            for b in range(BLOCKS_PER_STAGE):
                stride = 2 if s > 0 and b == 0 else 1
                blocks.append(BasicBlock(cin, cout, stride))
                cin = cout
        stem = nn.Sequential(conv_bn(1, WIDTHS[0], 3, 1), nn.ReLU())
        blocks[0] = nn.Sequential(stem, blocks[0])
        self.stages = nn.ModuleList(blocks)
        self.head = Classifier(cin)

    def features(self, x):
        """The output of every stage, in order."""
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs

    def forward(self, x):
        return self.head(self.features(x)[-1])


def exit_positions():
    """Positions that get exits: every stage output except the last."""
    return list(range(1, len(WIDTHS) * BLOCKS_PER_STAGE))


def stage_shapes(backbone):
    """NCHW output shape of every stage for the 1x28x28 input."""
    with torch.no_grad():
        feats = backbone.eval().features(torch.zeros(INPUT_SHAPE))
    return [tuple(f.shape) for f in feats]


def make_exits(backbone):
    """{name: Classifier} for every position and exit type (records order)."""
    shapes = stage_shapes(backbone)
    return {f"exit{p}_{t}": Classifier(shapes[p - 1][1], hidden)
            for p in exit_positions() for t, hidden in EXIT_TYPES.items()}


class Saver(nn.Module):
    """A tiny plain CNN (TinySaver candidate) reading the normalised input."""

    def __init__(self, layers):
        super().__init__()
        convs, cin = [], 1
        for cout, stride in layers:
            convs += [conv_bn(cin, cout, 3, stride), nn.ReLU()]
            cin = cout
        self.features = nn.Sequential(*convs)
        self.head = Classifier(cin)

    def forward(self, x):
        return self.head(self.features(x))


def make_savers():
    """{saver<i>: Saver}, cheapest first."""
    return {f"saver{i}": Saver(layers) for i, layers in enumerate(SAVERS)}


def graph_specs(backbone, savers, exits):
    """[(name, module, source or None, NCHW input shape)] in package order.

    Savers first, then for each position its stage followed by its exits,
    then the head. Every source precedes its readers.
    """
    shapes = stage_shapes(backbone)
    specs = [(name, s, None, INPUT_SHAPE) for name, s in savers.items()]
    for k, stage in enumerate(backbone.stages, 1):
        source = f"stage{k - 1}" if k > 1 else None
        specs.append((f"stage{k}", stage, source,
                      shapes[k - 2] if k > 1 else INPUT_SHAPE))
        specs += [(name, ex, f"stage{k}", shapes[k - 1])
                  for name, ex in exits.items()
                  if name.startswith(f"exit{k}_")]
    specs.append(("head", backbone.head, f"stage{len(shapes)}", shapes[-1]))
    return specs


def logit_specs(specs):
    """The graphs that produce logits (savers, exits, head), records order."""
    savers = [s for s in specs if s[0].startswith("saver")]
    exits = [s for s in specs if s[0].startswith("exit")]
    return savers + exits + [s for s in specs if s[0] == "head"]
