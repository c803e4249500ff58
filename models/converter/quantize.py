"""Post-training static quantization of a package (docs/INT8.md).

quantize_package(package bytes, calibration inputs) -> (bytes, summary):

1. plan: every node of an op that takes int8 becomes int8, unless kept
   float (--keep-float GRAPH or GRAPH/NODE); softmax, channel_affine,
   group_norm, max, min and any other op without an int8 form stay float,
   and so do the activations sqrt, log and reciprocal (no int8 table);
2. unfuse: an int8 node's fused activation other than none / relu / clip
   becomes an int8 `activation` node (a table) after it;
3. calibrate (calibrate.py) the float graphs at every width level;
4. parameters: one asymmetric (scale, zero point) per tensor from its
   range; max pools, concat and flatten share one range over their inputs
   and output (union-find across graphs: a graph's input is its source's
   output); weights per output channel symmetric in −127 … 127, biases
   int32 at in_scale · wscale; a node whose bias or accumulator would not
   fit int32 stays float;
5. build: quantize / dequantize nodes where a tensor's type differs from
   its consumer's; a classifier graph (saver, exit, head, or any graph no
   other graph reads) ends in a float tensor. LEVL entries are renumbered,
   CONF copied (flagged: its thresholds were searched on float records).
"""

from dataclasses import replace

import numpy as np

import dyce_format as fmt
from dyce_codes import P_GROUPS

from .bias_correction import correct_biases
from .calibrate import calibrate, qparams, tensor_key
from .common import ConvertError

INT8_OPS = {"conv2d", "fully_connected", "add", "mul", "activation",
            "max_pool", "avg_pool", "global_avg_pool", "global_max_pool",
            "concat", "flatten"}
MOVES = {"max_pool", "global_max_pool", "concat", "flatten"}
FUSABLE = {"none", "relu", "clip"}
# Activations without an int8 table (NaN below 0, infinity at 0: the
# engine refuses them on int8 tensors): their activation nodes stay float.
FLOAT_ACTS = {"sqrt", "log", "reciprocal"}


def _float_act(act):
    return f"{act} has no int8 table (NaN or infinity near 0): stays float"
INT32_MAX = 2 ** 31 - 1


def classifiers(graphs):
    """Graphs whose output is logits: savers, exits, head, and every graph
    no other graph reads."""
    sources = {g.source for g in graphs}
    return {i for i, g in enumerate(graphs)
            if i not in sources or g.name == "head"
            or g.name.startswith(("saver", "exit"))}


def _repeated_operand(n, shapes):
    """add / mul whose second input is H x 1 x C, 1 x W x C or H x W x 1
    (no int8 form)."""
    if n.op not in ("add", "mul") or len(n.inputs) < 2:
        return False
    a, b = shapes[n.inputs[0]], shapes[n.inputs[1]]
    per_channel = (b[1], b[2]) == (1, 1) and b[3] == a[3]
    return b != a and not per_channel


# A grouped convolution of fewer input channels a group than this runs
# slower in int8 than in float (56x56x128 3x3, 4 a group: 22.7 vs 3.4 ms a
# layer; 8 a group: 1.08x faster), so it stays float; depthwise (one a
# group) has its own int8 kernels.
MIN_INT8_GROUP_CHANNELS = 8


def _narrow_groups(n, shapes):
    """A grouped, not depthwise, conv2d of too few input channels a group."""
    if n.op != "conv2d" or n.params[P_GROUPS] <= 1:
        return False
    per_group = shapes[n.inputs[0]][3] // n.params[P_GROUPS]
    return 1 < per_group < MIN_INT8_GROUP_CHANNELS


def _plan(graphs, keep_float):
    """Per graph, per node: None (int8) or why it stays float."""
    keep = set(keep_float or ())
    known = {g.name for g in graphs} | {f"{g.name}/{j}" for g in graphs
                                        for j in range(len(g.nodes))}
    unknown = sorted(keep - known)
    if unknown:
        raise ConvertError(f"--keep-float: no graph or node '{unknown[0]}' "
                           "(GRAPH or GRAPH/NODE_INDEX)")
    plan = []
    for g in graphs:
        reasons = []
        for j, n in enumerate(g.nodes):
            if n.op not in INT8_OPS:
                reasons.append(f"{n.op} stays float (docs/INT8.md)")
            elif n.op == "activation" and n.act in FLOAT_ACTS:
                reasons.append(_float_act(n.act))
            elif _narrow_groups(n, g.shapes):
                reasons.append(f"a grouped convolution of {g.shapes[n.inputs[0]][3] // n.params[P_GROUPS]} "
                               "input channels a group stays float (slower in int8 below "
                               f"{MIN_INT8_GROUP_CHANNELS})")
            elif _repeated_operand(n, g.shapes):
                reasons.append(f"{n.op} of a second input repeated along rows, "
                               "columns or channels stays float")
            elif g.name in keep or f"{g.name}/{j}" in keep:
                reasons.append("--keep-float")
            else:
                reasons.append(None)
        plan.append(reasons)
    return plan


def _unfuse(graphs, plan):
    """Copies of the graphs with non-fusable activations of int8 nodes split
    into activation nodes; the new plan; old node index -> new, per graph."""
    out, new_plan, maps = [], [], []
    for g, reasons in zip(graphs, plan):
        shapes, nodes, modes, index = list(g.shapes), [], [], {}
        for j, (n, why) in enumerate(zip(g.nodes, reasons)):
            index[j] = len(nodes)
            if why is None and n.op != "activation" and n.act not in FUSABLE:
                mid = len(shapes)
                shapes.append(shapes[n.output])
                nodes += [replace(n, output=mid, act="none", act_a=0.0,
                                  act_b=0.0),
                          fmt.Node("activation", [mid], n.output, act=n.act,
                                   act_a=n.act_a, act_b=n.act_b)]
                modes += [None, _float_act(n.act) if n.act in FLOAT_ACTS else None]
            else:
                nodes.append(n)
                modes.append(why)
        out.append(replace(g, shapes=shapes, nodes=nodes, quant=None))
        new_plan.append(modes)
        maps.append(index)
    return out, new_plan, maps


class _Groups:
    """Union-find of tensor keys that must share int8 parameters."""

    def __init__(self):
        self.parent = {}

    def find(self, k):
        while self.parent.get(k, k) != k:
            k = self.parent[k]
        return k

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[ra] = rb


def _params(graphs, plan, ranges):
    """{tensor key: (scale, zp)}: moves share one range with their inputs."""
    groups = _Groups()
    for gi, g in enumerate(graphs):
        for n, why in zip(g.nodes, plan[gi]):
            if why is None and n.op in MOVES:
                for t in n.inputs:
                    groups.union(tensor_key(graphs, gi, t),
                                 tensor_key(graphs, gi, n.output))
    merged = {}
    for k, (lo, hi) in ranges.items():
        r = groups.find(k)
        a, b = merged.get(r, (lo, hi))
        merged[r] = (min(a, lo), max(b, hi))
    return {k: qparams(*merged[groups.find(k)]) for k in ranges}


def quantize_weights(n, shapes, in_scale):
    """(int8 weights, int32 bias, f32 wscale) of a conv2d / fully_connected,
    or raises ValueError when they do not fit the int32 accumulator."""
    cout = shapes[n.output][3]
    w = np.asarray(n.weight, np.float64).reshape(cout, -1)
    amax = np.abs(w).max(axis=1)
    wscale = np.where(amax > 0, amax / 127.0, 1.0).astype(np.float32)
    q = np.clip(np.rint(w / wscale[:, None].astype(np.float64)), -127, 127)
    bias = np.zeros(cout)
    if n.bias is not None:
        bias = np.rint(np.asarray(n.bias, np.float64) /
                       (float(np.float32(in_scale)) * wscale.astype(np.float64)))
    worst = np.abs(bias) + 255 * np.abs(q).sum(axis=1)
    if worst.max() > INT32_MAX:
        raise ValueError(f"bias / accumulator would exceed int32 "
                         f"(up to {worst.max():.3g})")
    return (q.astype(np.int8).reshape(np.shape(n.weight)),
            bias.astype(np.int64), wscale)


def quantize_constant(values):
    """(int8 values in −127 … 127, scale, zp) of an add / mul constant."""
    v = np.asarray(values, np.float64)
    lo, hi = min(v.min(), 0.0), max(v.max(), 0.0)
    scale = float(np.float32((hi - lo) / 254.0)) if hi > lo else 1.0
    zp = int(np.clip(np.rint(-127.0 - lo / scale), -127, 127))
    q = np.clip(np.rint(v / scale) + zp, -127, 127)
    return q.astype(np.int8), scale, zp


def _int8_node(n, g, gi, graphs, params, inputs):
    """The int8 form of a float node reading int8 `inputs`."""
    node = replace(n, inputs=inputs, params=list(n.params))
    if n.op in ("conv2d", "fully_connected"):
        in_scale = params[tensor_key(graphs, gi, n.inputs[0])][0]
        node.weight, node.bias, node.wscale = quantize_weights(n, g.shapes,
                                                               in_scale)
    elif n.op in ("add", "mul") and len(n.inputs) == 1:
        node.weight, scale, zp = quantize_constant(n.weight)
        node.params += [0] * (fmt.PARAM_COUNT - len(node.params))
        node.params[0], node.params[1] = fmt.f32_bits(scale), zp
    return node


def _build(graphs, plan, params, classes):
    """The int8 graphs; per graph old node index -> new; log lines."""
    built, maps = [], []
    for gi, g in enumerate(graphs):
        shapes, quant = list(g.shapes), [None] * len(g.shapes)
        nodes, index, converted = [], {}, {}
        if g.source != fmt.NONE:
            src = built[g.source]
            quant[g.input] = src.quant[src.output]

        def convert(t, to_int8):
            if (quant[t] is not None) == to_int8:
                return t
            if (t, to_int8) not in converted:
                new = len(shapes)
                shapes.append(shapes[t])
                if to_int8:
                    quant.append(params[tensor_key(graphs, gi, t)])
                    nodes.append(fmt.Node("quantize", [t], new))
                else:
                    quant.append(None)
                    nodes.append(fmt.Node("dequantize", [t], new))
                converted[(t, to_int8)] = new
            return converted[(t, to_int8)]

        for j, n in enumerate(g.nodes):
            int8 = plan[gi][j] is None
            inputs = [convert(t, int8) for t in n.inputs]
            if int8:
                quant[n.output] = params[tensor_key(graphs, gi, n.output)]
                n = _int8_node(n, g, gi, graphs, params, inputs)
            else:
                n = replace(n, inputs=inputs)
            index[j] = len(nodes)
            nodes.append(n)
        output = convert(g.output, False) if gi in classes else g.output
        built.append(replace(g, shapes=shapes, nodes=nodes, output=output,
                             quant=quant))
        maps.append(index)
    return built, maps


def _demote(graphs, plan, params):
    """Nodes whose weights cannot be int8 stay float (the plan is edited)."""
    for gi, g in enumerate(graphs):
        for j, n in enumerate(g.nodes):
            if plan[gi][j] is None and n.op in ("conv2d", "fully_connected"):
                in_scale = params[tensor_key(graphs, gi, n.inputs[0])][0]
                try:
                    quantize_weights(n, g.shapes, in_scale)
                except ValueError as err:
                    plan[gi][j] = str(err)


def summarise(graphs, built, plan, conf_count):
    lines = []
    for g, b, reasons in zip(graphs, built, plan):
        int8 = sum(1 for n in b.nodes if b.is_int8(n.output)
                   and n.op != "quantize")
        conv = sum(1 for n in b.nodes if n.op in ("quantize", "dequantize"))
        kept = [f"node {j} {n.op}: {why}" for j, (n, why) in
                enumerate(zip(g.nodes, reasons)) if why is not None]
        out = ("int8" if b.is_int8(b.output) else "float")
        lines.append(f"graph {g.name}: {int8} int8 nodes, {len(kept)} float, "
                     f"{conv} quantize/dequantize; output {out}")
        lines += [f"  stays float: {k}" for k in kept]
    if conf_count:
        lines.append(f"CONF: {conf_count} configurations copied unchanged; "
                     "their thresholds were searched on the float graphs' "
                     "records: re-run the search on records of the quantized "
                     "graphs")
    return lines


def quantize_graphs(graphs, x, levels=(), method="minmax", percentile=99.99,
                    keep_float=(), batch=100, bias_correction=0, log=None):
    """(int8 graphs, remapped levels, plan, unfused graphs) from float graphs
    and calibration inputs x (N, C, H, W) float32; bias_correction: run
    bias_correction.correct_biases when true."""
    plan = _plan(graphs, keep_float)
    work, plan, unfuse_maps = _unfuse(graphs, plan)
    remapped = [(name, [(g, unfuse_maps[g][j], c) for g, j, c in entries])
                for name, entries in levels]
    try:
        ranges = calibrate(work, x, remapped, method, percentile, batch)
    except ValueError as err:
        raise ConvertError(f"calibration: {err}") from None
    params = _params(work, plan, ranges)
    _demote(work, plan, params)
    built, maps = _build(work, plan, params, classifiers(graphs))
    if bias_correction:
        changed, worst = correct_biases(work, built, maps, x, batch)
        if log:
            log(f"bias correction: {changed} conv / fc biases shifted "
                f"(largest mean error found: {worst:.3f} output steps)")
    new_levels = [(name, [(g, maps[g][j], c) for g, j, c in entries])
                  for name, entries in remapped]
    return built, new_levels, plan, work


def quantize_package(data, x, method="minmax", percentile=99.99,
                     keep_float=(), batch=100, bias_correction=True):
    """Quantize every graph of package bytes with calibration inputs x
    (N, C, H, W float32, preprocessed as the package's INPT says). Returns
    (bytes, summary lines). LABL, INPT, LEVL and CONF are kept."""
    graphs, spec, labels, _ = fmt.read_package(data)
    if fmt.is_int8_package(graphs):
        raise ConvertError("the package is already int8 (version 2)")
    sections = fmt.read_sections(data)
    extra = [(t, b) for t, b in sections.items() if t == "CONF"]
    conf_count = (int.from_bytes(extra[0][1][:4], "little") if extra else 0)
    levels = fmt.read_levels(data)
    notes = []
    built, new_levels, plan, work = quantize_graphs(
        graphs, x, levels, method, percentile, keep_float, batch,
        bias_correction, notes.append)
    try:
        out = fmt.write_package(built, spec, labels, new_levels, extra)
    except ValueError as err:
        raise ConvertError(str(err)) from None
    lines = notes + summarise(work, built, plan, conf_count)
    lines.append(f"package: {len(data)} -> {len(out)} bytes "
                 f"({len(out) / len(data):.3f}x)")
    return out, lines
