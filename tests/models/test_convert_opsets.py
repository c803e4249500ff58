"""Every small test model (tests/models/export_models.py) exported at ONNX
opsets 14 to 17, as users of newer PyTorch export by default, converts and
gives PyTorch's numbers in the converter's executor. The engine runs the
opset-13 exports (tests/node/models.test.mjs); what differs between
opsets is the ONNX graph the converter reads (opset 17: one
LayerNormalization node instead of the ReduceMean chain, norms.py).

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

OPSETS = (14, 15, 16, 17)
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


if __name__ == "__main__":
    unittest.main()
