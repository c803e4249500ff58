"""ONNX export of every graph and conversion into one .dyce package.

Each graph of nets.graph_specs is exported alone (torch.onnx.export, opset 13,
eval mode, batch 1, constant folding) to WORK/onnx/<name>.onnx, then
models/convert.py's `convert_graphs` builds the package with the class labels
and the input spec (x·(1/255) − mean) / std. The package is read back
and its graph names, sources and MACs are checked against PyTorch's.
"""

import os


import convert  # models/convert.py (models/ is on sys.path)
from dyce_build import package as bpackage
from dyce_build.package import export_onnx

from . import data as fdata



def input_spec(data):
    """The package input spec: pixel_scale 1/255, the train mean and std."""
    return {"pixel_scale": 1.0 / 255.0, "mean": [data.mean], "std": [data.std]}


def convert_specs(specs, onnx_dir):
    """Export every graph; return convert_graphs' [(name, path, source)]."""
    os.makedirs(onnx_dir, exist_ok=True)
    out = []
    for name, module, source, shape in specs:
        path = os.path.join(onnx_dir, f"{name}.onnx")
        export_onnx(module, shape, path)
        out.append((name, path, source))
    return out


def check_package(raw, specs, data):
    """The package's graphs, sources, MACs, labels and input spec match."""
    bpackage.check(raw, specs, fdata.LABELS, input_spec(data))


def build(specs, data, onnx_dir, path):
    """Export, convert, write and check the package; return its size."""
    raw = convert.convert_graphs(convert_specs(specs, onnx_dir),
                                 labels=fdata.LABELS,
                                 input_spec=input_spec(data))
    check_package(raw, specs, data)
    with open(path, "wb") as f:
        f.write(raw)
    return len(raw)
