"""Package, records and engine check of a traced network's width levels.

The package holds one graph, `head` (the whole network, BatchNorm folded,
exported at full width by the builder's dyce_build.package), with the
width levels of convert.convert_graphs: per level, the output width of
every dense convolution / fully connected node of the converted graph in
node order. The order is read, not assumed: the graph is converted alone
and its dense nodes' (output, input) channels must be the traced
network's dense calls' in graph order (groups.Groups.dense_signature);
each takes the width of the space it writes. The engine then runs every
level: `dyce info` must give the MACs groups.macs gives, `dyce eval` the
accuracy and, with the records beside the package, the agreement with
PyTorch's predictions at that level.
"""

import json
import os

import numpy as np

import convert  # models/convert.py
import dyce_format
from dyce_build import package as bpackage, records_file
from dyce_build.errors import BuildError
from reds import finetune as rfinetune
from reds.exits import head_name
from reds_resnet import engine as rengine

from . import net as tnet

GRAPH = "head"


def _dense_signature(path):
    graph, _ = convert.convert_graph(path, GRAPH)
    return [(graph.shapes[n.output][-1], graph.shapes[n.inputs[0]][-1])
            for n in graph.nodes if dyce_format.is_dense(n)]


def levels_contract(groups, named_levels, onnx_path):
    """The LEVELS list of convert.convert_graphs (level 0: no widths)."""
    got, want = _dense_signature(onnx_path), groups.dense_signature()
    if got != want:
        raise BuildError(f"--widths: the converted graph's dense layers (out, in) {got} are "
                         f"not the traced network's {want}; cannot give them widths")
    return [{"name": name, "widths": {} if i == 0 else
             {GRAPH: groups.dense_widths(level)}}
            for i, (name, level) in enumerate(named_levels)]


def build(net, named_levels, data, onnx_dir, path):
    """Export, convert with levels, check, write; returns (bytes, LEVELS)."""
    net.set_level(None)
    specs = [(GRAPH, net.eval(), None, data.input_shape)]
    converted = bpackage.export_specs(specs, onnx_dir)
    levels = levels_contract(net.groups, named_levels, converted[0][1])
    try:
        raw = convert.convert_graphs(converted, labels=data.classes,
                                     input_spec=data.input_spec(), levels=levels)
    except convert.ConvertError as err:
        raise BuildError(f"--widths: the converter cannot take it: {err}") from None
    bpackage.check(raw, specs, data.classes, data.input_spec())
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(raw)
    os.replace(tmp, path)
    return len(raw), levels


def collect_records(net, named_levels, data):
    """Records (dyce_build.records_file's layout): `head`, `head@w75`, … on
    every split, PyTorch float32 at each level; MACs: groups.macs."""
    rec = {"names": [head_name(n) for n, _ in named_levels],
           "macs": np.array([net.groups.macs(lv) for _, lv in named_levels], np.uint64),
           "classes": len(data.classes), "splits": []}
    for split in data.splits():
        preds = [records_file.softmax_top1(rfinetune.predict(
            net, data, split, lv, forward=tnet.forward)) for _, lv in named_levels]
        rec["splits"].append(records_file.split_block(split.name, split.index,
                                                      split.labels, preds))
    return rec


def engine_info(pkg, groups, named_levels, log):
    """Per-level MACs by `dyce info`, checked against groups.macs."""
    info = json.loads(rengine.run_cli(["info", pkg, "--json"]))
    got = [lv["name"] for lv in info["levels"]]
    if got != [n for n, _ in named_levels]:
        raise BuildError(f"internal: engine levels {got}")
    full = groups.macs()
    pad = info["levels"][0]["head_path_macs"] - full   # the converter's explicit padding
    out = {}
    for lv, (name, level) in zip(info["levels"], named_levels):
        want = groups.macs(level) + pad
        if lv["head_path_macs"] != want:
            raise BuildError(f"internal: level {name}: engine MACs {lv['head_path_macs']:,}, "
                             f"PyTorch {want:,}")
        out[name] = {"head_path_macs": lv["head_path_macs"], "fraction": want / (full + pad)}
        log(f"engine info: level {name} {lv['head_path_macs']:,} MACs "
            f"({100 * out[name]['fraction']:.2f} %), as PyTorch counts them")
    return out
