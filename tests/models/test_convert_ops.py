"""Converter checks of concat, the global max pools, the GELU / ELU /
softplus activations, the normalisations and the channel moves on small
hand-built ONNX graphs: what each lowers to, and that every refusal names
the ONNX node. Numbers are checked end to end by tests/node/models.test.mjs
(the concat_max_gelu, norm_ops and channel_ops test models).

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
        # Over the channels at each pixel (CBAM): channel_reduce; without keepdims
        # the reduced map's values moved (here one view: a sequence of H tokens)
        ops, g = lowered(model([helper.make_node("ReduceMax", ["x"], ["y"], axes=[1])], (1, 1, 5, 5)))
        self.assertEqual((ops, g.shapes[g.output]), ([("channel_reduce", "none", 1)], (1, 5, 5, 1)))
        ops, g = lowered(model([helper.make_node("ReduceMax", ["x"], ["y"], axes=[1], keepdims=0)],
                               (1, 5, 5)))
        self.assertEqual(([o[0] for o in ops], g.shapes[g.output]),
                         (["channel_reduce", "view"], (1, 1, 5, 5)))
        bad = helper.make_node("ReduceMax", ["x"], ["y"], name="rmax", axes=[1, 2], keepdims=1)
        self.refused(model([bad], (1, 1, 1, 5)), "node 'rmax' (ReduceMax)", "only the max over the spatial")

    def test_reduce_one_spatial_axis(self):
        """torch.max(x, dim=3), x.mean(2): a pool whose window is that axis;
        without keepdims the (1, C, H) result is the pool's (H, 1, C) bytes."""
        for op, axis, keep, shape, dyce in (
                ("ReduceMax", 3, 0, (1, 4, 5), (1, 5, 1, 4)),
                ("ReduceMean", 2, 0, (1, 4, 5), (1, 1, 5, 4)),
                ("ReduceMax", 3, 1, (1, 4, 5, 1), (1, 5, 1, 4))):
            node = helper.make_node(op, ["x"], ["y"], axes=[axis], keepdims=keep)
            ops, g = lowered(model([node], shape))
            self.assertEqual(ops, [("avg_pool" if op == "ReduceMean" else "max_pool", "none", 1)])
            self.assertEqual(g.shapes[g.output], dyce)

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
        wrong_axis = helper.make_node("Concat", ["x", "x"], ["y"], name="c", axis=0)
        self.refused(model([wrong_axis], (1, 4, 10, 5)), "node 'c' (Concat)",
                     "only concatenation along channels, height or width")
        const = helper.make_node("Concat", ["x", "k"], ["y"], name="ck", axis=1)
        self.refused(model([const], (1, 8, 5, 5), [("k", np.zeros((1, 2, 4, 4)))]),
                     "node 'ck' (Concat)", "only a (1, C, 5, 5) map can join")
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

    def test_sub_and_neg(self):
        """a - b of two tensors is a + (-b); k - x is (-x) + k; -x a mul; 1 / x."""
        pool = helper.make_node("GlobalAveragePool", ["x"], ["p"])
        sub = helper.make_node("Sub", ["p", "x"], ["y"])      # vector - map
        ops, g = lowered(model([pool, sub], X))
        self.assertEqual(ops, [("global_avg_pool", "none", 1), ("mul", "none", 1),
                               ("add", "none", 2)])
        self.assertEqual(float(g.nodes[1].weight[0]), -1.0)
        one_minus = helper.make_node("Sub", ["one", "x"], ["n"])
        neg = helper.make_node("Neg", ["n"], ["y"])
        ops, g = lowered(model([one_minus, neg], X, [("one", 1.0)]))
        self.assertEqual(ops, [("mul", "none", 1), ("add", "none", 1), ("mul", "none", 1)])
        div = helper.make_node("Div", ["one", "x"], ["y"], name="recip")  # 1 / x
        ops, _ = lowered(model([div], X, [("one", 1.0)]))
        self.assertEqual(ops, [("activation", "reciprocal", 1)])

    def resize_model(self, mode, coord, scales=None, sizes=None, out=(1, 4, 10, 10)):
        node = helper.make_node("Resize", ["x", "", "sc" if scales else "", "sz" if sizes else ""],
                                ["y"], name="rs", mode=mode, coordinate_transformation_mode=coord,
                                nearest_mode="floor")
        m = model([node], out)
        if scales:
            m.graph.initializer.append(numpy_helper.from_array(np.array(scales, np.float32), "sc"))
        if sizes:
            m.graph.initializer.append(numpy_helper.from_array(np.array(sizes, np.int64), "sz"))
        return m

    def test_resize(self):
        """F.interpolate's forms; the source step as PyTorch computes it."""
        from dyce_codes import P_RESIZE_ALIGN, P_RESIZE_INV_H, P_RESIZE_INV_W, P_RESIZE_MODE
        import dyce_format
        for mode, coord, scales, sizes, want in (
                ("nearest", "asymmetric", [1, 1, 2, 2], None, (0, 0, 0.5, 0.5)),
                ("linear", "half_pixel", None, [1, 4, 10, 10], (1, 0, 0.5, 0.5)),
                ("linear", "align_corners", None, [1, 4, 9, 3], (1, 1, 0.5, 2.0))):
            out = (1, 4) + tuple((sizes or [0, 0, 10, 10])[2:])
            ops, g = lowered(self.resize_model(mode, coord, scales, sizes, out))
            n = g.nodes[0]
            self.assertEqual(ops, [("resize", "none", 1)])
            got = (n.params[P_RESIZE_MODE], n.params[P_RESIZE_ALIGN],
                   dyce_format.bits_f32(n.params[P_RESIZE_INV_H]),
                   dyce_format.bits_f32(n.params[P_RESIZE_INV_W]))
            self.assertEqual(got, want)
            self.assertEqual(g.shapes[g.output], (1,) + out[2:] + (4,))

    def test_resize_refusals(self):
        self.refused(self.resize_model("cubic", "half_pixel", [1, 1, 2, 2]), "node 'rs' (Resize)",
                     "mode cubic with half_pixel coordinates")
        self.refused(self.resize_model("nearest", "asymmetric", [1, 2, 2, 2], out=(1, 8, 10, 10)),
                     "node 'rs' (Resize)", "only height and width")

    # -- normalisations (norms.py, group_norm)

    def layer_norm_nodes(self, axes, square="Pow"):
        sq = (helper.make_node("Pow", ["d", "two"], ["s"]) if square == "Pow"
              else helper.make_node("Mul", ["d", "d"], ["s"]))
        return [helper.make_node("ReduceMean", ["x"], ["m"], name="ln", axes=axes),
                helper.make_node("Sub", ["x", "m"], ["d"]), sq,
                helper.make_node("ReduceMean", ["s"], ["v"], axes=axes),
                helper.make_node("Add", ["v", "eps"], ["ve"]),
                helper.make_node("Sqrt", ["ve"], ["r"]),
                helper.make_node("Div", ["d", "r"], ["n"]),
                helper.make_node("Mul", ["n", "g"], ["gn"]),
                helper.make_node("Add", ["gn", "b"], ["y"])], \
            [("two", 2.0), ("eps", 1e-5)]

    def norm_node(self, g):
        (node,) = [n for n in g.nodes if n.op == "group_norm"]
        from dyce_codes import P_NORM_EPS, P_NORM_GROUPS
        import dyce_format
        return node, node.params[P_NORM_GROUPS], dyce_format.bits_f32(node.params[P_NORM_EPS])

    def test_layer_norm_whole_map_and_instance(self):
        for axes, groups in (([1, 2, 3], 1), ([-3, -2, -1], 1), ([2, 3], 4)):
            for square in ("Pow", "Mul"):
                nodes, inits = self.layer_norm_nodes(axes, square)
                gamma = np.arange(4) + 1.0
                ops, g = lowered(model(nodes, X, inits + [
                    ("g", gamma.reshape(4, 1, 1)), ("b", np.full((4, 1, 1), 0.5))]))
                # the per-channel Mul and Add fold into the group_norm
                self.assertEqual(ops, [("group_norm", "none", 1)])
                node, got_groups, eps = self.norm_node(g)
                self.assertEqual(got_groups, groups)
                self.assertAlmostEqual(eps, 1e-5, places=10)
                np.testing.assert_allclose(node.weight, gamma)
                np.testing.assert_allclose(node.bias, 0.5)

    def test_layer_norm_of_vector(self):
        nodes, inits = self.layer_norm_nodes([-1])
        ops, g = lowered(model(nodes, (1, 6), inits + [("g", np.ones(6)), ("b", np.zeros(6))],
                               in_shape=(1, 6)))
        self.assertEqual(ops, [("group_norm", "none", 1)])
        self.assertEqual(self.norm_node(g)[1], 1)

    def test_layer_norm_over_width_refused(self):
        nodes, inits = self.layer_norm_nodes([3])
        self.refused(model(nodes, X, inits + [("g", np.ones(5)), ("b", np.zeros(5))]),
                     "node 'ln (LayerNorm)'", "normalisation over axes [3] of a "
                     "(1, 4, 5, 5) tensor", "over the channels at each pixel")

    def test_layer_norm_over_channels(self):
        """ConvNeXt's channels_first LayerNorm: each pixel over its channels."""
        from dyce_codes import P_NORM_PIXELWISE
        nodes, inits = self.layer_norm_nodes([1])
        ops, g = lowered(model(nodes, X, inits + [("g", np.ones((4, 1, 1))),
                                                  ("b", np.zeros((4, 1, 1)))]))
        node, groups, _ = self.norm_node(g)
        self.assertEqual((ops, groups, node.params[P_NORM_PIXELWISE]),
                         ([("group_norm", "none", 1)], 1, 1))

    def channels_last_model(self, middle, out_shape=(1, 6, 5, 5)):
        """x.permute(0, 2, 3, 1) -> LayerNorm(C) -> `middle` -> permute back."""
        nodes, inits = self.layer_norm_nodes([-1])
        nodes = [helper.make_node("Transpose", ["x"], ["xl"], perm=[0, 2, 3, 1])] + [
            helper.make_node(n.op_type, ["xl" if i == "x" else i for i in n.input],
                             ["yl" if o == "y" else o for o in n.output], name=n.name,
                             **{a.name: helper.get_attribute_value(a) for a in n.attribute})
            for n in nodes]
        nodes += middle + [helper.make_node("Transpose", ["z"], ["y"], perm=[0, 3, 1, 2])]
        return model(nodes, out_shape, inits + [("g", np.arange(4) + 1.0), ("b", np.zeros(4)),
                                                ("w", np.ones((4, 6))), ("wb", np.arange(6.0))])

    def test_channels_last_block(self):
        """ConvNeXt's block: LayerNorm over the channels of the NHWC view,
        a Linear on them (a 1x1 convolution, its bias folded), GELU-free
        here; the permutes are the same tensor."""
        from dyce_codes import P_NORM_PIXELWISE
        middle = [helper.make_node("MatMul", ["yl", "w"], ["ml"]),
                  helper.make_node("Add", ["ml", "wb"], ["z"])]
        ops, g = lowered(self.channels_last_model(middle))
        self.assertEqual(ops, [("group_norm", "none", 1), ("conv2d", "none", 1)])
        self.assertEqual(g.nodes[0].params[P_NORM_PIXELWISE], 1)
        np.testing.assert_allclose(g.nodes[0].weight, [1, 2, 3, 4])
        np.testing.assert_allclose(g.nodes[1].bias, np.arange(6.0))
        self.assertEqual(g.shapes[g.output], (1, 5, 5, 6))

    def test_channels_last_refusals(self):
        middle = [helper.make_node("MatMul", ["yl", "w"], ["ml"]),
                  helper.make_node("GlobalAveragePool", ["ml"], ["z"], name="gap")]
        self.refused(self.channels_last_model(middle, (1, 6, 1, 1)),
                     "node 'gap' (GlobalAveragePool)", "is a channels-last view")

    def test_partial_layer_norm_left_to_lowering(self):
        nodes, inits = self.layer_norm_nodes([1, 2, 3])
        nodes[4] = helper.make_node("Mul", ["v", "eps"], ["ve"])   # not + eps
        self.refused(model(nodes, X, inits + [("g", np.ones((4, 1, 1))),
                                              ("b", np.zeros((4, 1, 1)))]),
                     "node 'ln' (ReduceMean)", "only the mean over the spatial axes")

    def group_norm_nodes(self, groups, scale):
        return [helper.make_node("Reshape", ["x", "gshape"], ["r"], name="gn"),
                helper.make_node("InstanceNormalization", ["r", "s", "t"], ["i"],
                                 epsilon=1e-3),
                helper.make_node("Shape", ["x"], ["xs"]),
                helper.make_node("Reshape", ["i", "xs"], ["n"]),
                helper.make_node("Relu", ["n"], ["y"])], \
            [("s", scale), ("t", np.zeros(groups))]

    def test_group_norm(self):
        nodes, inits = self.group_norm_nodes(2, [2.0, 3.0])
        shape_init = numpy_helper.from_array(np.array([1, 2, -1], np.int64), "gshape")
        m = model(nodes, X, inits)
        m.graph.initializer.append(shape_init)
        ops, g = lowered(m)
        self.assertEqual(ops, [("group_norm", "relu", 1)])
        node, groups, eps = self.norm_node(g)
        self.assertEqual(groups, 2)
        self.assertAlmostEqual(eps, 1e-3, places=8)
        np.testing.assert_allclose(node.weight, [2, 2, 3, 3])   # per group -> channel

    def test_group_norm_refusals(self):
        nodes, inits = self.group_norm_nodes(3, [1.0, 1.0, 1.0])
        m = model(nodes, X, inits)
        m.graph.initializer.append(numpy_helper.from_array(np.array([1, 3, -1], np.int64), "gshape"))
        self.refused(m, "node 'gn (GroupNorm)'", "3 groups do not divide 4 channels")
        # (a Reshape to groups read by anything but the norm: a move of values)

    def test_instance_norm(self):
        node = helper.make_node("InstanceNormalization", ["x", "s", "t"], ["y"], epsilon=1e-4)
        ops, g = lowered(model([node], X, [("s", [1, 2, 3, 4]), ("t", [0, 0, 1, 1])]))
        self.assertEqual(ops, [("group_norm", "none", 1)])
        n, groups, _ = self.norm_node(g)
        self.assertEqual(groups, 4)
        np.testing.assert_allclose(n.bias, [0, 0, 1, 1])
        bad = helper.make_node("InstanceNormalization", ["x", "s", "t"], ["y"], name="in")
        self.refused(model([bad], X, [("s", [1, 2]), ("t", [0, 0])]),
                     "node 'in' (InstanceNormalization)", "input 1 of shape (2,), expected (4,)")

    def test_op_on_flattened_view_keeps_layout(self):
        """relu on x.flatten(2) is a 5x5x4 tensor, not 1x25x4 (the engine
        refused the package), and a per-position constant on it is laid
        out position-major as that tensor is."""
        nodes = [helper.make_node("Reshape", ["x", "flat"], ["f"]),
                 helper.make_node("Mul", ["f", "k"], ["m"]),
                 helper.make_node("Relu", ["m"], ["y"])]
        k = np.arange(25, dtype=np.float32)
        m = model(nodes, (1, 4, 25), [("k", k)])
        m.graph.initializer.append(numpy_helper.from_array(np.array([1, 4, -1], np.int64), "flat"))
        _, g = lowered(m)
        self.assertEqual(g.shapes[g.output], (1, 5, 5, 4))
        np.testing.assert_array_equal(g.nodes[0].weight, np.repeat(k, 4))

    # -- channel moves (channels.py, channel_gather)

    def gathered(self, g):
        return [list(map(int, n.weight)) for n in g.nodes if n.op == "channel_gather"]

    def slice_model(self, starts, ends, axes, steps=None, out=(1, 2, 5, 5)):
        inits = [("st", starts), ("en", ends), ("ax", axes)] + ([("sp", steps)] if steps else [])
        node = helper.make_node("Slice", ["x", "st", "en", "ax"] + (["sp"] if steps else []),
                                ["y"], name="sl")
        m = model([node], out)
        m.graph.ClearField("initializer")
        m.graph.initializer.extend(numpy_helper.from_array(np.asarray(v, np.int64), k)
                                   for k, v in inits)
        return m

    def test_slice_channels(self):
        _, g = lowered(self.slice_model([1], [3], [1]))
        self.assertEqual(self.gathered(g), [[1, 2]])
        _, g = lowered(self.slice_model([-1], [-5], [1], [-2], out=(1, 2, 5, 5)))
        self.assertEqual(self.gathered(g), [[3, 1]])
        # the batch axis taken whole, the channels in order: the input itself
        m = self.slice_model([0, 0], [1, 2 ** 62], [0, 1], out=X)
        self.refused(m, "is not computed from the input")

    def test_crop(self):
        # rows 1..3 of every channel: the map as one row, its values picked
        ops, g = lowered(self.slice_model([1], [4], [2], out=(1, 4, 3, 5)))
        self.assertEqual([o for o, _, _ in ops], ["view", "channel_gather", "view"])
        picked = np.asarray(g.nodes[1].weight)
        # whole pixels of 4 channels: an index per pixel (p[GATHER_BLOCK] = 4)
        self.assertEqual(g.nodes[1].params[0], 4)
        self.assertEqual(picked[:3].tolist(), [20, 24, 28])  # pixels (1, 0), (1, 1), (1, 2)
        self.assertEqual(picked.size, 3 * 5)
        self.refused(self.slice_model([1], [4], [0], out=(3, 4, 5, 5)),
                     "node 'sl' (Slice)", "slicing axis 0")

    def test_split(self):
        sizes = numpy_helper.from_array(np.array([1, 3], np.int64), "sizes")
        split = helper.make_node("Split", ["x", "sizes"], ["a", "b"], axis=1)
        mul = helper.make_node("Mul", ["b", "b"], ["y"])
        m = model([split, mul], (1, 3, 5, 5))
        m.graph.initializer.append(sizes)
        _, g = lowered(m)
        self.assertEqual(self.gathered(g), [[1, 2, 3]])   # 'a' is never read
        bad = helper.make_node("Split", ["x"], ["a", "b", "c"], name="sp", axis=1)
        self.refused(model([bad], (1, 1, 5, 5)), "node 'sp' (Split)",
                     "4 channels do not split into 3 equal parts")
        along_n = helper.make_node("Split", ["x"], ["a", "y"], name="sn", axis=0)
        self.refused(model([along_n], X), "node 'sn' (Split)",
                     "only along channels, height, width or length")
        odd_h = helper.make_node("Split", ["x"], ["a", "y"], name="sh", axis=2)
        self.refused(model([odd_h], (1, 3, 5, 4)), "node 'sh' (Split)",
                     "5 positions along axis 2 do not split into 2 equal parts")

    def test_gather_list(self):
        idx = numpy_helper.from_array(np.array([3, -4, 3], np.int64), "idx")
        node = helper.make_node("Gather", ["x", "idx"], ["y"], name="ga", axis=1)
        m = model([node], (1, 3, 5, 5))
        m.graph.initializer.append(idx)
        self.assertEqual(self.gathered(lowered(m)[1]), [[3, 0, 3]])
        m.graph.initializer[0].CopyFrom(numpy_helper.from_array(np.array([4], np.int64), "idx"))
        self.refused(m, "node 'ga' (Gather)", "channel indices [4] outside 0..3")

    def test_expand_and_tile_channels(self):
        shape = numpy_helper.from_array(np.array([1, 3, 1, 1], np.int64), "s")
        for op, out in (("Expand", [[0, 0, 0]]), ("Tile", [[0, 0, 0]])):
            m = model([helper.make_node(op, ["x", "s"], ["y"], name="e")], (1, 3, 5, 5),
                      in_shape=(1, 1, 5, 5))
            m.graph.initializer.append(shape)
            self.assertEqual(self.gathered(lowered(m)[1]), out)
        wide = numpy_helper.from_array(np.array([1, 4, 2, 5], np.int64), "s")
        m = model([helper.make_node("Expand", ["x", "s"], ["y"], name="e")], (1, 4, 2, 5),
                  in_shape=(1, 4, 1, 5))
        m.graph.initializer.append(wide)
        self.refused(m, "node 'e' (Expand)", "only the channels of a one-channel tensor")

    def test_row_and_column_operands(self):
        """x * x.mean(3, keepdim=True): a (1, C, H, 1) operand, either side."""
        for axis, second in ((3, (1, 5, 1, 4)), (2, (1, 1, 5, 4))):
            nodes = [helper.make_node("ReduceMean", ["x"], ["m"], axes=[axis], keepdims=1),
                     helper.make_node("Mul", ["m", "x"], ["y"])]
            ops, g = lowered(model(nodes, X))
            mul = g.nodes[-1]
            self.assertEqual([g.shapes[t] for t in mul.inputs], [(1, 5, 5, 4), second])
        pool = helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[2, 2])
        add = helper.make_node("Add", ["x", "p"], ["y"], name="add")
        self.refused(model([pool, add], X), "node 'add' (Add)", "operand shapes (1, 4, 5, 5) and (1, 4, 2, 2)")

    def test_attention_pooling(self):
        """softmax over the positions of a one-channel map, the map times
        those weights per pixel, a sum over positions."""
        from dyce_codes import P_SOFTMAX_ALL
        flat = numpy_helper.from_array(np.array([1, -1, 25], np.int64), "flat")
        axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
        nodes = [helper.make_node("Conv", ["x", "w"], ["a"], kernel_shape=[1, 1]),
                 helper.make_node("Reshape", ["a", "flat"], ["af"]),
                 helper.make_node("Softmax", ["af"], ["s"], axis=-1),
                 helper.make_node("Reshape", ["x", "flat4"], ["xf"]),
                 helper.make_node("Mul", ["xf", "s"], ["m"]),
                 helper.make_node("ReduceSum", ["m", "axes"], ["y"], keepdims=0)]
        m = model(nodes, (1, 4), [("w", np.ones((1, 4, 1, 1)))])
        m.graph.initializer.extend([flat, axes, numpy_helper.from_array(
            np.array([1, 4, 25], np.int64), "flat4")])
        ops, g = lowered(m)
        self.assertEqual(ops, [("conv2d", "none", 1), ("softmax", "none", 1), ("mul", "none", 2),
                               ("global_avg_pool", "none", 1), ("mul", "none", 1)])
        self.assertEqual(g.nodes[1].params[P_SOFTMAX_ALL], 1)
        self.assertEqual([g.shapes[t] for t in g.nodes[2].inputs], [(1, 5, 5, 4), (1, 5, 5, 1)])
        self.assertEqual(float(g.nodes[4].weight[0]), 25.0)
        over_c = helper.make_node("Softmax", ["x"], ["y"], name="sm", axis=2)
        self.refused(model([over_c], X), "node 'sm' (Softmax)", "nor the positions of a one-channel map")

    def test_expand_as_of_a_channel_vector(self):
        """SE's x * y.expand_as(x): the vector, a per-channel operand."""
        shape = numpy_helper.from_array(np.array([1, 4, 5, 5], np.int64), "s")
        nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
                 helper.make_node("Expand", ["p", "s"], ["e"]),
                 helper.make_node("Mul", ["e", "x"], ["y"])]
        m = model(nodes, X)
        m.graph.initializer.append(shape)
        ops, g = lowered(m)
        self.assertEqual(ops, [("global_avg_pool", "none", 1), ("mul", "none", 2)])
        mul = g.nodes[1]
        self.assertEqual([g.shapes[t] for t in mul.inputs], [(1, 5, 5, 4), (1, 1, 1, 4)])
        nodes[2] = helper.make_node("Conv", ["e", "w"], ["y"], name="cv", kernel_shape=[1, 1])
        m = model(nodes, X, [("w", np.ones((4, 4, 1, 1)))])
        m.graph.initializer.append(shape)
        self.refused(m, "node 'cv' (Conv)", "only a Mul or Add can take it")

    def test_pad_before_max_pool_is_a_convolution_by_one(self):
        pads = numpy_helper.from_array(np.array([0, 0, 1, 2, 0, 0, 1, 2], np.int64), "p")
        nodes = [helper.make_node("Pad", ["x", "p"], ["q"]),
                 helper.make_node("MaxPool", ["q"], ["y"], kernel_shape=[2, 2], strides=[2, 2])]
        m = model(nodes, (1, 4, 3, 4))
        m.graph.initializer.append(pads)
        ops, g = lowered(m)
        self.assertEqual(ops, [("conv2d", "none", 1), ("max_pool", "none", 1)])
        conv = g.nodes[0]
        self.assertTrue(np.all(conv.weight == 1) and conv.weight.shape == (4, 1, 1, 1))
        self.assertEqual(conv.params[4:8], [1, 2, 1, 2])   # top, left, bottom, right

    def test_channel_shuffle(self):
        shape5 = numpy_helper.from_array(np.array([1, 2, 2, 5, 5], np.int64), "s5")
        shape4 = numpy_helper.from_array(np.array([1, 4, 5, 5], np.int64), "s4")
        nodes = [helper.make_node("Reshape", ["x", "s5"], ["v"], name="shuf"),
                 helper.make_node("Transpose", ["v"], ["t"], perm=[0, 2, 1, 3, 4]),
                 helper.make_node("Reshape", ["t", "s4"], ["y"])]
        m = model(nodes, X)
        m.graph.initializer.extend([shape5, shape4])
        ops, g = lowered(m)
        self.assertEqual(ops, [("channel_gather", "none", 1)])
        self.assertEqual(self.gathered(g), [[0, 2, 1, 3]])
        # a slice of the shuffled channels: one gather
        idx = numpy_helper.from_array(np.array([3, 1], np.int64), "idx")
        m = model(nodes[:2] + [helper.make_node("Reshape", ["t", "s4"], ["u"]),
                               helper.make_node("Gather", ["u", "idx"], ["y"], axis=1)],
                  (1, 2, 5, 5))
        m.graph.initializer.extend([shape5, shape4, idx])
        self.assertEqual(self.gathered(lowered(m)[1]), [[3, 2]])
        # other moves on the way: test_convert_moves.py


if __name__ == "__main__":
    unittest.main()
