"""Quantize an existing `.dyce` package to int8 (docs/INT8.md).

    /usr/bin/python3 models/quantize.py IN.dyce -o OUT.dyce --calibration DIR
        [--calibration-count N] [--calibration-method minmax|percentile]
        [--percentile P] [--keep-float GRAPH,GRAPH/NODE,...] [--dump]

Every graph (savers, stages, exits, head) is quantized with activation
ranges measured on N training images of DIR (an IDX directory or an image
folder), preprocessed as the package's input spec says; LABL, INPT, LEVL
and CONF are kept. The summary names every node that stays float and why.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from converter.quantize_cli import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
