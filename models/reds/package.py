"""Step 9: ONNX export and conversion into fashion-mnist-reds.dyce.

Graphs in package order: saver0..2 (read the input), stage1, the exits at
position 1 of every level (w100, w75, w50, w25; each padded to 64 inputs),
stage2, its exits, stage3, its exits, head. Every graph is exported at full
width and converted with the builder's dyce_build.package (opset 13,
eval, batch 1), the levels (WORK/levels.json) passed to the converter,
then read back and checked (names, sources, full-width MACs, labels,
input spec).
"""

from dyce_build import package as bpackage

from . import exits as rexits
from . import nets

def graph_specs(net, savers, padded_exits, level_names):
    """[(name, module, source, input shape)] in package order."""
    stage_shape = nets.stage_shapes()[0]  # every stage map: 64 channels, one size
    specs = [(n, s, None, nets.INPUT_SHAPE) for n, s in savers.items()]
    for k, (graph, stage) in enumerate(zip(nets.GRAPHS, net.stages)):
        source = nets.GRAPHS[k - 1] if k else None
        shape = stage_shape if k else nets.INPUT_SHAPE
        specs.append((graph, stage, source, shape))
        p = k + 1
        if p in rexits.POSITIONS:
            specs += [(rexits.exit_name(p, t, lvl), padded_exits[
                rexits.exit_name(p, t, lvl)], graph, stage_shape)
                for lvl in level_names for t in rexits.EXIT_TYPES]
    return specs


def build(specs, data, onnx_dir, path, levels):
    """Export, convert with the levels, check, write; the size."""
    spec = data.input_spec()
    raw = bpackage.convert_specs(specs, onnx_dir, data.classes, spec, levels)
    bpackage.check(raw, specs, data.classes, spec)
    with open(path, "wb") as f:
        f.write(raw)
    return len(raw)
