"""Backbone files for the build tests' bad inputs (FILE.py:FUNCTION)."""

import torch
from torch import nn


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


def tiny(num_classes, in_channels):
    return Tiny(num_classes, in_channels)


def wrong_classes(num_classes, in_channels):
    return Tiny(num_classes, in_channels, extra=3)


def cumsum(num_classes, in_channels):
    return Cumsum(num_classes, in_channels)


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
