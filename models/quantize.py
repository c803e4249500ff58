"""Quantize an existing `.dyce` package to int8 (docs/INT8.md).

    /usr/bin/python3 models/quantize.py IN.dyce -o OUT.dyce --calibration DIR
        [--calibration-count N] [--calibration-method minmax|percentile|mse]
        [--percentile P] [--bias-correction on|off]
        [--keep-float GRAPH,GRAPH/NODE,...]
        [--search DATA [--records FILE] [--search-count N]
         [--val-fraction F] [--test-fraction F] [--test-count N]
         [--lambda-step X]] [--dump]

Every graph (savers, stages, exits, head) is quantized with activation
ranges measured on N training images of DIR (an IDX directory or an image
folder), preprocessed as the package's input spec says; LABL, INPT, LEVL
and CONF are kept. The summary names every node that stays float and why.
Biases of int8 conv / fc nodes are then corrected for their mean error on
the calibration images (--bias-correction, on by default).

With --search DATA, the int8 graphs' predictions (the exact int8 oracle,
bit-identical to the engine) on DATA's train (N images), val (carved from
train with the fixed seed, or DATA/val) and test splits are written as a
records file (converter/records_int8.py), and `build/native/dyce search`
replaces CONF with configurations searched on them.

Bad input is refused in one line before anything slow runs (docs/INT8.md):
a corrupt IN.dyce (dyce_format.FormatError; when the quantizer fails on
what that reader lets through, the engine loader's reason), a
--search DATA that cannot be read or whose classes are not the package's,
an option out of range or one that would be ignored (usage errors). OUT
(and the records) are written under temporary names and renamed into
place only when everything succeeded, so -o IN.dyce is safe.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from converter.quantize_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
