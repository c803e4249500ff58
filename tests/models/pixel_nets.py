"""A test model that moves pixels (models/converter/pixels.py): reflection
and edge padding, a crop, strided slices of height and width (YOLOv5's
Focus: four strided views concatenated), a channel slice with them."""

import torch
from torch import nn


class PixelOpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)
        self.reflect, self.edge = nn.ReflectionPad2d((1, 2, 3, 1)), nn.ReplicationPad2d(1)
        self.fc = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x):
        x = self.edge(self.conv(self.reflect(x)))[:, :, 1:-1, ::2]      # 14x8
        focus = torch.cat([x[..., ::2, ::2], x[..., 1::2, ::2],
                           x[..., ::2, 1::2], x[..., 1::2, 1::2]], 1)   # 32 x 7x4
        return self.fc(focus[:, 4:12, 1:5].flatten(1))
