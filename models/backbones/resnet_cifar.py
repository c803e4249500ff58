"""ResNets for small inputs (He et al. 2016, §4.2): a backbone file for
models/build.py (`--backbone models/backbones/resnet_cifar.py:resnet20`).

A 3x3 stem of 16 channels at stride 1, three stages of n basic blocks
(16, 32, 64 channels, the last two starting at stride 2, a 1x1 conv + BN
projection where the shape changes), global average pooling and a Linear
layer: depth 6n + 2 (resnet20: n = 3, 41 M MACs on 28x28). The
Fashion-MNIST backbone dyce ships is resnet20 on one channel.
"""

from torch import nn

WIDTHS = (16, 32, 64)


def conv_bn(cin, cout, kernel, stride):
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False),
                         nn.BatchNorm2d(cout))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.body = nn.Sequential(conv_bn(cin, cout, 3, stride), nn.ReLU(),
                                  conv_bn(cout, cout, 3, 1))
        self.shortcut = (conv_bn(cin, cout, 1, stride)
                         if stride != 1 or cin != cout else nn.Identity())
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.relu(self.body(x) + self.shortcut(x))


class ResNet(nn.Module):
    def __init__(self, blocks_per_stage, num_classes, in_channels):
        super().__init__()
        self.stem = nn.Sequential(conv_bn(in_channels, WIDTHS[0], 3, 1), nn.ReLU())
        stages, cin = [], WIDTHS[0]
        for s, cout in enumerate(WIDTHS):
            blocks = []
            for b in range(blocks_per_stage):
                blocks.append(BasicBlock(cin, cout, 2 if s > 0 and b == 0 else 1))
                cin = cout
            stages.append(nn.Sequential(*blocks))
        self.stages = nn.Sequential(*stages)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.stages(self.stem(x))))


def resnet20(num_classes, in_channels):
    return ResNet(3, num_classes, in_channels)


def resnet32(num_classes, in_channels):
    return ResNet(5, num_classes, in_channels)


def resnet56(num_classes, in_channels):
    return ResNet(9, num_classes, in_channels)
