"""The DS-CNN of the REDS paper's Fashion-MNIST experiments (a stride-2
3x3 stem and four depthwise-separable blocks of 64 channels, docs/REDS.md):
a backbone file whose width levels models/build.py can make
(`--backbone models/backbones/ds_cnn.py:ds_cnn --widths 75,50,25`).
Written for 28x28 gray images and 10 classes.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from reds.nets import DSCNN, INPUT_SHAPE, NUM_CLASSES  # noqa: E402  (models/reds)


def ds_cnn(num_classes, in_channels):
    if (num_classes, in_channels) != (NUM_CLASSES, INPUT_SHAPE[1]):
        raise ValueError(f"ds_cnn is written for {INPUT_SHAPE[1]}-channel inputs "
                         f"and {NUM_CLASSES} classes")
    return DSCNN()
