"""Converter checks of weights computed in forward and of torch.einsum
(models/converter/folding.py, lowering.py): weight standardisation
(reductions of a parameter), nn.utils.spectral_norm (a product of
constants) and weight_norm fold into constant weights; einsum contracting
a map's or a vector's channels with a constant matrix is a 1 x 1
convolution or a fully connected layer. Each module is exported from
PyTorch, converted and run by the converter's executor against PyTorch;
other einsums are refused naming the node.

    /usr/bin/python3 tests/models/test_convert_weights.py
"""

import os
import sys
import unittest

import torch
import torch.nn.functional as F
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, "..", "..", "models")]
import convert  # noqa: E402
from test_convert_elementwise import convert_module, run_both  # noqa: E402


class StandardisedConv(nn.Conv2d):
    def forward(self, x):
        w = self.weight
        w = (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(x, w, self.bias, self.stride, self.padding, 1, self.groups)


class Net(nn.Module):
    def __init__(self, layer, tail=None):
        super().__init__()
        self.layer, self.tail = layer, tail
        self.mix = nn.Parameter(torch.randn(5, 6) * 0.3)

    def forward(self, x):
        y = self.layer(x)
        return self.tail(self, y) if self.tail else y


class ConvertWeights(unittest.TestCase):
    def matches(self, module, shape=(1, 3, 5, 6)):
        torch.manual_seed(0)
        return [n.op for n in run_both(module.eval(), shape, rtol=2e-5, atol=1e-5)[0].nodes]

    def test_weights_computed_in_forward_fold(self):
        self.assertEqual(self.matches(Net(StandardisedConv(3, 6, 3, padding=1))), ["conv2d"])
        self.assertEqual(self.matches(Net(nn.utils.spectral_norm(nn.Conv2d(3, 6, 3)))),
                         ["conv2d"])
        self.assertEqual(self.matches(Net(nn.utils.weight_norm(nn.Conv2d(3, 6, 1)))), ["conv2d"])

    def test_einsum_over_channels(self):
        conv = nn.Conv2d(3, 6, 3, padding=1)
        ops = self.matches(Net(conv, lambda m, y: torch.einsum("bchw,oc->bohw", y, m.mix)))
        self.assertEqual(ops, ["conv2d", "conv2d"])
        self.matches(Net(conv, lambda m, y: torch.einsum("nchw,co->nohw", y, m.mix.T)))
        ops = self.matches(Net(conv, lambda m, y: torch.einsum("bc,oc->bo", y.mean((2, 3)), m.mix)))
        self.assertEqual(ops[-1], "fully_connected")

    def test_other_einsums_refused(self):
        conv = nn.Conv2d(3, 6, 3, padding=1)
        for eq, operand in (("bchw,hw->bc", lambda m: m.mix), ("bchw,bchw->bhw", None)):
            fn = (lambda m, y, eq=eq, o=operand: torch.einsum(eq, y, o(m) if o else y))
            with self.assertRaises(convert.ConvertError) as ctx:
                convert_module(Net(conv, fn).eval(), (1, 3, 5, 6))
            self.assertIn("(Einsum)", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
