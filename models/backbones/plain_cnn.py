"""Plain CNNs (3x3 conv + BN + ReLU layers, global average pooling, Linear):
TinySaver candidates for small gray inputs, a saver file for models/build.py
(`--savers models/backbones/plain_cnn.py:tiny_s,...:tiny_m,...:tiny_l`).
They are the three savers of the shipped Fashion-MNIST package, about
0.4 %, 2.7 % and 9 % of resnet20's MACs on 28x28, in the layers of the
builder's own saver family (dyce_build.nets.TinySaver) with hand-picked
widths and strides.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dyce_build.nets import TinySaver  # noqa: E402  (models/dyce_build)

# (out channels, stride) of each conv layer.
LAYERS = {
    "tiny_s": ((8, 2), (16, 2), (24, 2)),
    "tiny_m": ((16, 2), (24, 2), (32, 1), (64, 2)),
    "tiny_l": ((12, 1), (32, 2), (64, 2), (128, 2)),
}


def tiny_s(num_classes, in_channels):
    return TinySaver(in_channels, num_classes, LAYERS["tiny_s"])


def tiny_m(num_classes, in_channels):
    return TinySaver(in_channels, num_classes, LAYERS["tiny_m"])


def tiny_l(num_classes, in_channels):
    return TinySaver(in_channels, num_classes, LAYERS["tiny_l"])
