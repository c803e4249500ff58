"""Blocks from papers that users write into their own backbone files,
in the forms their reference code has (tests/build/user_blocks.test.mjs
builds each network with models/build.py and compares every graph with
PyTorch in the engine): MobileViT as timm writes it (a map unfolded into
patches, a transformer on the batch of patch positions, folded back),
coordinate attention, a non-local block and GCNet's global context,
ResNeSt's split attention
and SKNet's selective kernel (channel groups (1, R, C, H, W)), SimAM,
SRM, triplet attention and an instance norm written with var, ConvNeXt
V2's block (global response normalisation on a channels-last map) and
GhostNetV2's decoupled fully connected attention, LeViT's attention
(each head's features split into q, k, v of unequal sizes, an attention
bias gathered by a constant index), CoordConv (coordinate maps, constants,
concatenated with the computed map), circular padding (ParC's wrapped
convolution, nn.Conv2d(padding_mode="circular")) and a fixed Sobel
filter by F.conv2d.
FUNCTION(num_classes, in_channels) as models/build.py calls it."""

import torch
from torch import nn
from torch.nn import functional as F


class Attn(nn.Module):
    """timm's vision_transformer.Attention."""
    def __init__(self, dim, heads=4):
        super().__init__()
        self.h, self.d = heads, dim // heads
        self.scale = self.d ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).reshape(B, N, 3, self.h, self.d).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        a = (q * self.scale) @ k.transpose(-2, -1)
        a = a.softmax(dim=-1)
        x = (a @ v).transpose(1, 2).reshape(B, N, C)
        return self.proj(x)


class TBlock(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.n1, self.attn = nn.LayerNorm(dim), Attn(dim)
        self.n2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))

    def forward(self, x):
        x = x + self.attn(self.n1(x))
        return x + self.mlp(self.n2(x))


class TimmMobileViTBlock(nn.Module):
    """timm's MobileVitBlock: unfold with reshape/transpose, blocks, fold."""
    def __init__(self, ch, dim=32, p=2):
        super().__init__()
        self.p = p
        self.conv_kxk = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.SiLU())
        self.conv_1x1 = nn.Conv2d(ch, dim, 1, bias=False)
        self.transformer = nn.Sequential(TBlock(dim), TBlock(dim))
        self.norm = nn.LayerNorm(dim)
        self.conv_proj = nn.Sequential(nn.Conv2d(dim, ch, 1, bias=False), nn.BatchNorm2d(ch), nn.SiLU())
        self.conv_fusion = nn.Sequential(nn.Conv2d(2 * ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.SiLU())

    def forward(self, x):
        shortcut = x
        x = self.conv_1x1(self.conv_kxk(x))
        B, C, H, W = x.shape
        ph = pw = self.p
        nh, nw = H // ph, W // pw
        n, a = nh * nw, ph * pw
        x = x.reshape(B * C * nh, ph, nw, pw).transpose(1, 2)
        x = x.reshape(B, C, n, a).transpose(1, 3).reshape(B * a, n, -1)
        x = self.norm(self.transformer(x))
        x = x.contiguous().view(B, a, n, -1)
        x = x.transpose(1, 3).reshape(B * C * nh, nw, ph, pw)
        x = x.transpose(1, 2).reshape(B, C, nh * ph, nw * pw)
        x = self.conv_proj(x)
        return self.conv_fusion(torch.cat((shortcut, x), dim=1))


class TimmMobileViT(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 24, 3, 2, 1), nn.BatchNorm2d(24), nn.SiLU())
        self.mv = TimmMobileViTBlock(24)
        self.down = nn.Sequential(nn.Conv2d(24, 48, 3, 2, 1), nn.BatchNorm2d(48), nn.SiLU())
        self.mv2 = TimmMobileViTBlock(48)
        self.fc = nn.Linear(48, n)

    def forward(self, x):
        x = self.mv2(self.down(self.mv(self.stem(x))))
        return self.fc(x.mean((2, 3)))


class CoordAtt(nn.Module):
    """Coordinate attention: pools along H and along W, shared 1x1 conv, split."""
    def __init__(self, ch, r=4):
        super().__init__()
        m = max(8, ch // r)
        self.conv1 = nn.Sequential(nn.Conv2d(ch, m, 1), nn.BatchNorm2d(m), nn.Hardswish())
        self.ch_h, self.ch_w = nn.Conv2d(m, ch, 1), nn.Conv2d(m, ch, 1)

    def forward(self, x):
        n, c, h, w = x.size()
        xh = F.adaptive_avg_pool2d(x, (h, 1))
        xw = F.adaptive_avg_pool2d(x, (1, w)).permute(0, 1, 3, 2)
        y = self.conv1(torch.cat([xh, xw], dim=2))
        yh, yw = torch.split(y, [h, w], dim=2)
        return x * self.ch_h(yh).sigmoid() * self.ch_w(yw.permute(0, 1, 3, 2)).sigmoid()


class NonLocal(nn.Module):
    """Non-local block: attention over the map's positions."""
    def __init__(self, ch):
        super().__init__()
        self.i = ch // 2
        self.theta, self.phi, self.g = (nn.Conv2d(ch, self.i, 1) for _ in range(3))
        self.out = nn.Conv2d(self.i, ch, 1)

    def forward(self, x):
        b, c, h, w = x.shape
        t = self.theta(x).view(b, self.i, -1).permute(0, 2, 1)
        p = self.phi(x).view(b, self.i, -1)
        g = self.g(x).view(b, self.i, -1).permute(0, 2, 1)
        a = torch.matmul(t, p).softmax(-1)
        y = torch.matmul(a, g).permute(0, 2, 1).contiguous().view(b, self.i, h, w)
        return x + self.out(y)


class GC(nn.Module):
    """GCNet global context: softmax over positions of a 1x1 conv, weighted sum, transform, add."""
    def __init__(self, ch):
        super().__init__()
        self.mask = nn.Conv2d(ch, 1, 1)
        self.t = nn.Sequential(nn.Conv2d(ch, ch // 4, 1), nn.LayerNorm([ch // 4, 1, 1]), nn.ReLU(), nn.Conv2d(ch // 4, ch, 1))

    def forward(self, x):
        b, c, h, w = x.shape
        m = self.mask(x).view(b, 1, h * w).softmax(-1).unsqueeze(-1)     # (b, 1, HW, 1)
        ctx = torch.matmul(x.view(b, 1, c, h * w), m).view(b, c, 1, 1)
        return x + self.t(ctx)


class CANL(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.ca = CoordAtt(32)
        self.down = nn.Sequential(nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
        self.nl = NonLocal(64)
        self.gc = GC(64)
        self.fc = nn.Linear(64, n)

    def forward(self, x):
        x = self.gc(self.nl(self.down(self.ca(self.stem(x)))))
        return self.fc(x.mean((2, 3)))


class RadixSoftmax(nn.Module):
    def __init__(self, radix, cardinality):
        super().__init__()
        self.radix, self.cardinality = radix, cardinality

    def forward(self, x):
        batch = x.size(0)
        x = x.view(batch, self.cardinality, self.radix, -1).transpose(1, 2)
        x = F.softmax(x, dim=1)
        return x.reshape(batch, -1)


class SplitAttn(nn.Module):
    """timm's resnest SplitAttn (radix 2)."""
    def __init__(self, ch, radix=2, groups=1):
        super().__init__()
        self.radix = radix
        mid = ch * radix
        attn = max(ch * radix // 4, 16)
        self.conv = nn.Conv2d(ch, mid, 3, 1, 1, groups=groups * radix, bias=False)
        self.bn0 = nn.BatchNorm2d(mid)
        self.act0 = nn.ReLU()
        self.fc1 = nn.Conv2d(ch, attn, 1, groups=groups)
        self.bn1 = nn.BatchNorm2d(attn)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Conv2d(attn, mid, 1, groups=groups)
        self.rsoftmax = RadixSoftmax(radix, groups)

    def forward(self, x):
        x = self.act0(self.bn0(self.conv(x)))
        B, RC, H, W = x.shape
        x = x.reshape((B, self.radix, RC // self.radix, H, W))
        x_gap = x.sum(dim=1)
        x_gap = x_gap.mean((2, 3), keepdim=True)
        x_gap = self.act1(self.bn1(self.fc1(x_gap)))
        x_attn = self.fc2(x_gap)
        x_attn = self.rsoftmax(x_attn).view(B, -1, 1, 1)
        out = (x * x_attn.reshape((B, self.radix, RC // self.radix, 1, 1))).sum(dim=1)
        return out.contiguous()


class ResNeStish(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.s1 = SplitAttn(32)
        self.down = nn.Sequential(nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU())
        self.s2 = SplitAttn(64)
        self.fc = nn.Linear(64, n)

    def forward(self, x):
        x = self.s2(self.down(self.s1(self.stem(x))))
        return self.fc(x.mean((2, 3)))


class SK(nn.Module):
    """Selective kernel: two branches, fuse, softmax across the branches."""
    def __init__(self, ch, r=4):
        super().__init__()
        self.b3 = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU())
        self.b5 = nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 2, dilation=2, bias=False), nn.BatchNorm2d(ch), nn.ReLU())
        self.fc = nn.Sequential(nn.Linear(ch, ch // r), nn.ReLU())
        self.att = nn.Linear(ch // r, 2 * ch)
        self.ch = ch

    def forward(self, x):
        feats = torch.stack([self.b3(x), self.b5(x)], 1)           # (B, 2, C, H, W)
        z = self.fc(feats.sum(1).mean((2, 3)))
        a = self.att(z).view(-1, 2, self.ch, 1, 1).softmax(1)
        return (feats * a).sum(1)


class SKNet(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.sk = SK(32)
        self.fc = nn.Linear(32, n)

    def forward(self, x):
        return self.fc(self.sk(self.stem(x)).mean((2, 3)))


class SimAM(nn.Module):
    def forward(self, x):
        n = x.shape[2] * x.shape[3] - 1
        d = (x - x.mean(dim=[2, 3], keepdim=True)).pow(2)
        y = d / (4 * (d.sum(dim=[2, 3], keepdim=True) / n + 1e-4)) + 0.5
        return x * torch.sigmoid(y)


class SRM(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.cfc = nn.Conv1d(ch, ch, 2, groups=ch, bias=False)
        self.bn = nn.BatchNorm1d(ch)

    def forward(self, x):
        b, c, _, _ = x.size()
        mean = x.view(b, c, -1).mean(-1).unsqueeze(-1)
        std = x.view(b, c, -1).std(-1).unsqueeze(-1)
        u = torch.cat((mean, std), -1)
        z = self.bn(self.cfc(u))
        return x * torch.sigmoid(z).view(b, c, 1, 1)


class ZPool(nn.Module):
    def forward(self, x):
        return torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), dim=1)


class Gate(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = ZPool()
        self.conv = nn.Sequential(nn.Conv2d(2, 1, 7, 1, 3, bias=False), nn.BatchNorm2d(1))

    def forward(self, x):
        return x * torch.sigmoid(self.conv(self.pool(x)))


class Triplet(nn.Module):
    def __init__(self):
        super().__init__()
        self.cw, self.hc, self.hw = Gate(), Gate(), Gate()

    def forward(self, x):
        x1 = self.cw(x.permute(0, 2, 1, 3).contiguous()).permute(0, 2, 1, 3).contiguous()
        x2 = self.hc(x.permute(0, 3, 2, 1).contiguous()).permute(0, 3, 2, 1).contiguous()
        return 1 / 3 * (self.hw(x) + x1 + x2)


class HandIN(nn.Module):
    def forward(self, x):
        m = x.mean((2, 3), keepdim=True)
        v = x.var((2, 3), keepdim=True, unbiased=False)
        return (x - m) / torch.sqrt(v + 1e-5)


class Misc(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 32, 3, 2, 1), nn.BatchNorm2d(32), nn.ReLU())
        self.simam, self.srm, self.trip, self.hin = SimAM(), SRM(32), Triplet(), HandIN()
        self.conv = nn.Conv2d(32, 32, 3, 1, 1)
        self.fc = nn.Linear(32, n)

    def forward(self, x):
        x = self.srm(self.simam(self.stem(x)))
        x = self.hin(self.conv(self.trip(x)))
        return self.fc(x.mean((2, 3)))


class GRN(nn.Module):
    """ConvNeXt V2 global response normalisation (channels-last)."""
    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim) + 0.1)
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim) + 0.1)

    def forward(self, x):
        Gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
        Nx = Gx / (Gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * Nx) + self.beta + x


class CNV2Block(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1, self.act, self.grn, self.pw2 = nn.Linear(dim, 4 * dim), nn.GELU(), GRN(4 * dim), nn.Linear(4 * dim, dim)

    def forward(self, x):
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(self.grn(self.act(self.pw1(self.norm(y)))))
        return x + y.permute(0, 3, 1, 2)


class DFC(nn.Module):
    """GhostNetV2's decoupled fully connected attention, LeViT's attention
(each head's features split into q, k, v of unequal sizes, an attention
bias gathered by a constant index), CoordConv (coordinate maps, constants,
concatenated with the computed map), circular padding (ParC's wrapped
convolution, nn.Conv2d(padding_mode="circular")) and a fixed Sobel
filter by F.conv2d."""
    def __init__(self, ch):
        super().__init__()
        self.short = nn.Sequential(nn.Conv2d(ch, ch, 1, bias=False), nn.BatchNorm2d(ch),
                                   nn.Conv2d(ch, ch, (1, 5), 1, (0, 2), groups=ch, bias=False), nn.BatchNorm2d(ch),
                                   nn.Conv2d(ch, ch, (5, 1), 1, (2, 0), groups=ch, bias=False), nn.BatchNorm2d(ch))

    def forward(self, x):
        res = self.short(F.avg_pool2d(x, kernel_size=2, stride=2))
        return x * F.interpolate(res.sigmoid(), size=(x.shape[-2], x.shape[-1]), mode="nearest")


class Mix2(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 32, 4, 4), nn.GroupNorm(1, 32))
        self.b1, self.dfc, self.b2 = CNV2Block(32), DFC(32), CNV2Block(32)
        self.fc = nn.Linear(32, n)

    def forward(self, x):
        return self.fc(self.b2(self.dfc(self.b1(self.stem(x)))).mean((2, 3)))


class LeViTAttn(nn.Module):
    def __init__(self, dim, res, heads=2, kd=8):
        super().__init__()
        self.h, self.kd, self.d = heads, kd, dim // heads
        self.qkv = nn.Linear(dim, heads * (2 * kd + self.d))
        self.proj = nn.Sequential(nn.Hardswish(), nn.Linear(heads * self.d, dim))
        pts = [(i, j) for i in range(res) for j in range(res)]
        offsets, idxs = {}, []
        for p1 in pts:
            for p2 in pts:
                off = (abs(p1[0] - p2[0]), abs(p1[1] - p2[1]))
                offsets.setdefault(off, len(offsets))
                idxs.append(offsets[off])
        self.attention_biases = nn.Parameter(torch.randn(heads, len(offsets)) * 0.1)
        self.register_buffer("idxs", torch.LongTensor(idxs).view(len(pts), len(pts)))

    def forward(self, x):
        B, N, C = x.shape
        q, k, v = self.qkv(x).view(B, N, self.h, -1).split([self.kd, self.kd, self.d], dim=3)
        q, k, v = q.permute(0, 2, 1, 3), k.permute(0, 2, 1, 3), v.permute(0, 2, 1, 3)
        attn = q @ k.transpose(-2, -1) * self.kd ** -0.5 + self.attention_biases[:, self.idxs]
        x = (attn.softmax(-1) @ v).transpose(1, 2).reshape(B, N, self.h * self.d)
        return self.proj(x)


class LeViTish(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.embed = nn.Sequential(nn.Conv2d(c, 32, 3, 2, 1), nn.Hardswish(), nn.Conv2d(32, 32, 3, 2, 1))
        self.attn = LeViTAttn(32, 8)
        self.mlp = nn.Sequential(nn.Linear(32, 64), nn.Hardswish(), nn.Linear(64, 32))
        self.fc = nn.Linear(32, n)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)
        t = t + self.attn(t)
        t = t + self.mlp(t)
        return self.fc(t.mean(1))


class CoordConvNet(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 16, 3, 2, 1), nn.ReLU())
        self.conv = nn.Sequential(nn.Conv2d(18, 32, 3, 1, 1), nn.ReLU())
        self.fc = nn.Linear(32, n)

    def forward(self, x):
        x = self.stem(x)
        _, _, h, w = x.shape
        yy = torch.linspace(-1, 1, h).view(1, 1, h, 1).expand_as(x[:, :1])
        xx = torch.linspace(-1, 1, w).view(1, 1, 1, w).expand_as(x[:, :1])
        return self.fc(self.conv(torch.cat([x, yy, xx], 1)).mean((2, 3)))


class Circ(nn.Module):
    def __init__(self, n, c):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(c, 16, 3, 2, 1), nn.ReLU())
        self.parc = nn.Conv2d(16, 16, (1, 16), groups=16)
        self.sobel = nn.Parameter(torch.tensor([[1., 0, -1], [2, 0, -2], [1, 0, -1]]).view(1, 1, 3, 3).repeat(16, 1, 1, 1), requires_grad=False)
        self.conv = nn.Sequential(nn.Conv2d(16, 16, 3, 1, 1, padding_mode="circular"), nn.ReLU())
        self.fc = nn.Linear(16, n)

    def forward(self, x):
        x = self.stem(x)
        x = x + self.parc(F.pad(x, (0, 15, 0, 0), mode="circular"))
        x = x + F.conv2d(x, self.sobel, padding=1, groups=16)
        return self.fc(self.conv(x).mean((2, 3)))


# FILE.py:NAME takes any callable NAME(num_classes, in_channels): the classes.
mobilevit = TimmMobileViT
coord_nonlocal = CANL
resnest = ResNeStish
sknet = SKNet
statistics = Misc
convnext_v2 = Mix2
levit = LeViTish
coordconv = CoordConvNet
circular = Circ
