"""A test model of mixing along an axis that is not the channels
(models/converter/layouts.py as_rows, lowering.py Conv1d): MLP-Mixer's
token mixing (a Linear over the tokens of a transposed sequence, and the
transpose back added to the sequence), a Linear over the positions of
x.flatten(2), ECA's Conv1d over a pooled vector's channels, a Conv1d
(strided, dilated, grouped) over a flattened map's positions; and moves of
values (models/converter/moves.py): nn.PixelUnshuffle, nn.PixelShuffle, a
transpose of H and W, -inf padding before a max pool, padding by -0.5,
with GeM pooling (powers 3 and 1/3) after; coordinate attention (maps
pooled along H and along W, concatenated along H, split back:
pixels.concat / take) and a concatenation along W of a map with several
rows (its values reordered by a gather); SKNet's selective kernel on
channel groups (1, R, C, H, W): two branches stacked, summed, weighted
by a softmax across them (channels.py); triplet attention's gate on a
permuted map (channel max and mean without keepdim, permuted back and
added) and SRM's x.std of the flattened map."""

import torch
from torch import nn


class MixingOpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 2, 2)                 # (1, 8, 4, 4): 16 tokens
        self.norm = nn.LayerNorm(8)
        self.tokens = nn.Sequential(nn.Linear(16, 24), nn.GELU(), nn.Linear(24, 16))
        self.channels = nn.Linear(8, 8)
        self.positions = nn.Linear(16, 12)                # over x.flatten(2)'s positions
        self.eca = nn.Conv1d(1, 1, 3, padding=1, bias=False)
        self.conv1d = nn.Conv1d(8, 6, 3, stride=2, padding=2, dilation=2, groups=2)
        self.space = nn.Conv2d(12, 8, 1)                 # on PixelUnshuffle(2)'s (1, 12, 4, 4)
        self.coord = nn.Sequential(nn.Conv2d(8, 8, 1), nn.Hardswish())
        self.select = nn.Linear(8, 16)
        self.fc = nn.Linear(8 + 12 * 8 + 6 * 8 + 2 + 8 + 8 + 8 + 8 + 8, 10)

    def forward(self, x):
        m = self.stem(x)
        s = m.flatten(2).transpose(1, 2)                  # (1, 16, 8)
        s = s + self.tokens(self.norm(s).transpose(1, 2)).transpose(1, 2)
        s = s + self.channels(s)
        mixed = s.transpose(1, 2).reshape(-1, 8, 4, 4)
        g = mixed.mean((2, 3), keepdim=True)              # ECA: (1, 8, 1, 1)
        g = self.eca(g.squeeze(-1).transpose(-1, -2)).transpose(-1, -2).unsqueeze(-1)
        gated = mixed * torch.sigmoid(g)
        p = self.positions(gated.flatten(2))              # (1, 8, 12)
        c = self.conv1d(torch.relu(gated.flatten(2)))     # (1, 6, 8)
        z = nn.functional.pixel_shuffle(self.space(nn.functional.pixel_unshuffle(x, 2)), 2)
        z = z + z.transpose(2, 3)                          # (1, 2, 8, 8)
        z = nn.functional.pad(z, (0, 1, 0, 1), value=-float("inf"))   # MaxPool2dSame
        z = nn.functional.pad(nn.functional.max_pool2d(z, 3, 1), (1, 1, 1, 1), value=-0.5)
        gem = nn.functional.avg_pool2d(z.clamp(min=1e-6).pow(3), (9, 9)).pow(1 / 3)
        h = nn.functional.adaptive_avg_pool2d(gated, (4, 1))
        w = nn.functional.adaptive_avg_pool2d(gated, (1, 4)).permute(0, 1, 3, 2)
        ah, aw = torch.split(self.coord(torch.cat([h, w], 2)), [4, 4], dim=2)
        coord = gated * ah.sigmoid() * aw.permute(0, 1, 3, 2).sigmoid()
        wide = torch.cat([coord, torch.relu(gated[..., 1:3])], 3)   # (1, 8, 4, 6)
        branches = torch.stack([coord, torch.relu(-gated)], 1)      # (1, 2, 8, 4, 4)
        pick = self.select(branches.sum(1).mean((2, 3))).view(-1, 2, 8, 1, 1).softmax(1)
        selected = (branches * pick).sum(1)
        t = selected.permute(0, 3, 2, 1)                                # (1, W, H, C)
        zpool = torch.cat((torch.max(t, 1)[0].unsqueeze(1), torch.mean(t, 1).unsqueeze(1)), 1)
        t = (t * torch.sigmoid(zpool.sum(1, keepdim=True))).permute(0, 3, 2, 1) + selected
        feats = [s.mean(1), p.flatten(1), c.flatten(1), gem.flatten(1), coord.mean((2, 3)),
                 wide[..., 3:].amax((2, 3)), selected.amax((2, 3)), t.mean((2, 3)),
                 t.flatten(2).std(-1)]
        return self.fc(torch.cat(feats, 1))
