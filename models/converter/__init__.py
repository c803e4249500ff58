"""ONNX (opset 13..17, as torch.onnx.export writes it) -> `.dyce` packages.

models/convert.py is the command line and the import path other code uses
(`import convert`); this package is the converter, one stage per module:

    common.py    limits, ConvertError, the op under construction
    shapes.py    NCHW -> NHWC shapes, reshape targets, padding, windows
    state.py     the lowering state (constants, shapes, aliases, ops)
    folding.py   constant subgraphs evaluated with numpy
    rewrite.py   chains of ONNX nodes that are one dyce op -> one node
    norms.py     GroupNorm / LayerNorm chains and their lowering
    channels.py  channel slices, splits, index lists, shuffles
    layouts.py   channels-last views (x.permute(0, 2, 3, 1)): ConvNeXt
    attention.py token sequences and attention heads (ViT, MultiheadAttention)
    pixels.py    crops, strided slices of H and W, reflection / edge padding
    moves.py     reshapes and transposes no view expresses (PixelShuffle,
                 PixelUnshuffle, H and W swapped): one gather of values
    resize.py    F.interpolate / nn.Upsample: nearest, bilinear
    elementwise.py  add, mul, sub, div, max, min, pow with their operand shapes
    lowering.py  ONNX nodes -> dyce ops
    fusion.py    rewrites: pads, GELU / SiLU patterns, BatchNorm and bias
                 folding, scale and shift into a group_norm, activation
                 fusion; pruning
    graph.py     convert_graph: one ONNX model -> one dyce_format.Graph
    package.py   convert_graphs: graphs + input spec, labels, width levels
                 -> package bytes
    cli.py       main (the command line)

The bytes follow models/dyce_format.py, whose codes come from
spec/codes.json (models/dyce_codes.py).
"""

import glob
import os

from .cli import main
from .common import ConvertError
from .graph import convert_graph
from .package import convert_graphs, read_labels

_HERE = os.path.dirname(os.path.abspath(__file__))
# Every source file the converter's output depends on (for build caches).
SOURCES = sorted(glob.glob(os.path.join(_HERE, "*.py"))) + [
    os.path.join(os.path.dirname(_HERE), name)
    for name in ("convert.py", "dyce_format.py", "dyce_codes.py")]

__all__ = ["ConvertError", "SOURCES", "convert_graph", "convert_graphs",
           "main", "read_labels"]
