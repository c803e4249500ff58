"""Converter checks of the elementwise ops (models/converter/elementwise.py)
on small PyTorch modules exported to ONNX: what converts gives PyTorch's
numbers in the converter's executor and lowers to the expected dyce ops
(the engine is checked by tests/node/models.test.mjs on the elementwise_ops
test model and by the C tests), what cannot be represented is refused
naming the ONNX node, and the int8 quantizer and the QDQ export keep max,
min, sqrt, log and reciprocal float.

    /usr/bin/python3 tests/models/test_convert_elementwise.py
"""

import os
import sys
import tempfile
import unittest
import warnings

import numpy as np
import torch
import torch.nn.functional as F
from onnx import TensorProto, helper
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import convert  # noqa: E402
import dyce_format  # noqa: E402
from dyce_codes import P_GROUPS  # noqa: E402
from converter import qdq_onnx  # noqa: E402
from converter.executor import Runner  # noqa: E402
from converter.quantize import quantize_graphs  # noqa: E402


class Net(nn.Module):
    """A convolution, then `fn` of its output (and of the module)."""

    def __init__(self, fn, cin=3, cout=4):
        super().__init__()
        self.fn, self.conv = fn, nn.Conv2d(cin, cout, 3, 1, 1)
        self.k = nn.Parameter(torch.randn(1, cout, 1, 1))

    def forward(self, x):
        return self.fn(self, self.conv(x))


def export(module, shape):
    path = os.path.join(tempfile.mkdtemp(), "m.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(module.eval(), torch.randn(shape), path, opset_version=13)
    return path


def convert_module(module, shape=(1, 3, 5, 6)):
    torch.manual_seed(0)
    return convert.convert_graphs([("main", export(module, shape), None)])


def run_both(module, shape, rtol=2e-6, atol=1e-6):
    """The module converted; its executor output on a random input is
    PyTorch's (asserted). Returns the converted graphs."""
    graphs, *_ = dyce_format.read_package(convert_module(module, shape))
    x = torch.randn(shape)
    got = Runner(graphs).run(x.numpy())[0].numpy().reshape(-1)
    want = module(x).detach().numpy().reshape(-1)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return graphs


class ConvertElementwise(unittest.TestCase):
    def matches(self, fn, shape=(1, 3, 5, 6), module=None):
        """Converts Net(fn) (or `module`); the executor gives PyTorch's
        output. Returns the dyce ops [(op, act, inputs)]."""
        graphs = run_both(module or Net(fn), shape)
        return [(n.op, n.act, len(n.inputs)) for n in graphs[0].nodes]

    def refused(self, fn, *needles, shape=(1, 3, 5, 6), module=None):
        with self.assertRaises(convert.ConvertError) as ctx:
            convert_module(module or Net(fn), shape)
        for needle in needles:
            self.assertIn(needle, str(ctx.exception))

    # -- activations

    def test_unary_ops_are_activations_fused_into_the_conv(self):
        for fn, act in ((torch.abs, "abs"), (torch.exp, "exp"),
                        (torch.reciprocal, "reciprocal"),
                        (lambda y: torch.sqrt(y * y), "sqrt"),
                        (lambda y: torch.log(y * y + 1), "log")):
            ops = self.matches(lambda m, y, fn=fn: fn(y))
            self.assertIn(act, [a for _, a, _ in ops])
            if act in ("abs", "exp", "reciprocal"):
                self.assertEqual(ops, [("conv2d", act, 1)])

    def test_powers(self):
        expect = {2: [("conv2d", "none", 1), ("mul", "none", 2)],
                  1: [("conv2d", "none", 1)],
                  0.5: [("conv2d", "abs", 1), ("activation", "sqrt", 1)],
                  -1: [("conv2d", "abs", 1), ("activation", "reciprocal", 1)],
                  -0.5: [("conv2d", "abs", 1), ("activation", "sqrt", 1),
                         ("activation", "reciprocal", 1)]}
        for e, ops in expect.items():
            fn = (lambda m, y, e=e: y ** e) if e in (1, 2) else (
                lambda m, y, e=e: y.abs() ** e)
            self.assertEqual(self.matches(fn), ops, f"x ** {e}")

    def test_divisions(self):
        ops = self.matches(lambda m, y: 2.0 / (y.abs() + 1))      # k / x
        self.assertEqual(ops[-1], ("mul", "none", 1))
        self.assertIn(("add", "reciprocal", 1), ops)
        self.assertEqual(self.matches(lambda m, y: 1 / y)[-1], ("conv2d", "reciprocal", 1))
        ops = self.matches(lambda m, y: y / (y.mean((2, 3), keepdim=True).abs() + 1))
        self.assertEqual(ops[-1], ("mul", "none", 2))             # x * (1 / v)

    def test_rsqrt_and_constants_folded(self):
        self.matches(lambda m, y: torch.rsqrt(y.abs() + 1))
        ops = self.matches(lambda m, y: y * torch.sqrt(torch.tensor(4.0)) +
                           torch.exp(torch.tensor([0.5])) * torch.abs(torch.tensor(-2.0)))
        self.assertEqual(ops, [("conv2d", "none", 1)])            # all folded into the conv

    # -- max / min

    def test_max_min_of_two_tensors_every_operand_shape(self):
        operands = {"same": lambda y: -y, "per channel": lambda y: y.mean((2, 3), keepdim=True),
                    "rows": lambda y: y.mean(3, keepdim=True),
                    "columns": lambda y: y.amax(2, keepdim=True),
                    "pixels": lambda y: y.mean(1, keepdim=True),
                    "expand_as": lambda y: y.mean((2, 3), keepdim=True).expand_as(y)}
        for name, other in operands.items():
            for f in (torch.maximum, torch.minimum):
                for first in (True, False):
                    fn = (lambda m, y, f=f, o=other, first=first:
                          f(y, o(y)) if first else f(o(y), y))
                    ops = self.matches(fn)
                    op = "max" if f is torch.maximum else "min"
                    self.assertEqual(ops[-1], (op, "none", 2), f"{op} {name}")

    def test_max_min_with_constants(self):
        ops = self.matches(lambda m, y: torch.max(y, m.k))        # per channel
        self.assertEqual(ops, [("conv2d", "none", 1), ("max", "none", 1)])
        full = torch.randn(1, 4, 5, 6)
        self.matches(lambda m, y: torch.minimum(full, y))
        self.assertEqual(self.matches(lambda m, y: torch.max(y, torch.tensor(0.0))),
                         [("conv2d", "relu", 1)])
        self.assertEqual(self.matches(lambda m, y: torch.min(y, torch.tensor(0.25))),
                         [("conv2d", "none", 1), ("min", "none", 1)])
        # torch.clamp written as a max and a min of scalars: one clip, fused
        for fn in (lambda m, y: torch.min(torch.max(y, torch.tensor(-0.5)), torch.tensor(0.5)),
                   lambda m, y: torch.max(torch.min(y, torch.tensor(0.5)), torch.tensor(-0.5)),
                   lambda m, y: torch.minimum(torch.relu(y), torch.tensor(0.5))):
            self.assertEqual(self.matches(fn), [("conv2d", "clip", 1)])

    def test_max_of_channels_last_views(self):
        def fn(m, y):
            t = y.permute(0, 2, 3, 1)
            return torch.maximum(t, t.abs().sqrt()).permute(0, 3, 1, 2)
        self.assertEqual(self.matches(fn)[-1], ("max", "none", 2))

    # -- F.normalize and norms

    def test_normalize_over_channels(self):
        ops = self.matches(lambda m, y: F.normalize(y, dim=1))
        self.assertIn(("channel_reduce", "none", 1), ops)
        self.assertIn(("mul", "sqrt", 1), ops)
        self.matches(lambda m, y: y / y.norm(dim=1, keepdim=True).clamp_min(1e-6))
        self.matches(lambda m, y: y / y.pow(2).sum(1, keepdim=True).sqrt())

    def test_normalize_of_a_vector(self):
        """An embedding: F.normalize of a (1, K) vector."""
        self.matches(lambda m, y: F.normalize(y.mean((2, 3)), dim=1))
        # ... and written out: a (1, K) vector over its (1, 1) norm
        def by_norm(m, y):
            v = y.mean((2, 3))
            return v / v.norm(dim=1, keepdim=True)
        self.matches(by_norm)
        self.matches(lambda m, y: y.mean((2, 3)) / torch.sqrt((y.mean((2, 3)) ** 2).sum(1, keepdim=True) + 1e-6))

    # -- refusals

    def test_other_exponents(self):
        """Integers up to 8 by multiplications (GeM pooling's x ** 3, negative
        x too), others as exp(c * log(x)); a computed exponent is refused."""
        self.assertEqual(self.matches(lambda m, y: y ** 3),
                         [("conv2d", "none", 1), ("mul", "none", 2), ("mul", "none", 2)])
        self.matches(lambda m, y: y ** -2 + y ** 8)
        self.assertIn(("mul", "exp", 1),     # log fused before, exp after the scale
                      self.matches(lambda m, y: (y.abs() + 0.1) ** 3.7 + (y.abs() + 0.2) ** -1.5))
        self.matches(lambda m, y: y.clamp(min=1e-6) ** (1 / 3))     # GeM's root
        self.refused(lambda m, y: y.abs() ** y, "(Pow)", "only a constant exponent")

    def test_norms_over_other_axes(self):
        self.refused(lambda m, y: F.normalize(y, dim=2), "(ReduceL2)",
                     "only the L2 norm over the channels", "axes [2]")
        self.refused(lambda m, y: F.normalize(y, dim=(2, 3)), "(ReduceL2)", "only the L2 norm")
        # the sum of squares over the positions: a global mean times H * W
        self.matches(lambda m, y: y.norm(dim=(2, 3)))

    def test_statistics_attention_modules(self):
        """Attention blocks users write by hand: SimAM (deviations from the
        mean over the positions), SRM (mean and x.std of the flattened map:
        a per-channel (1, C, 1) operand of (1, C, L), the element count
        from ReduceProd of the shape), an instance norm written with var,
        triplet attention (channel max / mean of permuted maps, without
        keepdim, the branches permuted back and added)."""
        def simam(m, y):
            d = (y - y.mean(dim=[2, 3], keepdim=True)).pow(2)
            return y * torch.sigmoid(d / (4 * (d.sum(dim=[2, 3], keepdim=True) / 29 + 1e-4)) + 0.5)
        self.matches(simam)
        self.matches(lambda m, y: torch.cat([y.flatten(2).mean(-1, keepdim=True),
                                             y.flatten(2).std(-1, keepdim=True)], -1).flatten(1))
        self.matches(lambda m, y: (y - y.mean((2, 3), keepdim=True))
                     / torch.sqrt(y.var((2, 3), keepdim=True, unbiased=False) + 1e-5))

        def gate(x):
            pooled = torch.cat((torch.max(x, 1)[0].unsqueeze(1), torch.mean(x, 1).unsqueeze(1)), 1)
            return x * torch.sigmoid(pooled.sum(1, keepdim=True))

        def triplet(m, y):
            a = gate(y.permute(0, 2, 1, 3).contiguous()).permute(0, 2, 1, 3)
            b = gate(y.permute(0, 3, 2, 1).contiguous()).permute(0, 3, 2, 1)
            return (gate(y) + a + b) / 3
        self.matches(triplet)

    def test_global_response_normalisation(self):
        """ConvNeXt V2's GRN on a channels-last map: the L2 norm over H and W
        of each channel, divided by its mean over the channels, times the
        map (operands per channel and per pixel of a channels-last map)."""
        def grn(m, y):
            x = y.permute(0, 2, 3, 1)
            gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)
            nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
            x = 0.5 * (x * nx) + 0.1 + x
            return (x * x.amax(-1, keepdim=True).sigmoid()).permute(0, 3, 1, 2)
        self.matches(grn)

    def test_constant_channels_concatenated(self):
        """CoordConv: coordinate maps (constants) concatenated with the
        computed map along channels."""
        def coord(m, y):
            # (expand_as(y[:, :1]) trips PyTorch 1.13's ONNX shape inference in
            # this plain export; the build's export of its traced stages takes
            # it: tests/build/user_blocks.test.mjs)
            yy = torch.linspace(-1, 1, 5).view(1, 1, 5, 1).expand(1, 1, 5, 6)
            xx = torch.linspace(-1, 1, 6).view(1, 1, 1, 6).expand(1, 1, 5, 6)
            return torch.cat([y, yy, xx], 1) * 2
        ops = self.matches(coord)
        self.assertEqual([o[0] for o in ops].count("concat"), 1)

    def test_unsupported_operands_refused(self):
        self.refused(lambda m, y: torch.maximum(y, y.amax(1, keepdim=True).mean(3, keepdim=True)), "(Max)",
                     "operand shapes (1, 4, 5, 6) and (1, 1, 5, 1)")
        self.refused(lambda m, y: torch.minimum(y.permute(0, 2, 3, 1), y), "(Min)",
                     "one operand is a channels-last view, the other is not",
                     shape=(1, 3, 4, 4))

    def test_max_of_three_inputs_refused(self):
        node = helper.make_node("Max", ["x", "x", "x"], ["y"], name="max3")
        graph = helper.make_graph(
            [node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, (1, 2, 3, 3))],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, (1, 2, 3, 3))])
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
        with self.assertRaises(convert.ConvertError) as ctx:
            convert.convert_graph(m)
        self.assertIn("node 'max3' (Max): Max of 3 inputs: only of one or two", str(ctx.exception))

    # -- int8: max, min, sqrt, log, reciprocal stay float

    def test_int8_narrow_groups_stay_float(self):
        """A grouped convolution of fewer than 8 input channels a group is
        slower in int8 than in float: it stays float; 8 a group and
        depthwise convolutions are int8."""
        module = nn.Sequential(nn.Conv2d(3, 16, 3, padding=1), nn.ReLU(),
                               nn.Conv2d(16, 16, 3, padding=1, groups=4), nn.ReLU(),
                               nn.Conv2d(16, 16, 3, padding=1, groups=2), nn.ReLU(),
                               nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.ReLU()).eval()
        graphs, *_ = dyce_format.read_package(convert_module(module, (1, 3, 8, 8)))
        x = torch.randn(8, 3, 8, 8)
        built, _, plan, _ = quantize_graphs(graphs, x.numpy(), bias_correction=0)
        g = built[0]
        convs = [("int8" if g.is_int8(n.output) else "float", n.params[P_GROUPS])
                 for n in g.nodes if n.op == "conv2d"]
        self.assertEqual(convs, [("int8", 1), ("float", 4), ("int8", 2), ("int8", 16)])
        self.assertTrue(any(r and "grouped convolution of 4 input channels a group stays float"
                            in r for r in plan[0]), plan[0])

    def test_int8_keeps_them_float(self):
        def fn(m, y):
            z = torch.maximum(torch.exp(y), y.abs())             # exp, abs: tables
            return torch.log(z + 1) + torch.minimum(z, m.k.abs()).sqrt() + 1 / (z + 1)
        module = Net(fn)
        graphs, *_ = dyce_format.read_package(convert_module(module))
        x = torch.randn(16, 3, 5, 6)
        built, _, plan, work = quantize_graphs(graphs, x.numpy(), bias_correction=0)
        g = built[0]
        kinds = {}
        for n in g.nodes:
            kind = "int8" if g.is_int8(n.output) else "float"
            kinds.setdefault(n.act if n.op == "activation" else n.op, set()).add(kind)
        self.assertEqual(kinds["max"], {"float"})
        self.assertEqual(kinds["min"], {"float"})
        self.assertEqual(kinds["exp"], {"int8"})
        self.assertEqual(kinds["conv2d"], {"int8"})
        reasons = [r for r in plan[0] if r]
        self.assertTrue(any("max stays float" in r for r in reasons), reasons)
        self.assertTrue(any("log has no int8 table" in r for r in reasons), reasons)
        y = Runner(built).run(x.numpy())[0]
        self.assertTrue(np.all(np.isfinite(y.numpy())))
        data = dyce_format.write_package(built, dyce_format.InputSpec(5, 6, 3, [0] * 3, [1] * 3))
        counts = qdq_onnx.op_counts(qdq_onnx.qdq_model(data))
        for op in ("Max", "Min", "Exp", "Abs", "Log", "Sqrt", "Reciprocal"):
            self.assertIn(op, counts)


if __name__ == "__main__":
    unittest.main()
