#!/usr/bin/python3
"""Weight-only float16: halve a float package's download (docs/INT8.md).

    /usr/bin/python3 models/fp16.py IN.dyce -o OUT.dyce

Every float node's weights and bias are stored as IEEE binary16 (version 2
of the format); the engine decodes them to float32 once, at load, and runs
the same float kernels, so the answers are those of a float package whose
weights are the float16-rounded values. For models that do not quantize
well to int8. Int8 nodes, channel_gather's indices, the input spec, labels, width levels and
configurations are kept as they are (the configurations were searched on
the float32 weights: say so, or search again on the new package's records).
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dyce_format as fmt  # noqa: E402
from converter.common import ConvertError  # noqa: E402
from converter.quantize_cli import Staged  # noqa: E402


def to_f16(data):
    """(bytes of the float16 package, nodes converted, largest |weight|)."""
    graphs, spec, labels, _ = fmt.read_package(data)
    converted, peak = 0, 0.0
    for g in graphs:
        for k, n in enumerate(g.nodes):
            if n.weight is None or n.weight.dtype != np.float32 \
                    or n.op == "channel_gather":
                continue  # int8 nodes keep their weights, a gather its indices
            top = float(np.abs(n.weight).max(initial=0))
            if top > 65504 or (n.bias is not None and float(np.abs(n.bias).max(initial=0)) > 65504):
                raise ValueError(f"graph '{g.name}' node {k} ({n.op}): a weight of magnitude "
                                 f"{top:.6g} does not fit float16 (|x| <= 65504); keep this "
                                 "package float32")
            peak = max(peak, top)
            n.weight = n.weight.astype(np.float16)
            if n.bias is not None:
                n.bias = n.bias.astype(np.float16)
            converted += 1
    sections = fmt.read_sections(data)
    extra = [(tag, body) for tag, body in sections.items() if tag == "CONF"]
    out = fmt.write_package(graphs, spec, labels, fmt.read_levels(data), extra)
    return out, converted, peak


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("package", help="input .dyce")
    ap.add_argument("-o", "--output", required=True, help="output .dyce")
    a = ap.parse_args(argv)
    try:
        with open(a.package, "rb") as f:
            data = f.read()
        out, converted, peak = to_f16(data)
    except (OSError, ValueError) as e:
        print(f"fp16: error: {a.package}: {e}", file=sys.stderr)
        return 1
    if not converted:
        print(f"fp16: error: {a.package}: no float32 weights to halve (an int8 or float16 "
              "package already?); nothing written", file=sys.stderr)
        return 1
    try:
        with Staged() as staged:   # no half-written file, -o a folder said
            with open(staged.path(a.output), "wb") as f:
                f.write(out)
            staged.commit()
    except (OSError, ConvertError) as e:
        print(f"fp16: error: {e}", file=sys.stderr)
        return 1
    print(f"{converted} nodes to float16 (largest |weight| {peak:.4g}); "
          f"{len(data)} -> {len(out)} bytes ({len(out) / len(data):.3f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
