"""Converter checks of moves of values no view expresses
(models/converter/moves.py): nn.PixelShuffle / nn.PixelUnshuffle, a
transpose of H and W, a channel shuffle with H and W swapped on the way,
a reshape that regroups the values, concatenations and splits along
height, width or length, channel groups (1, R, C, H, W), each exported from PyTorch, converted,
and run by the converter's executor against PyTorch; a moved tensor that
something other than a reshape or transpose reads in a shape dyce cannot
hold is refused naming the node. The engine runs the same moves in the
mixing_ops test model (tests/node/models.test.mjs).

    /usr/bin/python3 tests/models/test_convert_moves.py
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


class Moved(nn.Module):
    """A convolution, `fn` of its output, and a 1 x 1 convolution of an
    image-shaped result (of `channels` channels)."""

    def __init__(self, fn, channels=None):
        super().__init__()
        self.fn, self.conv = fn, nn.Conv2d(3, 8, 3, 1, 1)
        self.after = nn.Conv2d(channels, 5, 1) if channels else None

    def forward(self, x):
        y = self.fn(self.conv(x))
        return self.after(y) if self.after else y


class ConvertMoves(unittest.TestCase):
    def matches(self, fn, channels=None, shape=(1, 3, 6, 4)):
        torch.manual_seed(0)
        return [n.op for n in run_both(Moved(fn, channels), shape)[0].nodes]

    def test_pixel_shuffle_and_unshuffle(self):
        ops = self.matches(nn.PixelUnshuffle(2), 32)
        self.assertIn("channel_gather", ops)
        self.matches(nn.PixelShuffle(2), 2)
        self.matches(lambda y: nn.PixelShuffle(2)(nn.PixelUnshuffle(2)(y)), 8)

    def test_transpose_of_height_and_width(self):
        self.matches(lambda y: y.transpose(2, 3), 8)
        self.matches(lambda y: y.permute(0, 2, 1, 3), 6)     # channels and rows

    def test_shuffles_and_regroupings(self):
        # a channel shuffle that also swaps H and W on the way
        self.matches(lambda y: y.view(1, 2, 4, 6, 4).permute(0, 2, 1, 4, 3).reshape(1, 8, 4, 6), 8)
        # values regrouped: (1, 8, 6, 4) -> (1, 4, 48) read as a sequence
        self.matches(lambda y: torch.relu(y.reshape(1, 4, 48)).mean(1))
        # and as channels of a Conv1d
        conv1d = nn.Conv1d(4, 2, 3).requires_grad_(False)
        self.matches(lambda y: conv1d(y.reshape(1, 4, 48)).flatten(1))

    def test_windows_of_a_channels_last_map(self):
        """Swin's steps around its attention: a channels-last map padded to
        whole windows, partitioned into windows (a batch of 4 windows of 9
        tokens) and put back."""
        def windows(y):
            x = F.pad(y.permute(0, 2, 3, 1), (0, 0, 0, 2))            # (1, 6, 6, 8)
            w = x.view(1, 2, 3, 2, 3, 8).permute(0, 1, 3, 2, 4, 5).reshape(4, 9, 8)
            back = w.view(1, 2, 2, 3, 3, 8).permute(0, 1, 3, 2, 4, 5).reshape(1, 6, 6, 8)
            return torch.relu(back).permute(0, 3, 1, 2)
        self.matches(windows, 8)

    def test_constant_and_minus_infinity_padding(self):
        """-inf padding before a max pool (timm's MaxPool2dSame) is the
        pool's own padding; another constant pads x - v with zeros, plus v."""
        ops = self.matches(lambda y: F.max_pool2d(F.pad(y, (0, 1, 0, 1), value=-float("inf")), 3, 2), 8)
        self.assertEqual(ops, ["conv2d", "max_pool", "conv2d"])
        self.matches(lambda y: F.pad(y, (1, 2, 0, 1), value=-1.5), 8)
        for fn, needle in ((lambda y: F.pad(y, (1, 1, 1, 1), value=-float("inf")) + 1,
                            "supported only before a max pool"),
                           (lambda y: F.pad(y, (1, 1, 1, 1), value=float("nan")),
                            "only constant, reflection and edge padding")):
            with self.assertRaises(convert.ConvertError) as ctx:
                convert_module(Moved(fn, 8), (1, 3, 6, 4))
            self.assertIn(needle, str(ctx.exception))

    def test_concat_and_split_along_height_and_width(self):
        """Coordinate attention: the map pooled along each axis, the two
        concatenated along H, a shared 1 x 1 convolution, split back (rows
        in order: one view, no gather); and concatenations / splits that do
        reorder the values (along W of a map with several rows, along L)."""
        def coord(y):
            h = F.adaptive_avg_pool2d(y, (6, 1))
            w = F.adaptive_avg_pool2d(y, (1, 4)).permute(0, 1, 3, 2)
            a, b = torch.split(torch.relu(torch.cat([h, w], 2)), [6, 4], dim=2)
            return y * a.sigmoid() * b.permute(0, 1, 3, 2).sigmoid()
        ops = self.matches(coord, 8)
        self.assertNotIn("channel_gather", ops[:ops.index("concat") + 2])
        self.matches(lambda y: torch.cat([y, torch.relu(y[..., :2])], 3).chunk(2, 3)[1], 8)
        self.matches(lambda y: torch.cat([y.flatten(2), y[:, :, :1].flatten(2)], 2)
                     .split([20, 8], 2)[0].mean(2))

    def test_channel_groups(self):
        """(1, R, C, H, W): SKNet's branches stacked, summed, weighted by a
        softmax across the branches; ResNeSt's split attention (the map
        reshaped into radix groups, their mean, its radix softmax of a
        view and transpose); a softmax within each group."""
        fc = nn.Linear(8, 16).requires_grad_(False)

        def sk(y):
            feats = torch.stack([y, torch.relu(y)], 1)                # (1, 2, 8, 6, 4)
            a = fc(feats.sum(1).mean((2, 3))).view(1, 2, 8, 1, 1).softmax(1)
            return (feats * a).sum(1)

        def resnest(y):
            g = y.reshape(1, 2, 4, 6, 4)
            a = fc(torch.cat([g.mean(1), g.mean(1)], 1).mean((2, 3)))[:, :8]
            a = a.view(1, 1, 2, 4).transpose(1, 2).softmax(1).reshape(1, 2, 4, 1, 1)
            return (g * a).sum(1, keepdim=True).squeeze(1)
        ops = self.matches(sk, 8)
        self.assertEqual(ops.count("softmax"), 1)
        self.matches(resnest, 4)
        self.matches(lambda y: y.view(1, 2, 4, 6, 4).softmax(2).view(1, 8, 6, 4), 8)
        with self.assertRaises(convert.ConvertError) as ctx:   # tiled across groups
            convert_module(Moved(lambda y: (y.view(1, 2, 4, 6, 4) * y[:, :4].unsqueeze(1))
                                 .sum(1)), (1, 3, 6, 4))
        self.assertIn("(Mul)", str(ctx.exception))

    def test_flips_repeats_and_padded_ceil_pools(self):
        # torch.flip of H or W (a Slice with step -1): the pixels reversed,
        # not dropped, whatever reads them next
        for axis in (2, 3):
            self.assertIn("gather", " ".join(self.matches(lambda y, a=axis: y.flip(a), 8)))
        self.matches(lambda y: y * y.flip(3), 8)
        self.matches(lambda y: torch.minimum(y, y.flip(2)), 8)
        # repeat of a many-channel map (Expand to its own shape, then Tile)
        self.matches(lambda y: y.repeat(1, 2, 1, 1), 16)
        self.matches(lambda y: y[:, :3].repeat(1, 2, 1, 1), 6)
        # AvgPool2d(padding, ceil_mode, count_include_pad): exported as a
        # zero Pad + a ceil-mode pool, whose last window PyTorch drops
        for size in ((1, 3, 15, 15), (1, 3, 14, 9)):
            self.matches(nn.AvgPool2d(2, 2, padding=1, ceil_mode=True), 8, shape=size)
        self.matches(nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), 8, shape=(1, 3, 15, 15))
        # ... and where its last window reaches past the padding, whose
        # cells PyTorch does not count: refused, not answered otherwise
        with self.assertRaises(convert.ConvertError) as ctx:
            convert_module(Moved(nn.AvgPool2d(3, 2, padding=1, ceil_mode=True), 8), (1, 3, 14, 9))
        self.assertIn("the windows past the input would count cells PyTorch does not", str(ctx.exception))

    def test_converter_output_the_engine_refuses_is_an_error(self):
        """A package the engine's loader refuses (here a channels-last mean
        the lowering gets wrong) stops convert.py with the engine's reason,
        not a file the user's page cannot load."""
        from converter import cli
        if not os.path.exists(cli.DYCE):
            self.skipTest("build/native/dyce is not built")
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            onnx_path, out = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "m.dyce")
            net = Moved(lambda y: y.transpose(1, 3).contiguous().mean(3, keepdim=True).mean((2, 3)))
            torch.onnx.export(net.eval(), torch.zeros(1, 3, 6, 6), onnx_path, opset_version=13)
            import contextlib
            import io
            err = io.StringIO()
            with contextlib.redirect_stderr(err):
                code = cli.main([onnx_path, "-o", out, "--mean", "0.5", "--std", "0.5"])
            # (when the lowering is fixed, this needs another model it gets wrong)
            self.assertEqual(code, 1, err.getvalue())
            self.assertIn("the engine refuses the package made of it", err.getvalue())
            self.assertFalse(os.path.exists(out))

    def test_moved_tensor_in_a_shape_dyce_cannot_hold(self):
        with self.assertRaises(convert.ConvertError) as ctx:
            convert_module(Moved(lambda y: torch.relu(y.view(1, 2, 4, 6, 2, 2))), (1, 3, 6, 4))
        self.assertIn("(Relu)", str(ctx.exception))
        self.assertIn("values moved by reshapes and transposes", str(ctx.exception))


if __name__ == "__main__":
    unittest.main()
