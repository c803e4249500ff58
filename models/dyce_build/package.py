"""Graphs -> ONNX -> one .dyce package (models/convert.py), checked.

Each graph (saver, stage, exit, head) is exported alone (export.py: opset
13, eval mode, batch 1, constant folding) and converted with
`convert.convert_graphs`; the package's graph names, sources and MACs are
read back and compared with PyTorch's count.
"""

import os
import re
import sys

import numpy as np
from torch import nn

from . import nets
from .errors import BuildError
from .export import export_onnx

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import convert  # noqa: E402  (models/convert.py)
import dyce_format  # noqa: E402
from dyce_codes import P_GROUPS, P_KH, P_KW  # noqa: E402


def export_specs(specs, onnx_dir):
    """[(name, module, source, input shape)] -> [(name, ONNX file, source)]."""
    os.makedirs(onnx_dir, exist_ok=True)
    graphs = []
    for name, module, source, shape in specs:
        path = os.path.join(onnx_dir, f"{name}.onnx")
        try:
            export_onnx(module, shape, path)
        except Exception as err:
            raise BuildError(f"graph '{name}': ONNX export failed: "
                             f"{str(err).splitlines()[0]}") from None
        graphs.append((name, path, source))
    return graphs


def convert_specs(specs, onnx_dir, labels, input_spec, levels=None):
    """Export and convert [(name, module, source, input shape)] -> bytes
    (with width `levels`, the REDS pipelines'). A graph the converter
    cannot take is named in the error."""
    graphs = export_specs(specs, onnx_dir)
    try:
        return convert.convert_graphs(graphs, labels=labels, input_spec=input_spec,
                                      levels=levels)
    except convert.ConvertError as err:
        raise BuildError(f"the converter cannot take it: {err}{_module_of(str(err), specs)}") from None


def _module_of(message, specs):
    """Where in the user's network the ONNX node a converter error names
    is: its scope ('/up/ConvTranspose' — torch.onnx keeps only the last
    module names of a traced stage) matched against the graph's modules,
    whose names are the backbone's ('1.se.0.up'); '' when not found."""
    found = re.match(r"graph '([^']+)': node '/((?:[^'/]+/)+)[^'/]+'", message)
    if not found:
        return ""
    graph, scope = found.group(1), found.group(2).strip("/").replace("/", ".")
    module = next((m for name, m, _, _ in specs if name == graph), None)
    if not isinstance(module, nn.Module):
        return ""
    names = [f"{name} ({type(m).__name__})" for name, m in module.named_modules()
             if name == scope or name.endswith("." + scope)]
    return f"; in the network: {', '.join(names[:3])}" if names else ""


def probability_graphs(raw):
    """Names of the package's graphs that answer with probabilities (they
    end in a softmax without its log flag): the engine takes their outputs
    as they are, where it applies a softmax to class scores."""
    graphs, _, _, _ = dyce_format.read_package(raw)
    return [g.name for g in graphs if g.nodes[-1].op == "softmax"
            and not dyce_format.is_log_softmax(g.nodes[-1])]


def _padding_macs(graph):
    """MACs of the graph's pads that the converter made depthwise 1x1
    convolutions by one (a Pad no conv or average pool could take in; with
    a bias when the padding value was not zero): work PyTorch's MAC count
    does not see."""
    total = 0
    for n in graph.nodes:
        if (n.op == "conv2d" and n.params[P_KH] == n.params[P_KW] == 1
                and n.params[P_GROUPS] == graph.shapes[n.inputs[0]][3]
                and np.all(n.weight == 1)
                and any(n.params[dyce_format.PADS])) or _channel_pad(n, graph):
            total += dyce_format.node_macs(n, graph.shapes)
    return total


def _channel_pad(n, graph):
    """A zero padding of channels the converter made a 1x1 convolution
    (lowering._pad_channels): every input channel copied to one output
    channel, the others zero, no bias."""
    if (n.op != "conv2d" or n.params[P_KH] != 1 or n.params[P_KW] != 1
            or n.params[P_GROUPS] != 1 or n.bias is not None or n.weight is None
            or n.weight.dtype != np.float32):
        return False
    cin = graph.shapes[n.inputs[0]][3]
    w = n.weight.reshape(-1, cin)
    return (w.shape[0] > cin and np.isin(w, (0.0, 1.0)).all()
            and (w.sum(0) == 1).all() and (w.sum(1) <= 1).all())


def check(raw, specs, labels, input_spec):
    """The package's graphs, sources, MACs, labels and input spec are those
    of the specs (PyTorch's MAC count) and the data."""
    graphs, spec, got_labels, macs = dyce_format.read_package(raw)
    names = [g.name for g in graphs]
    if names != [s[0] for s in specs]:
        raise BuildError(f"internal: package graphs {names}")
    for g, (name, module, source, shape) in zip(graphs, specs):
        src = None if g.source == dyce_format.NONE else names[g.source]
        want = nets.count_macs(module, shape) + _padding_macs(g)
        if src != source or macs[name] != want:
            raise BuildError(f"internal: {name}: package source/MACs {src}/"
                             f"{macs[name]}, PyTorch {source}/{want}")
    _, c, h, w = next(shape for _, _, source, shape in specs if source is None)
    got = (list(got_labels), (spec.h, spec.w, spec.c), spec.mean, spec.std)
    want = (list(labels), (h, w, c), input_spec["mean"], input_spec["std"])
    if not (got[:2] == want[:2] and np.allclose(got[2:], want[2:], rtol=1e-6)):
        raise BuildError(f"internal: package labels/input spec {got} != {want}")


def build(specs, onnx_dir, path, labels, input_spec):
    raw = convert_specs(specs, onnx_dir, labels, input_spec)
    check(raw, specs, labels, input_spec)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(raw)
    os.replace(tmp, path)
    return len(raw)


def sample_inputs(data, count):
    """The first `count` test images as normalised float32 inputs."""
    return np.asarray(data.normalise(data.test.images[:count]).numpy(), np.float32)
