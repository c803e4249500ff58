"""Empirical bias correction of an int8 package's conv2d / fully_connected
nodes (post-training, after calibration).

For every int8 conv2d / fully_connected node, the calibration images are
run through the float graphs and through the int8 graphs (the exact oracle
of int8_ops.py, what the engine computes). The node's pre-activation is
measured on both sides: the float node without its fused activation on its
float input, and the int8 accumulator `bias + Σ (q_in − zp_in) · q_w`
scaled by `in_scale · wscale[oc]` on its int8 input. The per-output-channel
mean difference (int8 − float, over images and positions) is the node's
mean error, upstream errors included; it is subtracted from the int32 bias
(in bias units, rounded to nearest even). Nodes are corrected one at a
time in order (graphs sources first), each measured after every node
before it was corrected: correcting all at once over-corrects the nodes
downstream of a corrected one (measured: the small exit MLPs then drift by
several output steps).

Measured at the stored widths (level 0 of LEVL); a width level runs the
same biases.
"""

from dataclasses import replace

import numpy as np
import torch

import dyce_format as fmt

from . import int8_ops
from .executor import Runner, float_node

INT32_MAX = 2 ** 31 - 1


def _targets(work, built, maps):
    """[(graph, work node j, built node k)] of the int8 conv / fc nodes."""
    out = []
    for gi, (g, b) in enumerate(zip(work, built)):
        for j, k in maps[gi].items():
            n = b.nodes[k]
            if n.op in ("conv2d", "fully_connected") and b.is_int8(n.output):
                out.append((gi, j, k))
    return out


class _Means:
    """Per (graph, node): running sums of the per-channel pre-activation."""

    def __init__(self, graphs, nodes, preact):
        self.graphs, self.preact = graphs, preact
        self.by_input = {}
        for gi, idx in nodes:
            n = graphs[gi].nodes[idx]
            self.by_input.setdefault((gi, n.inputs[0]), []).append(idx)
        self.sums, self.count = {}, {}

    def __call__(self, gi, t, value):
        for idx in self.by_input.get((gi, t), ()):
            y = self.preact(self.graphs[gi], self.graphs[gi].nodes[idx], value)
            key = (gi, idx)
            self.sums[key] = self.sums.get(key, 0.0) + y.sum(axis=(0, 2, 3))
            self.count[key] = (self.count.get(key, 0)
                               + y.shape[0] * y.shape[2] * y.shape[3])

    def mean(self, gi, idx):
        return self.sums[(gi, idx)] / self.count[(gi, idx)]


def _float_preact(g, n, x):
    y = float_node(replace(n, act="none", act_a=0.0, act_b=0.0), g.shapes, [x])
    return y.double().numpy()


def _int8_preact(g, n, xq):
    in_scale, in_zp = g.quant[n.inputs[0]]
    sums = (int8_ops._conv_sum if n.op == "conv2d"
            else int8_ops._fc_sum)(n, g, xq, in_zp)
    cout = sums.shape[1]
    acc = sums + np.asarray(n.bias, np.float64).reshape(1, cout, 1, 1)
    unit = float(np.float32(in_scale)) * np.asarray(n.wscale, np.float64)
    return acc * unit.reshape(1, cout, 1, 1)


def _graph_run(runner, gi, src, observe, batch, keep):
    """Graph gi of a runner on its source's values `src` (all calibration
    images) in batches; its outputs concatenated when `keep`."""
    outs = []
    with torch.no_grad():
        for i in range(0, len(src), batch):
            y = runner.run_graph(gi, src[i:i + batch], observe)
            if keep:
                outs.append(y)
    if not keep:
        return None
    return (np.concatenate(outs) if isinstance(outs[0], np.ndarray)
            else torch.cat(outs))


def correct_biases(work, built, maps, x, batch=100):
    """Edit the biases of `built` (int8 graphs from `work`, node index maps
    `maps`) in place, graph by graph (sources first) and node by node, each
    node measured with every node before it already corrected: the int8
    graph runs once, node by node over all the batches, each target
    corrected from its inputs before its outputs are computed (the same
    biases as running the whole graph again after each correction). Returns
    the number of nodes changed and the largest mean error found, in steps
    of the node's output scale."""
    targets = {}
    for gi, j, k in _targets(work, built, maps):
        targets.setdefault(gi, []).append((j, k))
    sources = {g.source for g in built}
    fruns, qruns = Runner(work), Runner(built)
    xf = torch.as_tensor(np.asarray(x, np.float32))
    fout, qout = {}, {}
    counts = {"changed": 0, "worst": 0.0}
    for gi, g in enumerate(built):
        src_f = xf if g.source == fmt.NONE else fout[g.source]
        src_q = xf if g.source == fmt.NONE else qout[g.source]
        mine = targets.get(gi, [])
        ref = _Means(work, [(gi, j) for j, _ in mine], _float_preact)
        fout[gi] = _graph_run(fruns, gi, src_f, ref if mine else None, batch,
                              gi in sources)
        work_node = {k: j for j, k in mine}

        def correct(k, n, inputs, g=g, gi=gi, work_node=work_node, ref=ref):
            if k not in work_node:
                return
            got = _Means(built, [(gi, k)], _int8_preact)
            for xq in inputs:
                got(gi, n.inputs[0], xq)
            err = got.mean(gi, k) - ref.mean(gi, work_node[k])
            unit = (float(np.float32(g.quant[n.inputs[0]][0]))
                    * np.asarray(n.wscale, np.float64))
            step = np.rint(err / unit).astype(np.int64)
            counts["worst"] = max(counts["worst"],
                                  float(np.abs(err).max()) / g.quant[n.output][0])
            if not step.any():
                return
            bias = np.asarray(n.bias, np.int64) - step
            q = np.abs(np.asarray(n.weight, np.int64)).reshape(len(bias), -1)
            if (np.abs(bias) + 255 * q.sum(axis=1)).max() > INT32_MAX:
                return                          # would not fit int32
            n.bias = bias
            counts["changed"] += 1

        if not mine and gi not in sources:
            continue
        with torch.no_grad():
            outs = qruns.run_graph_by_node(
                gi, [src_q[i:i + batch] for i in range(0, len(src_q), batch)],
                correct if mine else None)
        if gi in sources:
            qout[gi] = (np.concatenate(outs) if isinstance(outs[0], np.ndarray)
                        else torch.cat(outs))
    return counts["changed"], counts["worst"]
