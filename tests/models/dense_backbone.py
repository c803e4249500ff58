"""A user backbone for models/build.py with the operators DenseNet-,
Inception- and ViT-style nets bring: channel concatenation (dense blocks,
a two-branch block), GELU (exact and tanh form), ELU, Softplus, SiLU and
global max pooling. FILE.py:FUNCTION(num_classes, in_channels):

    /usr/bin/python3 models/build.py --smoke --data DIR \\
        --backbone tests/models/dense_backbone.py:dense --out OUT.dyce
"""

import torch
from torch import nn


class DenseLayer(nn.Module):
    def __init__(self, cin, growth, act):
        super().__init__()
        self.body = nn.Sequential(nn.BatchNorm2d(cin), act,
                                  nn.Conv2d(cin, growth, 3, padding=1, bias=False))

    def forward(self, x):
        return torch.cat([x, self.body(x)], 1)


class Branches(nn.Module):
    """Inception-style: two branches side by side."""

    def __init__(self, cin, cout):
        super().__init__()
        self.a = nn.Sequential(nn.Conv2d(cin, cout // 2, 1), nn.ELU())
        self.b = nn.Sequential(nn.Conv2d(cin, cout // 2, 3, padding=1), nn.Softplus())

    def forward(self, x):
        return torch.cat([self.a(x), self.b(x)], 1)


class Dense(nn.Module):
    def __init__(self, num_classes, in_channels):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_channels, 16, 3, padding=1), nn.GELU())
        self.block1 = nn.Sequential(DenseLayer(16, 8, nn.GELU()),
                                    DenseLayer(24, 8, nn.SiLU()))
        self.down = nn.Sequential(Branches(32, 32), nn.MaxPool2d(2))
        self.block2 = nn.Sequential(DenseLayer(32, 8, nn.GELU(approximate="tanh")),
                                    DenseLayer(40, 8, nn.GELU()))
        self.pool = nn.AdaptiveMaxPool2d(1)
        self.fc = nn.Linear(48, num_classes)

    def forward(self, x):
        x = self.block2(self.down(self.block1(self.stem(x))))
        return self.fc(self.pool(x).flatten(1))


def dense(num_classes, in_channels):
    return Dense(num_classes, in_channels)
