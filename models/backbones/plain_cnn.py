"""Plain CNNs (3x3 conv + BN + ReLU layers, global average pooling, Linear):
TinySaver candidates for small gray inputs, a saver file for models/build.py
(`--savers models/backbones/plain_cnn.py:tiny_s,...:tiny_m,...:tiny_l`).
They are the three savers of the shipped Fashion-MNIST package, about
0.1 %, 1.5 % and 6 % of resnet20's MACs on 28x28.
"""

from torch import nn

# (out channels, stride) of each conv layer.
LAYERS = {
    "tiny_s": ((8, 2), (16, 2), (24, 2)),
    "tiny_m": ((16, 2), (24, 2), (32, 1), (64, 2)),
    "tiny_l": ((12, 1), (32, 2), (64, 2), (128, 2)),
}


class PlainCNN(nn.Module):
    def __init__(self, layers, num_classes, in_channels):
        super().__init__()
        convs, cin = [], in_channels
        for cout, stride in layers:
            convs += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
                      nn.BatchNorm2d(cout), nn.ReLU()]
            cin = cout
        self.features = nn.Sequential(*convs)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.fc = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.fc(self.pool(self.features(x)))


def tiny_s(num_classes, in_channels):
    return PlainCNN(LAYERS["tiny_s"], num_classes, in_channels)


def tiny_m(num_classes, in_channels):
    return PlainCNN(LAYERS["tiny_m"], num_classes, in_channels)


def tiny_l(num_classes, in_channels):
    return PlainCNN(LAYERS["tiny_l"], num_classes, in_channels)
