"""Test models with attention (tokens as positions, heads as channel
groups: models/converter/attention.py), in the styles people write it."""

import torch
from torch import nn


class TimmAttention(nn.Module):
    """timm's: one qkv Linear, reshape (B, L, 3, G, K), permute, qkv[i]."""

    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.scale = heads, (dim // heads) ** -0.5
        self.qkv, self.proj = nn.Linear(dim, dim * 3), nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = ((q @ k.transpose(-2, -1)) * self.scale).softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, c))


class ChunkAttention(nn.Module):
    """vit-pytorch's: qkv chunked on the features, each head-split by a
    view and transpose(1, 2), torch.matmul, unbind-free."""

    def __init__(self, dim, heads, head_dim):
        super().__init__()
        self.heads, self.scale = heads, head_dim ** -0.5
        self.to_qkv = nn.Linear(dim, heads * head_dim * 3, bias=False)
        self.out = nn.Linear(heads * head_dim, dim)

    def forward(self, x):
        b, n, _ = x.shape
        q, k, v = self.to_qkv(x).chunk(3, dim=-1)
        q, k, v = [t.view(b, n, self.heads, -1).transpose(1, 2) for t in (q, k, v)]
        attn = torch.matmul(q * self.scale, k.transpose(-1, -2)).softmax(dim=-1)
        return self.out(torch.matmul(attn, v).transpose(1, 2).reshape(b, n, -1))


class Block(nn.Module):
    def __init__(self, attention, dim):
        super().__init__()
        self.n1, self.attn, self.n2 = nn.LayerNorm(dim), attention, nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, dim * 2), nn.GELU(), nn.Linear(dim * 2, dim))

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.mlp(self.n2(x))


class VitOpsNet(nn.Module):
    """A ViT: patches (4x4 of 12x12: 3x3 tokens), a class token in front,
    positions, timm blocks (2 and 4 heads, alternating); the class token
    and the mean of the patch tokens (x[:, 1:]) to the head."""

    def __init__(self, num_classes=10, in_channels=3, size=12, patch=4, dim=16, depth=2):
        super().__init__()
        self.patch = nn.Conv2d(in_channels, dim, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, (size // patch) ** 2 + 1, dim) * 0.1)
        self.blocks = nn.Sequential(*(Block(TimmAttention(dim, 2 + 2 * (i % 2)), dim)
                                      for i in range(depth)))
        self.norm, self.head = nn.LayerNorm(dim), nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0] + x[:, 1:].mean(1))


class NonLocal(nn.Module):
    """Self-attention on a feature map (non-local block): bmm of views."""

    def __init__(self, c):
        super().__init__()
        self.t, self.p, self.g = (nn.Conv2d(c, c // 2, 1) for _ in range(3))
        self.o = nn.Conv2d(c // 2, c, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.t(x).view(b, c // 2, -1).permute(0, 2, 1)
        f = torch.bmm(t, self.p(x).view(b, c // 2, -1)).softmax(-1)
        y = torch.bmm(f, self.g(x).view(b, c // 2, -1).permute(0, 2, 1))
        return x + self.o(y.permute(0, 2, 1).contiguous().view(b, c // 2, h, w))


class AttentionOpsNet(nn.Module):
    """A CNN with a non-local block, then its map as tokens through a
    chunked multi-head block, mean-pooled."""

    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(3, 16, 3, 2, 1)
        self.nonlocal_ = NonLocal(16)
        self.block = Block(ChunkAttention(16, 2, 6), 16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = self.nonlocal_(torch.relu(self.c1(x)))
        x = self.block(x.flatten(2).transpose(1, 2))
        return self.fc(x.mean(dim=1))


class TorchTransformerNet(nn.Module):
    """PyTorch's own layers: nn.TransformerEncoder (batch first, pre-norm,
    GELU) on patch tokens with a class token, then an nn.MultiheadAttention
    called directly, sequence first (L, N, E) as it defaults to."""

    def __init__(self, num_classes=10, in_channels=3, size=12, patch=4, dim=16, depth=2):
        super().__init__()
        self.patch = nn.Conv2d(in_channels, dim, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, dim))
        layer = nn.TransformerEncoderLayer(dim, 4, dim * 2, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, depth)
        self.attn = nn.MultiheadAttention(dim, 2)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = self.encoder(torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1))
        s = x.transpose(0, 1)                                   # (L, N, E)
        s = s + self.attn(s, s, s, need_weights=False)[0]
        return self.head(s[0])
