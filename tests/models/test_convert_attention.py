"""Converter checks of attention (models/converter/attention.py) on small
PyTorch modules exported to ONNX: what converts gives PyTorch's numbers in
the converter's executor (the engine is checked by tests/node/models.test.mjs
on the vit_ops, attention_ops and transformer_ops test models), and what
cannot be represented is refused naming the ONNX node.

    /usr/bin/python3 tests/models/test_convert_attention.py
"""

import os
import sys
import tempfile
import unittest
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import convert  # noqa: E402
import dyce_format  # noqa: E402
from converter.executor import Runner  # noqa: E402
from dyce_codes import P_MATMUL_ROWWISE  # noqa: E402


class Scores(nn.Module):
    """Tokens of a 4x4 map, two heads; `variant` changes one step."""

    def __init__(self, variant):
        super().__init__()
        self.variant, self.embed = variant, nn.Conv2d(2, 8, 1)
        self.bias = nn.Parameter(torch.randn(1, 2, 16, 16))
        self.scale = nn.Parameter(torch.rand(1, 2, 1, 1) + 0.5)

    def forward(self, x):
        t = self.embed(x).flatten(2).transpose(1, 2)               # (1, 16, 8)
        q = t.view(1, 16, 2, 4).transpose(1, 2)                    # (1, 2, 16, 4)
        s = q @ q.transpose(-2, -1)                                # (1, 2, 16, 16)
        if self.variant == "bias":
            s = s * self.scale + self.bias
        elif self.variant == "mixed":
            s = s + s.transpose(-2, -1)
        elif self.variant == "axis":
            return s.softmax(dim=2).mean((1, 2))
        y = (s.softmax(-1) @ q).transpose(1, 2).reshape(1, 16, 8)
        return y.mean(1)


class MapProduct(nn.Module):
    def forward(self, x):
        return (x @ x.transpose(2, 3)).mean((2, 3))


class WindowScores(nn.Module):
    """Attention within 4 windows of 4 tokens on a channels-last 4 x 4 map
    (x.view(1, 2, 2, 2, 2, C).permute(...) as Swin partitions it), the
    products as einsums (MaxViT) or @, dropout p (training=True as
    torchvision's Swin passes it)."""

    def __init__(self, einsum=False, p=0.0, equation="bhid,bhjd->bhij"):
        super().__init__()
        self.qkv, self.einsum, self.p, self.equation = nn.Linear(4, 12), einsum, p, equation

    def forward(self, x):
        m = x.permute(0, 2, 3, 1)                                  # (1, 4, 4, 4)
        w = m.view(1, 2, 2, 2, 2, 4).permute(0, 1, 3, 2, 4, 5).reshape(4, 4, 4)
        q, k, v = self.qkv(w).reshape(4, 4, 3, 2, 2).permute(2, 0, 3, 1, 4)
        if self.einsum:
            s = torch.einsum(self.equation, q, k)
        else:
            s = q @ k.transpose(-2, -1)
        s = F.dropout(s.softmax(-1), p=self.p, training=True)
        y = torch.einsum("bhij,bhjd->bhid", s, v) if self.einsum else s @ v
        y = y.transpose(1, 2).reshape(4, 4, 4)                     # windows, tokens, C
        y = y.view(1, 2, 2, 2, 2, 4).permute(0, 1, 3, 2, 4, 5).reshape(1, 4, 4, 4)
        return torch.roll(y, (1, 1), (1, 2)).mean((1, 2))


class PatchTransformer(nn.Module):
    """MobileViT as timm writes it: a map unfolded into 2 x 2 patches, one
    sequence per position in the patch ((4, N, C): a batch of windows), a
    pre-norm block (LayerNorms on that batch), folded back."""

    def __init__(self):
        super().__init__()
        self.conv, self.n1, self.n2 = nn.Conv2d(3, 8, 1), nn.LayerNorm(8), nn.LayerNorm(8)
        self.qkv, self.proj, self.mlp = nn.Linear(8, 24), nn.Linear(8, 8), nn.Linear(8, 8)

    def forward(self, x):
        x = self.conv(x)                                           # (1, 8, 4, 4)
        t = x.reshape(16, 2, 2, 2).transpose(1, 2).reshape(1, 8, 4, 4).transpose(1, 3).reshape(4, 4, 8)
        q, k, v = self.qkv(self.n1(t)).reshape(4, 4, 3, 2, 4).permute(2, 0, 3, 1, 4)
        a = ((q @ k.transpose(-2, -1)) * 0.5).softmax(-1)
        t = t + self.proj((a @ v).transpose(1, 2).reshape(4, 4, 8))
        t = t + self.mlp(self.n2(t))
        y = t.view(1, 4, 4, 8).transpose(1, 3).reshape(16, 2, 2, 2).transpose(1, 2).reshape(1, 8, 4, 4)
        return y.mean((2, 3))


def convert_module(module, shape):
    path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    x = torch.randn(shape)
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), x.requires_grad_(), path, opset_version=13)
    return convert.convert_graphs([("main", path, None)]), x.detach()


class ConvertAttention(unittest.TestCase):
    def matches(self, module, shape):
        data, x = convert_module(module, shape)
        graphs, *_ = dyce_format.read_package(data)
        got = Runner(graphs).run(x.numpy())[0].numpy().reshape(-1)
        want = module(x).detach().numpy().reshape(-1)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
        return graphs[0]

    def refused(self, module, shape, *needles):
        with self.assertRaises(convert.ConvertError) as ctx:
            convert_module(module, shape)
        for needle in needles:
            self.assertIn(needle, str(ctx.exception))

    def test_plain_heads(self):
        ops = [n.op for n in self.matches(Scores("plain"), (1, 2, 4, 4)).nodes]
        self.assertEqual(ops.count("matmul"), 2)
        self.assertIn("softmax", ops)

    def test_relative_position_bias_and_per_head_scale(self):
        # constants over (1, G, L, L) laid out as the scores are: tokens, heads, keys
        self.matches(Scores("bias"), (1, 2, 4, 4))

    def test_views_laid_out_differently_are_refused(self):
        self.refused(Scores("mixed"), (1, 2, 4, 4), "node '", "not laid out alike")

    def test_softmax_over_the_queries_is_refused(self):
        self.refused(Scores("axis"), (1, 2, 4, 4), "(Softmax)", "only over its last axis")

    def test_attention_within_windows(self):
        # a window per row of the dyce tensor, the products row by row
        for einsum in (False, True):
            nodes = self.matches(WindowScores(einsum), (1, 4, 4, 4)).nodes
            products = [n for n in nodes if n.op == "matmul"]
            self.assertEqual(len(products), 2)
            self.assertTrue(all(n.params[P_MATMUL_ROWWISE] == 1 for n in products))

    def test_layer_norm_on_a_batch_of_windows(self):
        # MobileViT's transformer runs on (patch positions, patches, C): its
        # LayerNorms normalise each token of each window (was refused:
        # "input shape (4, 4, 8) is not (1, C, ...)")
        ops = [n.op for n in self.matches(PatchTransformer(), (1, 3, 4, 4)).nodes]
        self.assertEqual(ops.count("group_norm"), 2)

    def test_multihead_attention_on_a_batch_of_windows_is_refused(self):
        # nn.MultiheadAttention transposes a (N, L, E) batch to (L, N, E):
        # the refusal says so and names the form dyce takes
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.mha = nn.Conv2d(3, 8, 1), nn.MultiheadAttention(8, 2, batch_first=True)

            def forward(self, x):
                t = self.conv(x).reshape(16, 2, 4, 2).transpose(1, 2).reshape(1, 8, 8, 4) \
                    .transpose(1, 3).reshape(4, 8, 8)                  # 4 windows of 8 tokens
                return self.mha(t, t, t, need_weights=False)[0].mean((0, 1))
        self.refused(Net(), (1, 3, 4, 8), "node '/mha/")

    def test_windows_q_k_v_chunked_from_the_features(self):
        # q, k, v = qkv(x).chunk(3, -1) on a batch of windows (was given the
        # shape of one window: a refusal two nodes later, or a wrong shape)
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.qkv = nn.Conv2d(3, 8, 1), nn.Linear(8, 24)

            def forward(self, x):
                w = self.conv(x).permute(0, 2, 3, 1).reshape(1, 2, 2, 2, 4, 8) \
                    .permute(0, 1, 3, 2, 4, 5).reshape(4, 8, 8)           # 4 windows of 8 tokens
                q, k, v = self.qkv(w).chunk(3, -1)
                q, k, v = (t.reshape(4, 8, 2, 4).transpose(1, 2) for t in (q, k, v))
                y = ((q @ k.transpose(-2, -1)) * 0.5).softmax(-1) @ v
                y = y.transpose(1, 2).reshape(4, 8, 8)
                y = y.view(1, 2, 2, 2, 4, 8).permute(0, 1, 3, 2, 4, 5).reshape(1, 4, 8, 8)
                return y.mean((1, 2))
        self.matches(Net(), (1, 3, 4, 8))

    def test_window_refusals(self):
        self.refused(WindowScores(p=0.25), (1, 4, 4, 4), "(Dropout)",
                     "training_mode=True is not supported (dropout with a ratio of 0.25)")
        self.refused(WindowScores(True, equation="bhid,bhjd->bhji"), (1, 4, 4, 4),
                     "(Einsum)", "einsum 'bhid,bhjd->bhji' of two computed tensors")

    def test_graph_ending_in_a_moved_token_row(self):
        # (1, 1, L, E) tokens with their unit axes swapped at the very end (a
        # builder stage cut after MaxViT's departition swap): the graph's
        # output is the token row itself (was a KeyError in the converter)
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.norm = nn.Conv2d(3, 4, 1), nn.LayerNorm(4)

            def forward(self, x):
                t = self.norm(self.conv(x).permute(0, 2, 3, 1).reshape(1, 1, 12, 4))
                return t.transpose(1, 2)                       # (1, 12, 1, 4)

        net = Net().eval()
        data, x = convert_module(net, (1, 3, 3, 4))
        graphs, *_ = dyce_format.read_package(data)
        self.assertEqual(graphs[0].shapes[graphs[0].output], (1, 1, 12, 4))
        got = Runner(graphs).run(x.numpy())[0].numpy().reshape(4, 12).T
        want = net(x).detach().numpy().reshape(12, 4)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    def test_global_context_pooling(self):
        # GCNet: x.view(b, 1, c, h * w) @ softmax(mask).unsqueeze(-1): one
        # query over the map's pixels, the engine's attn . v
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.mask = nn.Conv2d(2, 6, 1), nn.Conv2d(6, 1, 1)

            def forward(self, x):
                y = self.conv(x)
                b, c, h, w = y.shape
                m = self.mask(y).view(b, 1, h * w).softmax(-1).unsqueeze(-1)
                return torch.matmul(y.view(b, 1, c, h * w), m).view(b, c)
        nodes = self.matches(Net(), (1, 2, 3, 5)).nodes
        self.assertEqual([n.op for n in nodes if n.op == "matmul"], ["matmul"])

    def test_heads_features_split_unequally(self):
        # LeViT: q, k, v = qkv(x).view(B, N, h, -1).split([kd, kd, d], 3),
        # an attention bias gathered from a parameter by a constant index
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.qkv = nn.Conv2d(2, 8, 1), nn.Linear(8, 2 * (4 + 4 + 6))
                self.bias = nn.Parameter(torch.randn(2, 5))
                self.register_buffer("idx", torch.randint(0, 5, (6, 6)))

            def forward(self, x):
                t = self.conv(x).flatten(2).transpose(1, 2)                # (1, 6, 8)
                q, k, v = self.qkv(t).view(1, 6, 2, -1).split([4, 4, 6], dim=3)
                q, k, v = (a.permute(0, 2, 1, 3) for a in (q, k, v))
                a = (q @ k.transpose(-2, -1) * 0.5 + self.bias[:, self.idx]).softmax(-1)
                return (a @ v).transpose(1, 2).reshape(1, 6, 12).mean(1)
        self.matches(Net(), (1, 2, 2, 3))

    def test_product_of_feature_maps_is_refused(self):
        self.refused(MapProduct(), (1, 2, 4, 4), "(MatMul)", "matmul of a computed (1, 2, 4, 4) tensor")


if __name__ == "__main__":
    unittest.main()
