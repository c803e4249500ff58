"""Step 9: ONNX export and conversion into fashion-mnist-reds.dyce.

Graphs in package order: saver0..2 (read the input), stage1, the exits at
position 1 of every level (w100, w75, w50, w25; each padded to 64 inputs),
stage2, its exits, stage3, its exits, head. Every graph is exported at full
width with fmnist.package (opset 13, eval, batch 1) and converted with
convert.convert_graphs; the levels (WORK/levels.json) are passed as
`levels=` when convert.py accepts that argument, otherwise the package is
built without them (the levels JSON stays in WORK for the engine side).
The package is read back and checked with fmnist.package.check_package
(names, sources, full-width MACs, labels, input spec).
"""

import inspect

import convert  # models/convert.py

from fmnist import data as fdata
from fmnist import nets as fnets
from fmnist import package as fpackage

from . import exits as rexits
from . import nets

STAGE_SHAPE = (1, nets.WIDTH, 14, 14)


def graph_specs(net, savers, padded_exits, level_names):
    """[(name, module, source, input shape)] in package order."""
    specs = [(n, s, None, fnets.INPUT_SHAPE) for n, s in savers.items()]
    for k, (graph, stage) in enumerate(zip(nets.GRAPHS, net.stages)):
        source = nets.GRAPHS[k - 1] if k else None
        shape = STAGE_SHAPE if k else nets.INPUT_SHAPE
        specs.append((graph, stage, source, shape))
        p = k + 1
        if p in rexits.POSITIONS:
            specs += [(rexits.exit_name(p, t, lvl), padded_exits[
                rexits.exit_name(p, t, lvl)], graph, STAGE_SHAPE)
                for lvl in level_names for t in rexits.EXIT_TYPES]
    return specs


def supports_levels():
    return "levels" in inspect.signature(convert.convert_graphs).parameters


def build(specs, data, onnx_dir, path, levels, log):
    """Export, convert (with levels if supported), check, write; size."""
    kwargs = {"levels": levels} if supports_levels() else {}
    if not kwargs:
        log("package: convert.convert_graphs has no `levels` argument yet; "
            "built without levels (see WORK/levels.json)")
    raw = convert.convert_graphs(fpackage.convert_specs(specs, onnx_dir),
                                 labels=fdata.LABELS,
                                 input_spec=fpackage.input_spec(data),
                                 **kwargs)
    fpackage.check_package(raw, specs, data)
    with open(path, "wb") as f:
        f.write(raw)
    return len(raw), bool(kwargs)
