"""ONNX export and conversion into the REDS ResNet-20 package.

Graphs: stage1 ... stage9, head -- the network's stages, exported one by
one at full width with the builder's dyce_build.package (opset 13, eval,
batch 1, constant folding) and converted with
convert.convert_graphs(..., levels=LEVELS).

LEVELS (the contract of convert.convert_graphs): per level, per graph, the
output channels of every dense conv / fully connected node in the
converted graph's node order. The order is not assumed: every graph is
first converted alone (convert.convert_graph) and each dense node gets its
role from the graph's data flow -- `stem` reads stage1's input (the image),
`shortcut` is the 1x1 conv, `conv2` feeds the residual add, `conv1` is the
other 3x3 conv, `fc` the classifier -- and the role's width at the level
(nets.level_graph_widths: stem, conv2 and shortcut produce the stream S,
conv1 the block's inner width I, fc the classes). Every graph must show
exactly the expected roles. The package is read back and checked with
dyce_build.package.check (names, sources, full-width MACs, labels, input
spec).
"""

import os

import convert  # models/convert.py
import dyce_format
from dyce_codes import P_KH, P_KW

from dyce_build import package as bpackage

from . import nets


def graph_specs(net):
    """[(name, module, source, input shape)]: stage1..9, head."""
    shapes = [nets.INPUT_SHAPE] + nets.stage_shapes(net.widths)
    sources = [None] + list(nets.GRAPHS[:-1])
    modules = list(net.stages) + [net.head]
    return list(zip(nets.GRAPHS, modules, sources, shapes))


def dense_roles(graph, first):
    """Role of every dense node of a converted graph, in node order
    (`first`: the graph reads the image)."""
    add_inputs = {t for n in graph.nodes if n.op == "add" for t in n.inputs}
    roles = []
    for n in graph.nodes:
        if not dyce_format.is_dense(n):
            continue
        if n.op == "fully_connected":
            roles.append("fc")
        elif first and n.inputs[0] == graph.input:
            roles.append("stem")
        elif n.params[P_KH] == 1 and n.params[P_KW] == 1:
            roles.append("shortcut")
        elif n.output in add_inputs:
            roles.append("conv2")
        else:
            roles.append("conv1")
    return roles


def graph_roles(converted):
    """{graph: [roles in dense-node order]}, checked against nets."""
    expected = nets.level_graph_widths(nets.FULL)
    out = {}
    for name, path, _ in converted:
        graph, _ = convert.convert_graph(path, name)
        roles = dense_roles(graph, name == nets.GRAPHS[0])
        if sorted(roles) != sorted(expected[name]):
            raise RuntimeError(f"{name}: dense node roles {roles}, expected "
                               f"{sorted(expected[name])}")
        out[name] = roles
    return out


def levels_contract(named_levels, roles):
    """The LEVELS list for convert_graphs (level 0 = full, no widths)."""
    out = []
    for i, (name, widths) in enumerate(named_levels):
        if i == 0:
            if widths != nets.FULL:
                raise ValueError("the first level must be the full network")
            out.append({"name": name, "widths": {}})
            continue
        by_role = nets.level_graph_widths(widths)
        out.append({"name": name, "widths": {
            g: [by_role[g][r] for r in roles[g]] for g in nets.GRAPHS}})
    return out


def build(net, named_levels, data, onnx_dir, path):
    """Export, convert with levels, check, write; (size, LEVELS, roles)."""
    specs = graph_specs(net)
    converted = bpackage.export_specs(specs, onnx_dir)
    roles = graph_roles(converted)
    levels = levels_contract(named_levels, roles)
    raw = convert.convert_graphs(converted, labels=data.classes,
                                 input_spec=data.input_spec(), levels=levels)
    bpackage.check(raw, specs, data.classes, data.input_spec())
    stored = dyce_format.read_levels(raw)
    if [n for n, _ in stored] != [n for n, _ in named_levels]:
        raise RuntimeError(f"package levels {[n for n, _ in stored]}")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "wb") as f:
        f.write(raw)
    return len(raw), levels, roles
