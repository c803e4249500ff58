"""ONNX files as users export them: every small test model
(tests/models/export_models.py) at opsets 11, 12 (upgraded to 13 by
onnx.version_converter, as torch.onnx's long-time default of 11 needs)
and 14 to 17, as newer PyTorch
exports by default, and with dynamic axes (a symbolic batch, as the
PyTorch tutorial exports; symbolic height and width, given with --size),
converts and gives PyTorch's numbers in the converter's executor. The
engine runs the opset-13 exports (tests/node/models.test.mjs); what
differs between opsets is the ONNX graph the converter reads (opset 17:
one LayerNormalization node instead of the ReduceMean chain, norms.py).
And whatever a user brings, a fault of the converter's own code is one
error line naming the node, not a traceback.

    /usr/bin/python3 tests/models/test_convert_opsets.py
"""

import os
import sys
import tempfile
import unittest
import warnings

import numpy as np
import onnx
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "models"))
import convert  # noqa: E402
import dyce_format  # noqa: E402
import export_models  # noqa: E402
from converter.executor import Runner  # noqa: E402

OPSETS = (11, 12, 14, 15, 16, 17)
# Opsets 11 and 12 go through onnx.version_converter (to 13). Its Softmax
# adapter needs shapes that these models' softmaxes over computed reshapes
# do not have, or leaves a form the converter cannot take; opset 11 has no
# einsum. Each is refused in one line (checked), not converted wrongly.
OLD_OPSET_REFUSED = {"axis_ops", "mixing_ops", "window_ops"}
# The torchvision networks take most of the time and add no op the small
# nets lack; the opset-13 suite runs them.
SMALL = [n for n, (_, shape, _) in export_models.MODELS.items() if shape[2] < 64]


def export(name, seed, opset, path):
    """(input, PyTorch's output) of test model `name`, written to path."""
    build, shape, keep_bn = export_models.MODELS[name]
    torch.manual_seed(seed)
    model = build().eval()
    with torch.no_grad():
        export_models.randomize_batchnorm(model, shape, torch.Generator().manual_seed(seed))
        x = torch.randn(shape)
        y = model(x).numpy()
    mode = (torch.onnx.TrainingMode.PRESERVE if keep_bn else torch.onnx.TrainingMode.EVAL)
    with warnings.catch_warnings(), torch.enable_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, x.clone().requires_grad_(), path, opset_version=opset,
                          do_constant_folding=True, training=mode)
    return x.numpy(), y


class ConvertOpsets(unittest.TestCase):
    def test_small_models_at_every_opset(self):
        tmp = tempfile.mkdtemp()
        layer_norm_nodes = 0
        for opset in OPSETS:
            for seed, name in enumerate(SMALL):
                with self.subTest(opset=opset, model=name):
                    path = os.path.join(tmp, f"{name}-{opset}.onnx")
                    if opset < 13 and name in OLD_OPSET_REFUSED:
                        self.assert_refused_or_unexported(name, seed, opset, path)
                        continue
                    x, want = export(name, seed, opset, path)
                    layer_norm_nodes += sum(n.op_type == "LayerNormalization"
                                            for n in onnx.load(path).graph.node)
                    package = convert.convert_graphs([("main", path, None)])
                    graphs, *_ = dyce_format.read_package(package)
                    got = Runner(graphs).run(x)[0].numpy().reshape(want.shape)
                    scale = float(np.abs(want).max())
                    np.testing.assert_allclose(got, want, rtol=0, atol=2e-6 * scale)
        # The opset-17 exports did exercise the single-node LayerNorm.
        self.assertGreater(layer_norm_nodes, 0)

    def assert_refused_or_unexported(self, name, seed, opset, path):
        """PyTorch cannot export it at this opset, or the converter refuses it
        in one line (a ConvertError), never converts it wrongly."""
        try:
            export(name, seed, opset, path)
        except torch.onnx.errors.UnsupportedOperatorError:
            return
        with self.assertRaises(convert.ConvertError):
            convert.convert_graphs([("main", path, None)])

    def test_dynamic_axes(self):
        net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, 2), torch.nn.ReLU(),
                                  torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(),
                                  torch.nn.Linear(8, 5)).eval()
        tmp = tempfile.mkdtemp()
        for axes, size in (({0: "batch"}, None), ({0: "batch", 2: "h", 3: "w"}, (13, 9))):
            path = os.path.join(tmp, f"dyn{len(axes)}.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(net, torch.randn(2, 3, 11, 11), path, opset_version=17,
                                  input_names=["x"], output_names=["y"],
                                  dynamic_axes={"x": axes, "y": {0: "batch"}})
            if size:
                with self.assertRaises(convert.ConvertError) as ctx:
                    convert.convert_graphs([("main", path, None)])
                self.assertIn("input 'x' has symbolic sizes ('batch', 3, 'h', 'w'): the "
                              "batch is taken as 1, give the height and width with --size H,W",
                              str(ctx.exception))
            else:   # fixed height and width: --size cannot change them, and says so
                with self.assertRaises(convert.ConvertError) as ctx:
                    convert.convert_graphs([("main", path, None)], sizes=(13, 9))
                self.assertIn("--size 13,9: input 'x' is fixed at 11x11", str(ctx.exception))
            graphs, *_ = dyce_format.read_package(
                convert.convert_graphs([("main", path, None)], sizes=size))
            x = torch.randn((1, 3) + (size or (11, 11)))
            got = Runner(graphs).run(x.numpy())[0].numpy().reshape(-1)
            want = net(x).detach().numpy().reshape(-1)
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)

    def test_channels_last_input(self):
        # A model whose input is an NHWC image it transposes first (tf2onnx's
        # Keras models, a PyTorch forward starting with x.permute(0, 3, 1, 2)):
        # the package takes the image (1, C, H, W) as any other.
        class Nhwc(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.conv, self.fc = torch.nn.Conv2d(3, 6, 3), torch.nn.Linear(6, 4)

            def forward(self, x):
                return self.fc(self.conv(x.permute(0, 3, 1, 2)).mean((2, 3)))

        net = Nhwc().eval()
        path = os.path.join(tempfile.mkdtemp(), "nhwc.onnx")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, torch.randn(1, 12, 10, 3), path, opset_version=13)
        package = convert.convert_graphs([("main", path, None)])
        graphs, spec, *_ = dyce_format.read_package(package)
        self.assertEqual(graphs[0].shapes[graphs[0].input], (1, 12, 10, 3))
        x = torch.randn(1, 12, 10, 3)
        got = Runner(graphs).run(x.permute(0, 3, 1, 2).numpy())[0].numpy().reshape(-1)
        np.testing.assert_allclose(got, net(x).detach().numpy().reshape(-1), rtol=1e-5, atol=1e-6)

    def test_a_converter_bug_is_one_line_naming_the_node(self):
        # An exception of the converter's own code (a form nobody foresaw)
        # reaches the user as a ConvertError naming the node, not a traceback.
        from unittest import mock

        from converter import graph as graph_module
        from onnx import TensorProto, helper
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 4])
        node = helper.make_node("Relu", ["x"], ["y"], name="act")
        m = helper.make_model(helper.make_graph([node], "g", [x], [y]),
                              opset_imports=[helper.make_opsetid("", 13)])
        for target, error, needle in (
                ("lower_node", KeyError("t7"), "node 'act' (Relu): the converter failed on "
                 "it (KeyError: 't7'); this is a converter bug"),
                ("_to_graph", IndexError("i"), "the converter failed finishing the graph "
                 "(IndexError: i)")):
            with mock.patch.object(graph_module, target, side_effect=error), \
                    self.assertRaises(convert.ConvertError) as ctx:
                convert.convert_graph(m)
            self.assertIn(needle, str(ctx.exception))

    def test_recurrent_and_odd_pads_refused_saying_what(self):
        """A GRU is refused as what it is (not explained as attention's
        token layout); a pad of another axis names that axis."""
        from onnx import TensorProto, helper, numpy_helper
        ints = lambda name, v: numpy_helper.from_array(np.array(v, np.int64), name)  # noqa: E731

        def refused(nodes, out_shape, inits, *needles):
            graph = helper.make_graph(
                nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 5, 5])],
                [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)], inits)
            with self.assertRaises(convert.ConvertError) as ctx:
                convert.convert_graph(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]))
            for needle in needles:
                self.assertIn(needle, str(ctx.exception))
        zeros = lambda name, *shape: numpy_helper.from_array(np.zeros(shape, np.float32), name)  # noqa: E731
        refused([helper.make_node("Reshape", ["x", "shape"], ["seq"]),
                 helper.make_node("GRU", ["seq", "w", "r"], ["y"], name="gru", hidden_size=2)],
                [4, 1, 1, 2], [ints("shape", [20, 1, 5]), zeros("w", 1, 6, 5), zeros("r", 1, 6, 2)],
                "node 'gru' (GRU)", "unsupported operator (recurrent layers")
        # LocalResponseNorm as torch exports it: the map made 5-D, padded along its channels
        refused([helper.make_node("Reshape", ["x", "shape"], ["x5"]),
                 helper.make_node("Pad", ["x5", "pads"], ["y"], name="pad")], [1, 1, 6, 5, 5],
                [ints("shape", [1, 1, 4, 5, 5]), ints("pads", [0, 0, 1, 0, 0, 0, 0, 1, 0, 0])],
                "node 'pad' (Pad)", "it pads axis 2 of a (1, 1, 4, 5, 5) tensor")

    def test_layer_normalization_training_outputs_are_refused(self):
        from onnx import TensorProto, helper
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 3, 4])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2, 3, 4])
        scale = helper.make_tensor("s", TensorProto.FLOAT, [4], [1.0] * 4)
        node = helper.make_node("LayerNormalization", ["x", "s"], ["y", "mean"],
                                name="ln", axis=-1)
        graph = helper.make_graph([node], "g", [x], [y], [scale])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
        path = os.path.join(tempfile.mkdtemp(), "ln.onnx")
        onnx.save(model, path)
        with self.assertRaises(convert.ConvertError) as ctx:
            convert.convert_graphs([("main", path, None)])
        self.assertIn("LayerNormalization", str(ctx.exception))

    def test_batch_norm_exported_in_training_mode_is_refused(self):
        """TrainingMode.TRAINING normalises by the batch: at opset 13 the
        BatchNormalization node says so only by its extra (batch statistics)
        outputs, from 14 on by training_mode=1 too. Both are refused; in
        eval mode the same net converts."""
        from torch import nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(),
                            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 5))
        x = torch.randn(1, 3, 8, 8)
        for opset, outputs in ((13, 5), (17, 3)):
            path = os.path.join(tempfile.mkdtemp(), "bn.onnx")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(net, x, path, opset_version=opset,
                                  training=torch.onnx.TrainingMode.TRAINING)
            with self.assertRaises(convert.ConvertError) as ctx:
                convert.convert_graphs([("main", path, None)])
            for needle in ("(BatchNormalization)", "training mode", f"{outputs} outputs", "model.eval()"):
                self.assertIn(needle, str(ctx.exception), opset)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(net.eval(), x, path, opset_version=opset)
            graphs, *_ = dyce_format.read_package(convert.convert_graphs([("main", path, None)]))
            got = Runner(graphs).run(x.numpy())[0].numpy().reshape(-1)
            np.testing.assert_allclose(got, net(x).detach().numpy().reshape(-1), rtol=2e-6, atol=1e-6)
            net.train()


if __name__ == "__main__":
    unittest.main()
