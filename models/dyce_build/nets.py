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

import contextlib
import math

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

EXIT_TYPES = ("a", "b", "c")


def pool(y, last=False):
    """An exit's view of a backbone tensor: the mean over the positions of
    a feature map (N, C, H, W), or of a channels-last one (N, H, W, C) when
    `last` (Swin; layouts.py), or over the tokens of a sequence (N, L, D)
    — a 3-D tensor at an exit position is taken as a transformer's tokens."""
    if y.dim() == 3:
        return y.mean(1)
    if last:
        return y.mean((1, 2))
    return nn.functional.adaptive_avg_pool2d(y, 1).flatten(1)


def channels_of(shape, last=False):
    """The features an exit reads from a tensor of `shape` (see pool)."""
    return shape[-1] if len(shape) == 3 or last else shape[1]


class Exit(nn.Module):
    def __init__(self, channels, num_classes, hidden_layers, last=False):
        super().__init__()
        self.last = last
        width = min(1024, max(128, channels))
        layers, c = [], channels
        for _ in range(hidden_layers):
            layers += [nn.Linear(c, width), nn.ReLU()]
            c = width
        layers.append(nn.Linear(c, num_classes))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x):
        return self.mlp(pool(x, self.last))


def make_exit(kind, channels, num_classes, last=False):
    return Exit(channels, num_classes, EXIT_TYPES.index(kind), last)


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


_MATMULS = {torch.matmul, torch.Tensor.matmul, torch.Tensor.__matmul__,
            torch.bmm, torch.Tensor.bmm}


def _weight(args, kwargs):
    return args[1] if len(args) > 1 else kwargs["weight"]


def _attention_macs(query, key):
    """nn.MultiheadAttention's work (its inner calls are not seen): the q, k,
    v and output projections and the two products, query (L, N, E) and key
    (S, N, E) sequence first, as its forward passes them."""
    length, n, e = query.shape
    s = key.shape[0]
    return n * (2 * length * e * e + 2 * s * e * e + 2 * length * s * e)


def _einsum_macs(args):
    """torch.einsum of two tensors: one multiply-add per combination of
    its indices (the converter takes the channel contraction of a map with
    a matrix, a 1 x 1 convolution: the same count)."""
    eq, *operands = args
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = list(operands[0])
    inputs = eq.replace(" ", "").split("->")[0].split(",")
    if len(operands) != 2 or len(inputs) != 2 or "..." in eq:
        return 0
    sizes = {}
    for letters, t in zip(inputs, operands):
        sizes.update(zip(letters, t.shape))
    return int(math.prod(sizes.values()))


class MacCounter(TorchFunctionMode):
    """Reports the MACs of every convolution, linear layer and product of
    two tensors run inside it (attention's q @ k^T and attn @ v, the
    engine's matmul), as docs/FORMAT.md counts them: output elements times
    the length of each sum. Functions, not modules, so that what a module
    does with its parameters itself (nn.MultiheadAttention's projections)
    counts too."""

    def __init__(self, report):
        super().__init__()
        self.report = report

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        if func in (nn.functional.conv1d, nn.functional.conv2d):
            w = _weight(args, kwargs)
            self.report(out.numel() * int(math.prod(w.shape[1:])))
        elif func is nn.functional.linear:
            self.report(out.numel() * _weight(args, kwargs).shape[1])
        elif func is nn.functional.multi_head_attention_forward:
            self.report(_attention_macs(args[0], args[1]))
        elif func is torch.einsum:
            self.report(_einsum_macs(args))
        elif func in _MATMULS and len(args) == 2 and all(
                isinstance(a, torch.Tensor) and a.dim() >= 2 for a in args):
            self.report(out.numel() * args[0].shape[-1])
        return out


@contextlib.contextmanager
def ordinary_path(shape):
    """Zeros of `shape` to run a module on, with gradients on and the input
    needing them: nn.TransformerEncoderLayer and nn.MultiheadAttention then
    take their ordinary path, not their fused inference kernel, which hides
    their work from counting and has no ONNX form."""
    with torch.enable_grad():
        yield torch.zeros(shape, requires_grad=True)


def run_counting(run, report, shape):
    """run(x) on zeros of `shape` (ordinary_path) with report(MACs) called
    for every conv, linear layer and matmul in it."""
    with ordinary_path(shape) as x, MacCounter(report):
        return run(x)


def count_macs(module, input_shape):
    """MACs of one run, as docs/FORMAT.md counts them."""
    total = [0]
    run_counting(module.eval(), lambda m: total.__setitem__(0, total[0] + m), input_shape)
    return total[0]


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
