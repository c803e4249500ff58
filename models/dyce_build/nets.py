"""The small networks the builder adds: DyCE exits and TinySaver candidates.

Exits (DyCE): global average pooling, then an MLP with ReLU. Types: `a`
Linear C -> K; `b` one hidden layer; `c` two hidden layers; the hidden
width is the feature channels clamped to 128 .. 1024 (DyCE's released
types use 500 / 1000 units for ImageNet backbones; small features get
fewer).

Savers (TinySaver): plain CNNs of conv3x3 + BN + ReLU layers, widths
doubling up to 8x a base width w, then global average pooling and a
Linear layer. Inputs under 64 px start at stride 1, larger ones halve the
side at every layer until it is at most 4 pixels. `family` picks w for each
target fraction of the backbone's MACs (default 0.5 %, 2 %, 8 %): the
largest w whose MACs stay at or below the target (at least w = 4, and
above the previous saver's).
"""

import math

import torch
from torch import nn

EXIT_TYPES = ("a", "b", "c")


class Exit(nn.Module):
    def __init__(self, channels, num_classes, hidden_layers):
        super().__init__()
        width = min(1024, max(128, channels))
        layers, c = [], channels
        for _ in range(hidden_layers):
            layers += [nn.Linear(c, width), nn.ReLU()]
            c = width
        layers.append(nn.Linear(c, num_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x):
        return self.mlp(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))


def make_exit(kind, channels, num_classes):
    return Exit(channels, num_classes, EXIT_TYPES.index(kind))


class TinySaver(nn.Module):
    def __init__(self, channels, num_classes, layers):
        super().__init__()
        convs, cin = [], channels
        for cout, stride in layers:
            convs += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                      nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.features = nn.Sequential(*convs)
        self.classifier = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)
        return self.classifier(x)


def saver_layers(size, width):
    """[(channels, stride)] of the saver family at input `size` (h, w)."""
    side = min(size)
    layers = [] if side >= 64 else [(width, 1)]
    k = 0
    while side > 4 or len(layers) < 3:
        layers.append((width * min(2 ** k, 8), 2))
        side = math.ceil(side / 2)
        k += 1
    return layers


def count_macs(module, input_shape):
    """MACs of one run (conv and linear only, as docs/FORMAT.md counts)."""
    total = 0

    def hook(mod, inputs, output):
        nonlocal total
        if isinstance(mod, nn.Conv2d):
            kh, kw = mod.kernel_size
            total += output.numel() * kh * kw * mod.in_channels // mod.groups
        else:
            total += mod.in_features * mod.out_features * (output.numel() // output.shape[-1])

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.no_grad():
            module.eval()(torch.zeros(input_shape))
    finally:
        for h in handles:
            h.remove()
    return total


def family(input_shape, num_classes, backbone_macs, fractions):
    """[(fraction, layers, MACs)] of the built-in savers, cheapest first;
    widths strictly increase, so every fraction gives its own saver even
    when the smallest width already exceeds the smaller targets."""
    out, prev = [], 2

    def macs_at(width):
        layers = saver_layers(input_shape[2:], width)
        return layers, count_macs(TinySaver(input_shape[1], num_classes, layers),
                                  input_shape)

    for frac in sorted(fractions):
        target, width = frac * backbone_macs, max(4, prev + 2)
        while width < 512 and macs_at(width + 2)[1] <= target:
            width += 2
        layers, macs = macs_at(width)
        out.append((frac, layers, macs))
        prev = width
    return out
