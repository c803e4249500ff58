"""Backbone files for the build tests (FILE.py:FUNCTION): bad inputs, a
quick CNN, and blocks torch.fx cannot trace inside."""

import os
import sys

import torch
from torch import nn
import torch.nn.functional as F


class Tiny(nn.Module):
    def __init__(self, num_classes, in_channels, extra=0):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU())
        self.conv2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU())
        self.fc = nn.Linear(8, num_classes + extra)

    def forward(self, x):
        x = self.conv2(self.conv1(x))
        return self.fc(x.mean((2, 3)))


class Cumsum(Tiny):
    """An op the converter does not take (CumSum) inside a stage."""

    def forward(self, x):
        x = torch.cumsum(self.conv1(x), dim=2)
        return self.fc(self.conv2(x).mean((2, 3)))


class InplaceAdd(Tiny):
    """A residual added in place to an in-place ReLU's output, which
    autograd needs: the forward runs, the backward pass fails."""

    def __init__(self, num_classes, in_channels):
        super().__init__(num_classes, in_channels)
        self.conv2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(inplace=True))

    def forward(self, x):
        x = self.conv1(x)
        y = self.conv2(x)
        y += x
        return self.fc(y.mean((2, 3)))


def deconv(num_classes, in_channels):
    """A module the converter does not take (ConvTranspose2d) deep in a
    block: torch.onnx names its node '/1/ConvTranspose' only."""
    net = Tiny(num_classes, in_channels)
    net.conv2 = nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.ConvTranspose2d(8, 8, 1), nn.ReLU())
    return net


def tiny(num_classes, in_channels):
    return Tiny(num_classes, in_channels)


def inplace_add(num_classes, in_channels):
    return InplaceAdd(num_classes, in_channels)


def wrong_classes(num_classes, in_channels):
    return Tiny(num_classes, in_channels, extra=3)


def cumsum(num_classes, in_channels):
    return Cumsum(num_classes, in_channels)


def late_positions(num_classes, in_channels):
    """Every block end after 95 % of the MACs: a heavy first block, a 1 x 1 one."""
    net = Tiny(num_classes, in_channels)
    net.conv1 = nn.Sequential(nn.Conv2d(in_channels, 64, 7, padding=3), nn.ReLU())
    net.conv2 = nn.Sequential(nn.Conv2d(64, 2, 1), nn.ReLU())
    net.fc = nn.Linear(2, num_classes)
    return net


class SmallCNN(nn.Module):
    """Four conv blocks: quick to train, three exit positions; pools by
    flatten(2).mean(2), the idiom the converter takes as global pooling."""

    def __init__(self, num_classes, in_channels):
        super().__init__()

        def block(cin, cout, stride):
            return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                                 nn.BatchNorm2d(cout), nn.ReLU())
        self.blocks = nn.Sequential(block(in_channels, 16, 1), block(16, 32, 2),
                                    block(32, 32, 1), block(32, 64, 2))
        self.fc = nn.Linear(64, num_classes)

    def forward(self, x):
        return self.fc(self.blocks(x).flatten(2).mean(2))


def small_cnn(num_classes, in_channels):
    return SmallCNN(num_classes, in_channels)


class OptionABlock(nn.Module):
    """A CIFAR ResNet block as the widely copied akamaster/pytorch_resnet_cifar10
    writes it: the downsampling shortcut is 'option A', every other pixel
    and the new channels zero (F.pad over the channel dimension)."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.pad = (cout - cin) // 2 if stride != 1 or cin != cout else None

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        short = x if self.pad is None else F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, self.pad, self.pad))
        return F.relu(out + short)


def option_a(num_classes, in_channels):
    return nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
                         OptionABlock(16, 16, 1), OptionABlock(16, 32, 2), OptionABlock(32, 64, 2),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, num_classes))


class IterBlock(nn.Module):
    """A residual block whose forward iterates over a tensor's chunks:
    torch.fx cannot trace it (a Proxy cannot be iterated), torch.onnx can."""

    def __init__(self, c):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, padding=1)

    def forward(self, x):
        parts = [torch.relu(p) for p in torch.chunk(self.conv(x), 2, 1)]
        return torch.relu(x + torch.cat(parts, 1))


class IterBlocks(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 8, 3, padding=1)
        self.blocks = nn.Sequential(IterBlock(8), IterBlock(8), IterBlock(8))
        self.fc = nn.Linear(8, num_classes)

    def forward(self, x):
        return self.fc(self.blocks(torch.relu(self.stem(x))).mean((2, 3)))


class SizeReads(nn.Module):
    """Sizes read from feature maps where numbers are needed, as older
    CIFAR code and attention modules write them (ECA's Conv1d over the
    channels, a pool over x.size()[2:], an upsample to y.shape[-2:], a
    branch on x.size(1)): traced with the sizes as numbers."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, 16, 3, padding=1)
        self.down = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False)
        self.widen = nn.Conv2d(16, 24, 1)
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        y = torch.relu(self.down(x))
        y = F.interpolate(y, size=x.shape[-2:], mode="nearest")
        b, c, _, _ = y.size()
        g = F.avg_pool2d(y, y.size()[2:]).view(b, 1, c)
        y = y * torch.sigmoid(self.eca(g)).view(b, c, 1, 1) + x
        if y.size(1) != 24:
            y = self.widen(y)
        return self.fc(F.avg_pool2d(y, y.size()[2:]).view(y.size(0), -1))


class DataDependent(Tiny):
    """Control flow on the data in the network's own forward: no tracer can
    cut it, whatever it keeps whole."""

    def forward(self, x):
        x = self.conv1(x)
        if x.sum() > 0:
            x = self.conv2(x)
        return self.fc(x.mean((2, 3)))


def iter_blocks(num_classes, in_channels):
    return IterBlocks(num_classes, in_channels)


def size_reads(num_classes, in_channels):
    return SizeReads(num_classes, in_channels)


def data_dependent(num_classes, in_channels):
    return DataDependent(num_classes, in_channels)


class FlatCNN(nn.Module):
    """The most common hand-written style: one nn.Sequential of layers (no
    blocks to end), ending in nn.Softmax."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 16, 3, 1, 1), nn.BatchNorm2d(16), nn.ReLU(),
            nn.Conv2d(16, 16, 3, 2, 1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU())
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 7 * 7, num_classes),
                                        nn.Softmax(dim=1))

    def forward(self, x):
        return self.classifier(self.features(x))


def flat_cnn(num_classes, in_channels):
    return FlatCNN(num_classes, in_channels)


class ViewCNN(nn.Module):
    """The classic PyTorch MNIST example's style: F.max_pool2d, Dropout2d,
    `x.view(-1, 320)` on the feature map (which channels-last training
    tensors do not allow) and F.log_softmax."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, 10, kernel_size=5)
        self.conv2 = nn.Conv2d(10, 20, kernel_size=5)
        self.drop = nn.Dropout2d()
        self.fc1 = nn.Linear(320, 50)
        self.fc2 = nn.Linear(50, num_classes)

    def forward(self, x):
        x = nn.functional.relu(nn.functional.max_pool2d(self.conv1(x), 2))
        x = nn.functional.relu(nn.functional.max_pool2d(self.drop(self.conv2(x)), 2))
        x = nn.functional.relu(self.fc1(x.view(-1, 320)))
        return nn.functional.log_softmax(self.fc2(x), dim=1)


def view_cnn(num_classes, in_channels):
    return ViewCNN(num_classes, in_channels)


class ColourNet(nn.Module):
    """A net made for colour fed gray images: x.repeat(1, 3, 1, 1) first;
    padding='same' (which PyTorch 1.13 cannot export as written); a gate
    multiplied through expand_as, as SE code writes it; a zero F.pad before
    a max pool (no conv to take it in)."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.c1 = nn.Conv2d(3, 12, 5, padding="same")
        self.c2 = nn.Conv2d(12, 24, 3, padding="same", dilation=2)
        self.c3 = nn.Conv2d(24, 24, 3, stride=2)
        self.fc = nn.Linear(24, num_classes)

    def forward(self, x):
        x = torch.relu(self.c1(x.repeat(1, 3, 1, 1)))
        x = x * torch.sigmoid(x.mean((2, 3), keepdim=True)).expand_as(x)   # SE's form
        x = nn.functional.max_pool2d(nn.functional.pad(x, (1, 1, 1, 1)), 2)
        x = torch.relu(self.c3(torch.relu(self.c2(x))))
        return self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))


def colour_net(num_classes, in_channels):
    return ColourNet(num_classes, in_channels)


class CbamVgg(nn.Module):
    """CBAM blocks (channel attention on average- and max-pooled channels,
    spatial attention on each pixel's mean and max over its channels) and a
    VGG-style head whose adaptive pools do not divide the 7x7 map
    (AdaptiveAvgPool2d((2, 2)), AdaptiveMaxPool2d((3, 3))): PyTorch's own
    ONNX export refuses those."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.b1 = nn.Sequential(nn.Conv2d(in_channels, 16, 3, 1, 1), nn.BatchNorm2d(16),
                                nn.ReLU(), nn.MaxPool2d(2))
        self.b2 = nn.Sequential(nn.Conv2d(16, 32, 3, 1, 1), nn.BatchNorm2d(32),
                                nn.ReLU(), nn.MaxPool2d(2))
        self.mlp = nn.Sequential(nn.Linear(32, 8), nn.ReLU(), nn.Linear(8, 32))
        self.spatial = nn.Conv2d(2, 1, 7, padding=3)
        self.avg, self.max = nn.AdaptiveAvgPool2d((2, 2)), nn.AdaptiveMaxPool2d((3, 3))
        self.fc = nn.Linear(32 * 13, num_classes)

    def forward(self, x):
        x = self.b2(self.b1(x))
        gate = self.mlp(x.mean((2, 3))) + self.mlp(x.amax((2, 3)))
        x = x * torch.sigmoid(gate)[:, :, None, None]
        s = torch.cat([x.mean(1, keepdim=True), x.max(1, keepdim=True)[0]], 1)
        x = x * torch.sigmoid(self.spatial(s))
        return self.fc(torch.cat([self.avg(x).flatten(1), self.max(x).flatten(1)], 1))


def cbam_vgg(num_classes, in_channels):
    return CbamVgg(num_classes, in_channels)


class LogitsAndFeatures(nn.Module):
    """Returns (logits, features), as many training codebases do."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(in_channels, 8, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Conv2d(8, 16, 3, 1, 1), nn.ReLU())
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        features = self.body(x).mean((2, 3))
        return self.fc(features), features


def logits_and_features(num_classes, in_channels):
    return LogitsAndFeatures(num_classes, in_channels)


def logits_twice(num_classes, in_channels):
    """Two (1, K) outputs: which one is meant cannot be told."""
    net = LogitsAndFeatures(num_classes, in_channels)
    net.forward = lambda x: (net.fc(net.body(x).mean((2, 3))),) * 2
    return net


def vit(num_classes, in_channels):
    """A small ViT (tests/models/attention_nets.py): 7x7 patches of 28x28,
    a class token, four blocks; exits on its tokens."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    import attention_nets
    return attention_nets.VitOpsNet(num_classes, in_channels, 28, 7, 32, 4)


def torch_vit(num_classes, in_channels):
    """The same with PyTorch's nn.TransformerEncoder and nn.MultiheadAttention,
    whose layers torch.fx cannot trace inside (exits after them)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "models"))
    import attention_nets
    return attention_nets.TorchTransformerNet(num_classes, in_channels, 28, 7, 32, 3)


class ShapeUnpack(nn.Module):
    """Reads its sizes as `n, c, h, w = x.shape` in its own forward (as
    torchvision's VisionTransformer does), which torch.fx under Python
    3.11 could not trace before the builder's fix."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.body = nn.Sequential(*(nn.Sequential(nn.Conv2d(c, 16, 3, padding=1), nn.ReLU())
                                    for c in (in_channels, 16, 16)))
        self.fc = nn.Linear(16, num_classes)

    def forward(self, x):
        x = self.body(x)
        n, c, h, w = x.shape
        return self.fc(x.reshape(n, c, h * w).mean(2))


def shape_unpack(num_classes, in_channels):
    return ShapeUnpack(num_classes, in_channels)


def swin(num_classes, in_channels):
    """torchvision's SwinTransformer, small: 2x2 patches of 28x28 (14x14,
    padded to 16x16 in windows of 4), shifted windows, patch merging, its
    features channels-last (N, H, W, C) throughout — exits pool them over
    H and W."""
    from torchvision.models.swin_transformer import SwinTransformer
    net = SwinTransformer(patch_size=[2, 2], embed_dim=16, depths=[2, 2], num_heads=[2, 4],
                          window_size=[4, 4], stochastic_depth_prob=0.0,
                          num_classes=num_classes)
    if in_channels != 3:
        net.features[0][0] = nn.Conv2d(in_channels, 16, 2, 2)
    return net


def maxvit(num_classes, in_channels):
    """torchvision's MaxVit, small: a 28x28 input (14x14 after the stem,
    7x7 in the block, partitions of 7), two layers of MBConv, block and
    grid attention. Between its attention layers the map is regrouped
    into windows (N, windows, tokens, C): no exit goes there, only after
    the map is whole again."""
    import warnings
    from torchvision.models.maxvit import MaxVit
    warnings.filterwarnings("ignore", "torch.meshgrid", UserWarning)
    net = MaxVit(input_size=(28, 28), stem_channels=16, partition_size=7,
                 block_channels=[16], block_layers=[2], head_dim=8,
                 stochastic_depth_prob=0.0, num_classes=num_classes)
    if in_channels != 3:
        old = net.stem[0][0]
        net.stem[0][0] = nn.Conv2d(in_channels, old.out_channels, old.kernel_size,
                                   old.stride, old.padding, bias=old.bias is not None)
    return net


class SEResidual(nn.Module):
    """A user's own net for --widths' traced pipeline: a residual block with
    a depthwise conv, a biased conv before BatchNorm, squeeze-and-excitation,
    functional activations and a two-layer classifier."""

    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 24, 3, 2, 1, bias=False),
                                  nn.BatchNorm2d(24))
        self.dw = nn.Conv2d(24, 24, 3, 1, 1, groups=24)
        self.pw = nn.Conv2d(24, 24, 1)
        self.bn = nn.BatchNorm2d(24)
        self.se1, self.se2 = nn.Conv2d(24, 8, 1), nn.Conv2d(8, 24, 1)
        self.down = nn.Conv2d(24, 40, 3, 2, 1)
        self.fc1, self.fc = nn.Linear(40, 32), nn.Linear(32, num_classes)
        self.drop = nn.Dropout(0.1)

    def forward(self, x):
        x = F.relu(self.stem(x))
        y = self.bn(self.pw(F.hardswish(self.dw(x))))
        s = torch.sigmoid(self.se2(F.relu(self.se1(F.adaptive_avg_pool2d(y, 1)))))
        x = x + y * s
        x = F.relu6(self.down(x))
        x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
        return self.fc(self.drop(F.relu(self.fc1(x))))


se_residual = SEResidual   # FILE.py:NAME takes any callable
