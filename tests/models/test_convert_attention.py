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
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import convert  # noqa: E402
import dyce_format  # noqa: E402
from converter.executor import Runner  # noqa: E402


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

    def test_product_of_feature_maps_is_refused(self):
        self.refused(MapProduct(), (1, 2, 4, 4), "(MatMul)", "matmul of a computed (1, 2, 4, 4) tensor")


if __name__ == "__main__":
    unittest.main()
