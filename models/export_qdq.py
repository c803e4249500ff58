"""Export one graph of an int8 `.dyce` package as an ONNX QDQ model, the
form onnxruntime fuses into its integer kernels (QLinearConv, QGemm, ...),
so that peers run the same quantized network as dyce.

    /usr/bin/python3 models/export_qdq.py IN-int8.dyce -o OUT.onnx [--graph NAME]
        [--activations uint8|int8]

--graph NAME exports that graph and every graph on its source path (e.g.
`--graph head`: the backbone stages and the head); by default the only
graph of a package, else `head`. Input `input` float32 NCHW [1, C, H, W]
(the normalised package input), output `output` float32. A float package
exports too (plain float ONNX ops). See models/converter/qdq_onnx.py.
"""

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import onnx  # noqa: E402

from converter.qdq_onnx import ExportError, op_counts, qdq_model  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("package", help="input .dyce (int8: version 2)")
    parser.add_argument("-o", "--output", required=True, help="output .onnx")
    parser.add_argument("--graph", help="graph to export with its sources")
    parser.add_argument("--activations", choices=("uint8", "int8"),
                        default="uint8",
                        help="ONNX type of the int8 tensors (uint8: each "
                        "value and zero point + 128, the same reals; what "
                        "onnxruntime's x86 / wasm kernels take)")
    args = parser.parse_args(argv)
    prog = os.path.basename(sys.argv[0])
    try:
        with open(args.package, "rb") as f:
            model = qdq_model(f.read(), args.graph, args.activations)
    except (ExportError, ValueError, OSError) as err:
        print(f"{prog}: {args.package}: {err}", file=sys.stderr)
        return 1
    onnx.save(model, args.output)
    counts = ", ".join(f"{k} {v}" for k, v in op_counts(model).items())
    print(f"{args.output}: {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
