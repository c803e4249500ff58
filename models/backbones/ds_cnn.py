"""The DS-CNN of the REDS paper's Fashion-MNIST experiments (a stride-2
3x3 stem and four depthwise-separable blocks of 64 channels, docs/REDS.md):
a backbone file whose width levels models/build.py can make
(`--backbone models/backbones/ds_cnn.py:ds_cnn --widths 75,50,25`).
Fully convolutional up to its pooling: any image size, channel count and
class count.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reds.nets import DSCNN  # noqa: E402  (models/reds)


def ds_cnn(num_classes, in_channels):
    return DSCNN(channels=in_channels, classes=num_classes)
