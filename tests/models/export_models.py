"""Export the test models: ONNX, a fixed input, PyTorch's output and a .dyce.

    /usr/bin/python3 tests/models/export_models.py OUTDIR

For each model NAME this writes OUTDIR/NAME.onnx (opset 13, eval mode,
batch 1), NAME.input.npy (float32 NCHW, fixed-seed normal noise),
NAME.torch.npy (PyTorch's output for that input) and NAME.dyce (converted with
models/convert.py). Weights are random with fixed seeds (nothing is
downloaded); BatchNorm affine parameters are randomised and its statistics
measured on random inputs, so that folding them is actually tested. Outputs
that already exist and are newer than the scripts they come from are reused.
"""

import os
import sys
import warnings

import numpy as np
import torch
import torchvision
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS_DIR = os.path.join(HERE, "..", "..", "models")
sys.path.insert(0, MODELS_DIR)
import convert  # noqa: E402
import dyce_format  # noqa: E402

import attention_nets  # noqa: E402  (beside this file)
import elementwise_nets  # noqa: E402
import mixing_nets  # noqa: E402
import window_nets  # noqa: E402
import pixel_nets  # noqa: E402


class BasicBlock(nn.Module):
    """ResNet basic block; a 1x1 conv + BN projection when the shape changes."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet20(nn.Module):
    """CIFAR-style ResNet-20 for 1x28x28 input: 3 stages of 3 blocks."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False),
                                  nn.BatchNorm2d(16), nn.ReLU())
        blocks, cin = [], 16
        for cout, stride in ((16, 1), (32, 2), (64, 2)):
            for i in range(3):
                blocks.append(BasicBlock(cin, cout, stride if i == 0 else 1))
                cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        return self.fc(self.blocks(self.stem(x)).mean((2, 3)))  # ReduceMean


class OpsNet(nn.Module):
    """Small net covering the operators the torchvision models do not."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, 16, 3, 1, 1), nn.BatchNorm2d(16),
                                   nn.LeakyReLU(0.1))
        self.pool = nn.MaxPool2d(3, 2, 1)
        self.lone_bn = nn.BatchNorm2d(16)      # after a pool: cannot fold
        self.grouped = nn.Sequential(nn.Conv2d(16, 32, 3, 1, 1, groups=4),
                                     nn.BatchNorm2d(32), nn.Hardsigmoid())
        self.dilated = nn.Sequential(nn.Conv2d(32, 32, 3, 1, 2, dilation=2),
                                     nn.BatchNorm2d(32), nn.ReLU6())
        self.avg_incl = nn.AvgPool2d(3, 2, 1, count_include_pad=True)
        self.avg_excl = nn.AvgPool2d(3, 2, 1, count_include_pad=False)
        self.shift = nn.Parameter(torch.randn(1, 32, 1, 1) * 0.1)
        self.position = nn.Parameter(torch.randn(1, 32, 8, 8) * 0.1)
        self.squeeze = nn.Sequential(nn.Conv2d(32, 8, 1), nn.ReLU(),
                                     nn.Conv2d(8, 32, 1), nn.Sigmoid())
        self.depthwise = nn.Sequential(nn.Conv2d(32, 32, 3, 2, 1, groups=32),
                                       nn.BatchNorm2d(32), nn.Hardswish())
        self.reduce = nn.Sequential(nn.Conv2d(32, 16, 3, 2, 1),
                                    nn.BatchNorm2d(16), nn.SiLU())
        self.fc_weight = nn.Parameter(torch.randn(64, 20) / 8)  # -> MatMul
        self.fc_bias = nn.Parameter(torch.randn(20))
        self.fc2 = nn.Linear(20, 10)

    def forward(self, x):
        x = torch.tanh(self.lone_bn(self.pool(self.conv1(x))))
        x = self.dilated(self.grouped(x))
        x = self.avg_incl(x) + self.avg_excl(x)
        x = (x * 0.5 + self.shift - 0.25) / 2 + self.position
        x = self.squeeze(x.mean((2, 3), keepdim=True)) * x  # (1,C,1,1) first
        x = self.reduce(self.depthwise(x))                  # (1, 16, 2, 2)
        x = torch.tanh(torch.flatten(x, 1) @ self.fc_weight + self.fc_bias)
        return torch.softmax(self.fc2(x), dim=1)


class ConcatMaxGeluNet(nn.Module):
    """Concat (of 3 and 15 feature maps, and of vectors), global max pooling
    (GlobalMaxPool from AdaptiveMaxPool2d(1), ReduceMax with and without
    keepdims), GELU (nn.GELU, the tanh form, and written out by hand), ELU,
    Softplus and SiLU: the operators user backbones bring beyond OpsNet."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1), nn.BatchNorm2d(8),
                                  nn.GELU())
        self.branch1 = nn.Sequential(nn.Conv2d(8, 4, 1), nn.ELU(0.7))
        self.branch2 = nn.Sequential(nn.Conv2d(8, 4, 3, 1, 1), nn.Softplus())
        self.mix = nn.Sequential(nn.Conv2d(16, 12, 3, 2, 1), nn.BatchNorm2d(12),
                                 nn.GELU(approximate="tanh"))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(15 * 12 + 12 + 12, 10)

    def forward(self, x):
        s = self.stem(x)
        y = self.mix(torch.cat([s, self.branch1(s), self.branch2(s)], 1))
        u = 0.5 * y * (1 + torch.erf(y / 2 ** 0.5))
        wide = torch.cat([nn.functional.silu(u), u] + [y] * 13, 1)
        h = torch.cat([self.pool(wide).flatten(1), u.amax((2, 3)),
                       y.amax((2, 3), keepdim=True).flatten(1)], 1)
        return self.fc(h)


class CeilPoolNet(nn.Module):
    """Pooling in ceil mode (SqueezeNet's and GoogLeNet's MaxPool2d(3, 2,
    ceil_mode=True)) on odd and even sizes, with and without padding, max
    and average (counting padding or not), and DenseNet's torch.cat of a
    one-tensor list."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, 1, 1)                        # 23x23
        self.max_odd = nn.MaxPool2d(3, 2, ceil_mode=True)           # 23 -> 11
        self.conv = nn.Conv2d(8, 8, 3, 1, 1)
        self.max_pad = nn.MaxPool2d(3, 2, padding=1, ceil_mode=True)  # 11 -> 6
        self.avg_pad = nn.AvgPool2d(3, 2, padding=1, ceil_mode=True,
                                    count_include_pad=False)        # 6 -> 4
        self.avg_plain = nn.AvgPool2d(3, 2, ceil_mode=True)         # 4 -> 2 (floor: 1)
        self.fc = nn.Linear(8 * 2 * 2, 10)

    def forward(self, x):
        x = self.max_odd(torch.relu(self.stem(x)))
        x = torch.cat([torch.relu(self.conv(x))], 1)
        x = self.avg_plain(self.avg_pad(self.max_pad(x)))
        return self.fc(torch.flatten(x, 1))


class ClassicOpsNet(nn.Module):
    """What hand-written classifiers bring: PReLU with one slope and with
    one per channel, SELU, Mish, `x.view(x.size(0), -1)` and the classic
    MNIST example's last op, F.log_softmax."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.a1 = nn.PReLU()
        self.c2 = nn.Conv2d(8, 8, 3, 2, 1)
        self.a2 = nn.PReLU(8)
        self.c3 = nn.Conv2d(8, 8, 3, 2, 1)
        self.fc = nn.Linear(8 * 3 * 3, 10)

    def forward(self, x):
        x = self.a2(self.c2(self.a1(self.c1(x))))
        x = nn.functional.mish(self.c3(nn.functional.selu(x)))
        return nn.functional.log_softmax(self.fc(x.view(x.size(0), -1)), dim=1)


class NormOpsNet(nn.Module):
    """Normalisations without running statistics, the group_norm op:
    GroupNorm (+ ReLU), InstanceNorm2d with and without affine, LayerNorm
    over (C, H, W) (an elementwise affine per position) and over the pooled
    vector; and an activation and a per-position constant on the (1, C,
    H*W) view of a feature map, which keeps its H x W layout."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, 1, 1)
        self.gn = nn.GroupNorm(3, 12)
        self.c2 = nn.Conv2d(12, 12, 3, 2, 1)
        self.inorm = nn.InstanceNorm2d(12, affine=True)
        self.plain = nn.InstanceNorm2d(12)
        self.ln_map = nn.LayerNorm([12, 6, 6])
        self.ln_vec = nn.LayerNorm(12)
        self.fc = nn.Linear(12, 10)
        for m in (self.gn, self.inorm, self.ln_map, self.ln_vec):
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.uniform_(m.bias, -0.5, 0.5)
        self.register_buffer("ramp", torch.linspace(-1, 1, 36))

    def forward(self, x):
        x = torch.relu(self.gn(self.c1(x)))
        x = self.plain(self.inorm(self.c2(x)))
        x = self.ln_map(x)
        v = torch.sigmoid(x.flatten(2)) * self.ramp
        return self.fc(self.ln_vec(v.mean(-1)))


class ChannelOpsNet(nn.Module):
    """Channel moves, the channel_gather op: ShuffleNet's split and channel
    shuffle, a chunk gating one half with the other, a strided and a
    negative slice, an index list, and GhostNet's cat-then-slice."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 3, 1, 1)
        self.branch = nn.Conv2d(6, 6, 3, 1, 1)
        self.c2 = nn.Conv2d(12, 8, 3, 2, 1)
        self.fc = nn.Linear(11, 10)

    @staticmethod
    def shuffle(x, groups):
        n, c, h, w = x.size()
        return x.view(n, groups, c // groups, h, w).transpose(1, 2).contiguous().view(n, c, h, w)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        keep, work = x.chunk(2, dim=1)
        x = self.shuffle(torch.cat([keep, torch.relu(self.branch(work))], 1), 2)
        a, b = torch.split(self.c2(x), [3, 5], dim=1)
        g = torch.cat([a * torch.sigmoid(b[:, -3:]), b[:, ::2]], 1)    # 6 channels
        g = torch.cat([g, g * 0.5], 1)[:, :9]                          # ghost-style
        v = g.mean((2, 3))
        return self.fc(torch.cat([v, v[:, [8, 0]]], 1))


class ConvNeXtOpsNet(nn.Module):
    """ConvNeXt's forms: the official channels_first LayerNorm (mean over
    dim 1), torchvision's LayerNorm2d and CNBlock (permute to channels-last,
    LayerNorm over C, Linear - GELU - Linear, layer scale, permute back)
    and its classifier (global pooling, LayerNorm2d on the 1 x 1 map,
    flatten, Linear)."""

    class ChannelsFirstNorm(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.weight = nn.Parameter(torch.rand(c) + 0.5)
            self.bias = nn.Parameter(torch.rand(c) - 0.5)

        def forward(self, x):
            u = x.mean(1, keepdim=True)
            v = (x - u).pow(2).mean(1, keepdim=True)
            x = (x - u) / torch.sqrt(v + 1e-6)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    def __init__(self):
        super().__init__()
        from torchvision.models.convnext import CNBlock, LayerNorm2d
        self.stem = nn.Conv2d(3, 16, 2, 2)
        self.norm = self.ChannelsFirstNorm(16)
        self.block = CNBlock(16, layer_scale=0.5, stochastic_depth_prob=0.0)
        self.down = nn.Sequential(LayerNorm2d(16), nn.Conv2d(16, 24, 2, 2))
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), LayerNorm2d(24), nn.Flatten(1),
                                  nn.Linear(24, 10))
        for m in self.modules():
            if isinstance(m, nn.LayerNorm):
                nn.init.uniform_(m.weight, 0.5, 1.5)
                nn.init.uniform_(m.bias, -0.5, 0.5)

    def forward(self, x):
        return self.head(self.down(self.block(self.norm(self.stem(x)))))


class AxisOpsNet(nn.Module):
    """Reductions over one spatial axis (torch.max(x, dim=3), x.mean(2)), a
    flatten of their (1, C, L) results, gates repeated along rows and
    columns (coordinate attention), attention pooling (a softmax over
    positions, weights per pixel, a sum over positions), and differences:
    PoolFormer's pool(x) - x, a gate's 1 - z, and -x."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.c2 = nn.Conv2d(8, 8, 3, 1, 1)
        self.att = nn.Conv2d(8, 1, 1)
        self.fc = nn.Linear(8 * 9 + 8, 10)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        x = x + (nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False) - x)
        z = torch.sigmoid(self.c2(x))
        x = (1 - z) * x + z * torch.relu(-x)
        # coordinate attention's gates: one per row, one per column
        x = x * torch.sigmoid(x.mean(3, keepdim=True)) * torch.sigmoid(x.amax(2, keepdim=True))
        rows = torch.max(x, dim=3)[0]                  # (1, 8, 9)
        cols = torch.relu(x.mean(2)).amax(2)           # (1, 8)
        # attention pooling: a softmax over the positions of a one-channel map
        weights = self.att(x).flatten(2).softmax(-1)   # (1, 1, 99)
        pooled = (x.flatten(2) * weights).sum(-1)      # (1, 8)
        return self.fc(torch.cat([rows.flatten(1), cols + pooled], 1))


class CbamOpsNet(nn.Module):
    """CBAM: channel attention (an MLP on the average- and max-pooled
    channels) and spatial attention (a 7x7 conv on each pixel's mean and
    max over its channels, x.mean(1) and x.max(1)[0])."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, 1, 1)
        self.mlp = nn.Sequential(nn.Linear(16, 4), nn.ReLU(), nn.Linear(4, 16))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.c1(x))
        avg = self.mlp(nn.functional.adaptive_avg_pool2d(x, 1).flatten(1))
        mx = self.mlp(nn.functional.adaptive_max_pool2d(x, 1).flatten(1))
        x = x * torch.sigmoid(avg + mx)[:, :, None, None]
        s = torch.cat([x.mean(1, keepdim=True), x.max(1, keepdim=True)[0]], 1)
        x = x * torch.sigmoid(self.spatial(s))
        return self.fc(x.mean((2, 3)))


class ResizeOpsNet(nn.Module):
    """F.interpolate / nn.Upsample: nearest x2 (the default), bilinear down
    to a size, bilinear aligning corners up to a size."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 6, 3, 1, 1)
        self.up = nn.Upsample(scale_factor=2)
        self.c2 = nn.Conv2d(6, 6, 3, 2, 1)
        self.fc = nn.Linear(6 * 5 * 4, 10)

    def forward(self, x):
        x = self.up(torch.relu(self.c1(x)))                            # 18x14
        x = nn.functional.interpolate(self.c2(x), size=(7, 5), mode="bilinear")
        x = nn.functional.interpolate(x, size=(5, 4), mode="bilinear", align_corners=True)
        return self.fc(x.flatten(1))


# name -> (constructor, input shape, keep BatchNorm nodes in the ONNX).
# torch folds BN into convs itself in EVAL export; the two small nets are
# exported with TrainingMode.PRESERVE (still eval mode) so that convert.py's
# own BN folding and standalone channel_affine are exercised.
MODELS = {
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None),
                     (1, 3, 224, 224), False),
    "mobilenet_v3_small": (
        lambda: torchvision.models.mobilenet_v3_small(weights=None),
        (1, 3, 224, 224), False),
    "efficientnet_b0": (lambda: torchvision.models.efficientnet_b0(weights=None),
                        (1, 3, 224, 224), False),
    "resnet18": (lambda: torchvision.models.resnet18(weights=None),
                 (1, 3, 224, 224), False),
    "resnet20": (ResNet20, (1, 1, 28, 28), True),
    "opsnet": (OpsNet, (1, 3, 32, 32), True),
    "concat_max_gelu": (ConcatMaxGeluNet, (1, 3, 16, 16), True),
    "ceil_pool": (CeilPoolNet, (1, 3, 23, 23), True),
    "classic_ops": (ClassicOpsNet, (1, 3, 10, 10), True),
    "norm_ops": (NormOpsNet, (1, 3, 12, 12), True),
    "channel_ops": (ChannelOpsNet, (1, 3, 10, 10), True),
    "convnext_ops": (ConvNeXtOpsNet, (1, 3, 16, 16), True),
    "axis_ops": (AxisOpsNet, (1, 3, 9, 11), True),
    "resize_ops": (ResizeOpsNet, (1, 3, 9, 7), True),
    "cbam_ops": (CbamOpsNet, (1, 3, 11, 9), True),
    "vit_ops": (attention_nets.VitOpsNet, (1, 3, 12, 12), True),
    "attention_ops": (attention_nets.AttentionOpsNet, (1, 3, 10, 12), True),
    "transformer_ops": (attention_nets.TorchTransformerNet, (1, 3, 12, 12), True),
    "pixel_ops": (pixel_nets.PixelOpsNet, (1, 3, 12, 12), True),
    "elementwise_ops": (elementwise_nets.ElementwiseOpsNet, (1, 3, 10, 10), True),
    "mixing_ops": (mixing_nets.MixingOpsNet, (1, 3, 8, 8), True),
    "window_ops": (window_nets.WindowOpsNet, (1, 3, 20, 20), True),
}


def randomize_batchnorm(model, shape, generator):
    """Random BN affine parameters, and running statistics measured on random
    inputs. Measured statistics keep the signal alive through the depth of
    the net: with made-up ones the outputs of a deep random net hardly depend
    on its input, and comparing them would not test the early layers."""
    bns = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    for m in bns:
        m.weight.data.copy_(torch.rand(m.num_features, generator=generator) + 0.5)
        m.bias.data.copy_(torch.randn(m.num_features, generator=generator) * 0.2)
        m.reset_running_stats()
        m.momentum = None          # cumulative average over the batch
        m.train()                  # only BN: dropout etc. stay in eval mode
    model(torch.randn((4,) + shape[1:], generator=generator))
    for m in bns:
        m.eval()


def fresh(path, *sources):
    """path exists and is newer than every source file."""
    return os.path.exists(path) and all(
        os.path.getmtime(path) > os.path.getmtime(s) for s in sources)


def export(name, out_dir, seed):
    """Write NAME.onnx, NAME.input.npy and NAME.torch.npy."""
    build, shape, keep_bn = MODELS[name]
    torch.manual_seed(seed)
    model = build().eval()
    with torch.no_grad():
        randomize_batchnorm(model, shape, torch.Generator().manual_seed(seed))
    x = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    with torch.no_grad():
        y = model(torch.from_numpy(x)).numpy()
    mode = (torch.onnx.TrainingMode.PRESERVE if keep_bn
            else torch.onnx.TrainingMode.EVAL)
    # gradients on: nn.MultiheadAttention's fused kernel has no ONNX form
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, torch.from_numpy(x).requires_grad_(),
                          os.path.join(out_dir, name + ".onnx"),
                          opset_version=13, do_constant_folding=True,
                          training=mode, input_names=["input"],
                          output_names=["output"])
    np.save(os.path.join(out_dir, name + ".input.npy"), x)
    np.save(os.path.join(out_dir, name + ".torch.npy"), y)


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTDIR")
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    script = os.path.abspath(__file__)
    nets = [attention_nets.__file__, pixel_nets.__file__, elementwise_nets.__file__,
            mixing_nets.__file__, window_nets.__file__]
    converter = convert.SOURCES  # the converter package and dyce_format
    for seed, name in enumerate(MODELS):
        base = os.path.join(out_dir, name)
        exported = [base + s for s in (".onnx", ".input.npy", ".torch.npy")]
        steps = []
        if not all(fresh(p, script, *nets) for p in exported):
            export(name, out_dir, seed)
            steps.append("exported")
        if not fresh(base + ".dyce", script, base + ".onnx", *converter):
            data = convert.convert_graphs([("main", base + ".onnx", None)])
            with open(base + ".dyce", "wb") as f:
                f.write(data)
            steps.append("converted")
        with open(base + ".dyce", "rb") as f:
            graphs, _, _, macs = dyce_format.read_package(f.read())
        print(f"{name}: {' + '.join(steps) or 'cached'}; "
              f"{len(graphs[0].nodes)} nodes, {macs['main']:,} MACs", flush=True)


if __name__ == "__main__":
    main()
