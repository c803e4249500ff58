"""A test model of attention within windows (models/converter/attention.py
W axis, the engine's row-by-row matmul): torchvision's own Swin blocks —
window partition of a channels-last map padded to whole windows, shifted
windows (torch.roll and the mask built by slice assignments), relative
position bias, window reverse and crop, patch merging — then MaxViT's
block and grid attention on an NCHW map (partitions of a conv map into
(1, windows, tokens, C), q, k, v chunked from the last axis, einsum
products), and a mean over H and W of a channels-last map."""

import warnings

import torch
from torch import nn
from torchvision.models.maxvit import PartitionAttentionLayer
from torchvision.models.swin_transformer import PatchMerging, SwinTransformerBlock


class WindowOpsNet(nn.Module):
    def __init__(self):
        super().__init__()
        # torchvision's relative position index calls torch.meshgrid without
        # `indexing`, which PyTorch 1.13 warns about on every construction
        warnings.filterwarnings("ignore", "torch.meshgrid", UserWarning)
        self.embed = nn.Conv2d(3, 8, 2, 2)                # 20 x 20 -> 10 x 10
        # 10 x 10 in windows of 4: padded to 12 x 12, 9 windows
        self.plain = SwinTransformerBlock(8, 2, [4, 4], [0, 0], stochastic_depth_prob=0.0)
        self.shifted = SwinTransformerBlock(8, 2, [4, 4], [2, 2], stochastic_depth_prob=0.0)
        self.merge = PatchMerging(8)                      # 10 x 10 x 8 -> 5 x 5 x 16
        self.conv = nn.Conv2d(16, 16, 3, padding=2)       # 5 x 5 -> 7 x 7 ... padded 8 x 8
        self.pad = nn.ZeroPad2d((0, 1, 0, 1))
        kw = dict(head_dim=8, partition_size=4, grid_size=(8, 8), mlp_ratio=2,
                  activation_layer=nn.GELU, norm_layer=nn.LayerNorm,
                  attention_dropout=0.0, mlp_dropout=0.0, p_stochastic_dropout=0.0)
        self.block = PartitionAttentionLayer(16, partition_type="window", **kw)
        self.grid = PartitionAttentionLayer(16, partition_type="grid", **kw)
        self.fc = nn.Linear(8 + 16, 10)

    def forward(self, x):
        s = self.shifted(self.plain(self.embed(x).permute(0, 2, 3, 1)))
        m = self.merge(s).permute(0, 3, 1, 2)                 # (1, 16, 5, 5)
        m = self.grid(self.block(self.pad(self.conv(m))))     # (1, 16, 8, 8)
        return self.fc(torch.cat([s.mean((1, 2)), m.mean((2, 3))], 1))
