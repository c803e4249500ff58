"""What convert.py and fp16.py say about files that are not what they
should be: an empty file, another kind of file, a truncated one, a graph
whose nodes read what nothing makes or what a later node makes, an
initializer whose bytes do not fit its shape, a labels file with a BOM
or a label twice, a weight float16 cannot hold, a package with nothing
to halve, `-o` a folder — each one line, exit status 1, no file written.

    /usr/bin/python3 tests/models/test_convert_files.py
"""

import contextlib
import io
import os
import sys
import tempfile
import unittest

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "..", "models")]
import fp16  # noqa: E402
from converter import cli  # noqa: E402


def tiny(weight=None, order=None, drop_init=False):
    """x (1, 2, 4, 4) -> Conv 1x1 -> GlobalAveragePool -> Flatten: 3 logits."""
    w = np.ones((3, 2, 1, 1), np.float32) if weight is None else weight
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("GlobalAveragePool", ["c"], ["p"], name="pool"),
             helper.make_node("Flatten", ["p"], ["y"], name="flat")]
    nodes = [nodes[i] for i in order] if order else nodes
    inits = [] if drop_init else [numpy_helper.from_array(w, "w")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 3])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


class ConvertFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def run_main(self, main, argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(argv)
        return code, err.getvalue()

    def refused(self, onnx_bytes, needle, extra=()):
        src, out = self.path("refused.onnx"), self.path("refused.dyce")
        with open(src, "wb") as f:
            f.write(onnx_bytes)
        code, err = self.run_main(cli.main, [src, "-o", out, "--mean", "0.5", "--std", "0.5", *extra])
        self.assertEqual(code, 1, err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        self.assertIn(needle, err)
        self.assertFalse(os.path.exists(out))

    def test_files_that_are_not_onnx_models(self):
        good = tiny().SerializeToString()
        self.refused(b"", "an empty file, not an ONNX model")
        self.refused(b"\x89PNG\r\n\x1a\n" + bytes(range(40)), "not an ONNX model")
        self.refused(good[:len(good) // 2], "not an ONNX model, or a truncated one")

    def test_graphs_that_are_not_valid(self):
        self.refused(tiny(drop_init=True).SerializeToString(),
                     "node 'conv' (Conv) reads 'w', which no node, initializer or graph input makes")
        self.refused(tiny(order=[1, 0, 2]).SerializeToString(), "node 'pool' (GlobalAveragePool) "
                     "reads 'c', which a later node makes (the nodes are not in order")
        m = tiny()
        m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:-8]
        self.refused(m.SerializeToString(), "an initializer's data does not fit its shape")

    def test_labels_and_output_paths(self):
        src = self.path("m.onnx")
        onnx.save(tiny(), src)
        labels = self.path("labels.txt")
        with open(labels, "w", encoding="utf-8-sig") as f:   # with a BOM
            f.write("cat\ndog\nbird\n")
        code, err = self.run_main(cli.main, [src, "-o", self.path("m.dyce"), "--mean", "0.5",
                                             "--std", "0.5", "--labels", labels])
        self.assertEqual(code, 0, err)
        import dyce_format
        self.assertEqual(dyce_format.read_package(open(self.path("m.dyce"), "rb").read())[2],
                         ["cat", "dog", "bird"])
        with open(labels, "w") as f:
            f.write("cat\ndog\ncat\n")
        self.refused(tiny().SerializeToString(), "labels.txt:3: label 'cat' again (line 1)",
                     ("--labels", labels))
        code, err = self.run_main(cli.main, [src, "-o", self.dir, "--mean", "0.5", "--std", "0.5"])
        self.assertEqual(code, 1)
        self.assertIn("is a folder; give the package's file name", err)

    def test_old_opset_upsampling(self):
        """nn.Upsample exported at opset 9 (an Upsample node) is upgraded
        keeping what it computed (asymmetric, floor: nearest pixels), and
        refusals name the file's own nodes; opset 10's asymmetric bilinear
        Resize, which dyce does not compute, is refused, not run as
        PyTorch's half_pixel."""
        import torch
        from converter.graph import convert_graph

        class Up(torch.nn.Module):
            def __init__(self, mode):
                super().__init__()
                self.conv, self.mode = torch.nn.Conv2d(2, 3, 1), mode

            def forward(self, x):
                return torch.nn.functional.interpolate(self.conv(x), scale_factor=2, mode=self.mode)

        torch.manual_seed(0)
        src = self.path("up9.onnx")
        net = Up("nearest").eval()
        x = torch.randn(1, 2, 5, 4)
        torch.onnx.export(net, x, src, opset_version=9)
        self.assertEqual([n.op_type for n in onnx.load(src).graph.node].count("Upsample"), 1)
        graph, _ = convert_graph(src)
        from converter.executor import Runner
        got = Runner([graph]).run(x.numpy())[0].numpy().reshape(-1)
        np.testing.assert_allclose(got, net(x).detach().numpy().reshape(-1), rtol=1e-5, atol=1e-6)
        src10 = self.path("bl10.onnx")
        torch.onnx.export(Up("bilinear").eval(), x, src10, opset_version=10)
        self.refused(open(src10, "rb").read(), "(Resize): mode linear with asymmetric coordinates")

    def test_fp16_refusals(self):
        for weight, needle in ((np.full((3, 2, 1, 1), 1e5, np.float32),
                                "node 0 (conv2d): a weight of magnitude 100000 does not fit float16"),):
            src, pkg = self.path("big.onnx"), self.path("big.dyce")
            onnx.save(tiny(weight), src)
            self.assertEqual(self.run_main(cli.main, [src, "-o", pkg, "--mean", "0.5", "--std", "0.5"])[0], 0)
            code, err = self.run_main(fp16.main, [pkg, "-o", self.path("half.dyce")])
            self.assertEqual(code, 1)
            self.assertEqual(len(err.strip().splitlines()), 1, err)
            self.assertIn(needle, err)
            self.assertFalse(os.path.exists(self.path("half.dyce")))
        onnx.save(tiny(), src)
        self.run_main(cli.main, [src, "-o", pkg, "--mean", "0.5", "--std", "0.5"])
        self.assertEqual(self.run_main(fp16.main, [pkg, "-o", self.path("half.dyce")])[0], 0)
        code, err = self.run_main(fp16.main, [self.path("half.dyce"), "-o", self.path("quarter.dyce")])
        self.assertEqual(code, 1)
        self.assertIn("no float32 weights to halve", err)
        code, err = self.run_main(fp16.main, [pkg, "-o", self.dir])
        self.assertEqual(code, 1)
        self.assertIn("is a folder", err)


if __name__ == "__main__":
    unittest.main()
