"""Package, records and engine check of a traced network's width levels.

The package holds the savers, the network's stages (BatchNorm folded,
exported at full width by the builder's dyce_build.package) with the
exits of every level after each, and the head — or, for a network without
exit positions, one graph `head` — with the width levels of
convert.convert_graphs: per level and stage, the output width of every
dense convolution / fully connected node of the converted graph in node
order. The order is read, not assumed: each stage is converted alone and
its dense nodes' (output, input) channels must be the traced dense calls'
of that stage in graph order (groups.Groups.dense_signature); each takes
the width of the space it writes. Exits and savers are never narrowed. The engine then runs every
level: `dyce info` must give the MACs groups.macs gives, `dyce eval` the
accuracy and, with the records beside the package, the agreement with
PyTorch's predictions at that level.
"""

import json
import os

import numpy as np

import convert  # models/convert.py
import dyce_format
from dyce_build import engine as bengine, exits as bexits, package as bpackage, records_file
from dyce_build.errors import BuildError
from dyce_build.fit import predict
from dyce_build.nets import count_macs
from reds import finetune as rfinetune
from reds.exits import head_name

from . import exits as texits, net as tnet

GRAPH = "head"


def _dense_signature(path, name):
    graph, _ = convert.convert_graph(path, name)
    return [(graph.shapes[n.output][-1], graph.shapes[n.inputs[0]][-1])
            for n in graph.nodes if dyce_format.is_dense(n)]


def levels_contract(groups, named_levels, narrowed):
    """The LEVELS list of convert.convert_graphs (level 0: no widths).
    narrowed: [(graph name, ONNX path, its traced node names or None)]."""
    for name, path, nodes in narrowed:
        got, want = _dense_signature(path, name), groups.dense_signature(nodes)
        if got != want:
            raise BuildError(f"--widths: graph {name}: the converted dense layers (out, in) "
                             f"{got} are not the traced network's {want}; cannot give "
                             "them widths")
    return [{"name": name, "widths": {} if i == 0 else
             {g: groups.dense_widths(level, nodes) for g, _, nodes in narrowed}}
            for i, (name, level) in enumerate(named_levels)]


def graph_specs(net, data, sp=None, level_exits=None, savers=None):
    """[(name, module, source, input shape)]: savers, stage1, its exits, …,
    head; without a split, the whole network as `head`."""
    if sp is None:
        return [(GRAPH, net, None, data.input_shape)]
    specs = [(n, m, None, data.input_shape) for n, m in (savers or {}).items()]
    prev, source = data.input_shape, None
    for p, (stage, c) in enumerate(zip(sp.stages, sp.chosen), 1):
        specs.append((f"stage{p}", stage, source, prev))
        specs += [(n, e, f"stage{p}", c.shape) for n, e in level_exits.items()
                  if n.startswith(f"exit{p}_")]
        prev, source = c.shape, f"stage{p}"
    return specs + [(GRAPH, sp.head, source, prev)]


def build(net, named_levels, data, onnx_dir, path, sp=None, level_exits=None, savers=None):
    """Export, convert with levels, check, write; returns (bytes, LEVELS)."""
    net.set_level(None)
    net.eval()
    specs = graph_specs(net, data, sp, level_exits, savers)
    converted = bpackage.export_specs(specs, onnx_dir)
    paths = {name: p for name, p, _ in converted}
    narrowed = ([(GRAPH, paths[GRAPH], None)] if sp is None else
                [(g, paths[g], sp.nodes[g]) for g in sp.graphs])
    groups = net.groups if sp is None else sp.groups
    levels = levels_contract(groups, named_levels, narrowed)
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


def _entries(net, named_levels, data, sp, level_exits, savers, views):
    """[(name, MACs, fn(split) -> logits)] in records order: savers, then per
    level its exits and its head (MACs: each graph's own at its level)."""
    out = [(n, count_macs(m, data.input_shape),
            lambda split, m=m: predict(m, data, split)) for n, m in (savers or {}).items()]
    for lvl, level in named_levels:
        if sp is None:
            out.append((head_name(lvl), net.groups.macs(level), lambda split, level=level:
                        rfinetune.predict(net, data, split, level, forward=tnet.forward)))
            continue
        widths = sp.cut_widths(level)
        for name, ex in level_exits.items():
            if exit_level(name) == lvl:
                p = bexits.position(name)
                out.append((name, texits.exit_macs(ex, widths[p - 1]),
                            lambda split, ex=ex, p=p, lvl=lvl:
                            bexits.mlp_logits(ex.mlp, views[lvl][split.name][0][p - 1])))
        out.append((head_name(lvl), sp.groups.macs(level, sp.nodes[GRAPH]),
                    lambda split, lvl=lvl: views[lvl][split.name][1]))
    return out


def exit_level(name):
    """exit2_b -> w100, exit2_b_w50 -> w50."""
    parts = name.split("_")
    return parts[2] if len(parts) > 2 else "w100"


def collect_records(net, named_levels, data, sp=None, level_exits=None, savers=None,
                    views=None):
    """Records (dyce_build.records_file's layout), PyTorch float32."""
    ents = _entries(net, named_levels, data, sp, level_exits, savers, views)
    rec = {"names": [e[0] for e in ents], "macs": np.array([e[1] for e in ents], np.uint64),
           "classes": len(data.classes), "splits": []}
    for split in data.splits():
        preds = [records_file.softmax_top1(fn(split)) for _, _, fn in ents]
        rec["splits"].append(records_file.split_block(split.name, split.index,
                                                      split.labels, preds))
    return rec


def engine_info(pkg, groups, named_levels, log):
    """Per-level MACs by `dyce info`, checked against groups.macs."""
    info = json.loads(bengine.cli("info", pkg, "--json"))
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
