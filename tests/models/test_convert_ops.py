"""Converter checks of concat, the global max pools and the GELU / ELU /
softplus activations on small hand-built ONNX graphs: what each lowers to,
and that every refusal names the ONNX node. Numbers are checked end to end
by tests/node/models.test.mjs (the concat_max_gelu test model).

    /usr/bin/python3 tests/models/test_convert_ops.py
"""

import os
import sys
import unittest

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "models"))
import convert  # noqa: E402

X = (1, 4, 5, 5)


def model(nodes, out_shape, inits=(), in_shape=X):
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


def lowered(m):
    graph, _ = convert.convert_graph(m)
    return [(n.op, n.act, len(n.inputs)) for n in graph.nodes], graph


class ConvertOps(unittest.TestCase):
    def refused(self, m, *needles):
        with self.assertRaises(convert.ConvertError) as ctx:
            convert.convert_graph(m)
        for needle in needles:
            self.assertIn(needle, str(ctx.exception))

    def test_global_max_pool(self):
        ops, g = lowered(model([helper.make_node("GlobalMaxPool", ["x"], ["y"])],
                               (1, 4, 1, 1)))
        self.assertEqual(ops, [("global_max_pool", "none", 1)])
        self.assertEqual(g.shapes[g.output], (1, 1, 1, 4))

    def test_reduce_max(self):
        for keep, shape in ((0, (1, 4)), (1, (1, 4, 1, 1))):
            node = helper.make_node("ReduceMax", ["x"], ["y"], axes=[2, 3], keepdims=keep)
            self.assertEqual(lowered(model([node], shape))[0],
                             [("global_max_pool", "none", 1)])
        bad = helper.make_node("ReduceMax", ["x"], ["y"], name="rmax", axes=[1])
        self.refused(model([bad], (1, 1, 5, 5)), "node 'rmax' (ReduceMax)",
                     "only the max over the spatial axes")

    def test_full_window_max_pool(self):
        node = helper.make_node("MaxPool", ["x"], ["y"], kernel_shape=[5, 5])
        self.assertEqual(lowered(model([node], (1, 4, 1, 1)))[0],
                         [("global_max_pool", "none", 1)])

    def test_concat(self):
        relu = helper.make_node("Relu", ["x"], ["r"])
        cat = helper.make_node("Concat", ["x", "r", "x"], ["y"], axis=1)
        ops, g = lowered(model([relu, cat], (1, 12, 5, 5)))
        self.assertEqual(ops, [("activation", "relu", 1), ("concat", "none", 3)])
        self.assertEqual(g.shapes[g.output], (1, 5, 5, 12))
        many = helper.make_node("Concat", ["x"] * 30, ["y"], axis=-3)
        ops, g = lowered(model([many], (1, 120, 5, 5)))
        self.assertEqual(ops, [("concat", "none", 13)] * 2 + [("concat", "none", 6)])
        self.assertEqual(g.shapes[g.output], (1, 5, 5, 120))

    def test_concat_refusals(self):
        wrong_axis = helper.make_node("Concat", ["x", "x"], ["y"], name="c", axis=2)
        self.refused(model([wrong_axis], (1, 4, 10, 5)), "node 'c' (Concat)",
                     "only concatenation along channels")
        const = helper.make_node("Concat", ["x", "k"], ["y"], name="ck", axis=1)
        self.refused(model([const], (1, 8, 5, 5), [("k", np.zeros(X))]),
                     "node 'ck' (Concat)", "is a constant")
        pool = helper.make_node("GlobalMaxPool", ["x"], ["p"])
        mixed = helper.make_node("Concat", ["x", "p"], ["y"], name="cm", axis=1)
        self.refused(model([pool, mixed], (1, 8, 5, 5)), "node 'cm' (Concat)",
                     "does not match")

    def test_elu_softplus(self):
        elu = helper.make_node("Elu", ["x"], ["e"], alpha=0.3)
        sp = helper.make_node("Softplus", ["e"], ["y"])
        _, g = lowered(model([elu, sp], X))
        self.assertEqual([(n.act, round(n.act_a, 6)) for n in g.nodes],
                         [("elu", 0.3), ("softplus", 0.0)])

    def gelu_nodes(self, k=2 ** 0.5):
        return [helper.make_node("Div", ["x", "k"], ["d"]),
                helper.make_node("Erf", ["d"], ["e"], name="erf"),
                helper.make_node("Add", ["e", "one"], ["a"]),
                helper.make_node("Mul", ["x", "a"], ["m"]),
                helper.make_node("Mul", ["m", "half"], ["y"])], \
            [("k", k), ("one", 1.0), ("half", 0.5)]

    def test_gelu(self):
        nodes, inits = self.gelu_nodes()
        self.assertEqual(lowered(model(nodes, X, inits))[0],
                         [("activation", "gelu", 1)])
        nodes, inits = self.gelu_nodes(k=2.0)
        self.refused(model(nodes, X, inits), "node 'erf' (Erf)",
                     "Erf is supported only as part of GELU")

    def test_tanh_not_gelu_stays_tanh(self):
        nodes = [helper.make_node("Mul", ["x", "b"], ["u"]),
                 helper.make_node("Tanh", ["u"], ["y"])]
        ops, _ = lowered(model(nodes, X, [("b", (2 / np.pi) ** 0.5)]))
        self.assertEqual(ops, [("mul", "tanh", 1)])


if __name__ == "__main__":
    unittest.main()
