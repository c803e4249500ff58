"""Convert ONNX models exported by torch.onnx.export into `.dyce` packages.

    /usr/bin/python3 models/convert.py IN.onnx -o OUT.dyce [--labels FILE]
        [--name NAME] [--mean M1,M2,.. --std S1,.. --pixel-scale F] [--dump]
        [--size H,W]
        [--int8 --calibration DIR [--calibration-count N]
         [--calibration-method minmax|percentile] [--percentile P]
         [--keep-float NODE,...]]

The ONNX graph (opset 13..17, batch 1, NCHW float32; a symbolic batch
is taken as 1, symbolic height and width are given with --size) is lowered
to dyce's NHWC operators (docs/FORMAT.md): constant subgraphs are evaluated
with numpy, BatchNorm and bias Adds fold into the preceding conv / linear
layer, activations fuse into their producer, and Identity, Dropout and no-op
reshapes disappear. Anything that cannot be represented exactly raises
ConvertError naming the ONNX node and the reason; nothing is skipped.

--int8 then quantizes the package (models/converter/quantize.py, the same
as models/quantize.py; docs/INT8.md): activation ranges from N (default
500) training images of DIR, preprocessed as the input spec says.

`convert_graphs` builds a package of several graphs, each reading the package
input or the output of an earlier graph (GRPH.source).

The converter itself is the package models/converter/ (one module per stage);
this file is its command line and keeps `import convert` working.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from converter import (SOURCES, ConvertError, convert_graph,  # noqa: E402
                       convert_graphs, main, read_labels)

__all__ = ["SOURCES", "ConvertError", "convert_graph", "convert_graphs",
           "main", "read_labels"]

if __name__ == "__main__":
    sys.exit(main())
