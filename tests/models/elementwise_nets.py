"""A test model of the elementwise ops users write (models/converter/
elementwise.py): abs, sqrt, exp, log, reciprocal, torch.maximum /
torch.minimum of two feature maps, a maximum with a per-channel constant,
torch.clamp written with torch.max / torch.min, powers 2, 0.5, -0.5 and
-1, a constant divided by a tensor, F.normalize over the channels and its
hand-written form x / x.norm(dim=1, keepdim=True).clamp_min(eps)."""

import torch
import torch.nn.functional as F
from torch import nn


class ElementwiseOpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 8, 3, 1, 1)
        self.c2 = nn.Conv2d(8, 8, 3, 1, 1)
        self.c3 = nn.Conv2d(8, 8, 3, 2, 1)
        self.floor = nn.Parameter(torch.randn(1, 8, 1, 1) * 0.1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        a = self.c1(x)                                  # (1, 8, 10, 10)
        r = torch.sqrt(torch.abs(a) + 0.5)              # sqrt of something positive
        e = torch.exp(torch.tanh(a))                    # exp of something bounded
        lg = torch.log(e + r)                           # log of something positive
        inv = torch.reciprocal(r + 1.0)
        b = self.c2(torch.relu(a))
        hi = torch.max(torch.maximum(a, b), self.floor)  # two maps; a per-channel constant
        lo = torch.minimum(lg, inv)
        c = torch.min(torch.max(b, torch.tensor(-1.0)), torch.tensor(1.5))  # a clamp
        q = hi ** 2 + lo ** 0.5 + 2 / (e + 1) + r ** -0.5 + (r + c + 2) ** -1
        y = F.normalize(q - 1.0, dim=1)                 # ReduceL2, Clip, Expand, Div
        z = self.c3(y + c)                              # (1, 8, 5, 5)
        n = z / z.norm(dim=1, keepdim=True).clamp_min(1e-6)  # ReduceSum, Sqrt, Div
        pooled = torch.cat([n.mean((2, 3)), n.amax((2, 3))], 1)
        return self.fc(pooled)
