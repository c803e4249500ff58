"""Packaging: several converted graphs, each reading the package input or an
earlier graph's output, with the input spec, labels and width levels, into
the bytes of one .dyce package (dyce_format.write_package)."""

import numpy as np

import dyce_format as fmt

from .common import MAX_FILE_BYTES, ConvertError
from .graph import convert_graph


def _input_spec(shape, spec):
    """InputSpec for package input shape (1, C, H, W) and user overrides."""
    _, c, h, w = shape
    spec = dict(spec or {})
    mean = list(spec.pop("mean", [0.0] * c))
    std = list(spec.pop("std", [1.0] * c))
    scale = float(spec.pop("pixel_scale", 1.0 / 255.0))
    if spec:
        raise ConvertError(f"unknown input_spec keys {sorted(spec)}")
    mean, std = (v * c if len(v) == 1 else v for v in (mean, std))
    if not 1 <= c <= 4 or len(mean) != c or len(std) != c:
        raise ConvertError(f"input has {c} channels: need 1..4 channels and "
                           f"as many mean ({len(mean)}) / std ({len(std)})")
    values = np.array(mean + std + [scale], np.float32)
    if not np.all(np.isfinite(values)) or min(std) <= 0 or scale <= 0:
        raise ConvertError("mean, std and pixel_scale must be finite, std "
                           "and pixel_scale > 0")
    return fmt.InputSpec(h, w, c, mean, std, scale)


def _check_labels(graphs, labels):
    """Every leaf graph (an exit, saver or head) classifies into the labels."""
    if not labels:
        return
    sources = {g.source for g in graphs}
    for i, g in enumerate(graphs):
        size = int(np.prod(g.shapes[g.output]))
        if i not in sources and size != len(labels):
            raise ConvertError(f"graph '{g.name}' outputs {size} values but "
                               f"there are {len(labels)} labels")


def _level_entries(graphs, index, level):
    """LEVL entries of one level: {"name", "widths": {graph: [channels of
    each dense conv / fully connected node, in graph order]}}."""
    name, widths = level.get("name"), level.get("widths", {})
    entries = []
    for gname, channels in widths.items():
        if gname not in index:
            raise ConvertError(f"width level '{name}': no graph '{gname}'")
        g = graphs[index[gname]]
        dense = [j for j, n in enumerate(g.nodes) if fmt.is_dense(n)]
        if len(channels) != len(dense):
            raise ConvertError(
                f"width level '{name}': graph '{gname}' has {len(dense)} dense "
                f"conv / fully connected nodes, {len(channels)} widths given")
        for j, c in zip(dense, channels):
            full = g.shapes[g.nodes[j].output][3]
            if not 1 <= int(c) <= full:
                raise ConvertError(f"width level '{name}': graph '{gname}' "
                                   f"node {j}: width {c} outside 1..{full}")
            if int(c) != full:
                entries.append((index[gname], j, int(c)))
    return name, entries


def _reads_tokens(graphs, index, source):
    """Whether a (1, A, B) input reading graph `source`'s output is a token
    sequence (that output is one row of A positions with B channels), or a
    (1, H, W, C) input a channels-last map (that output is one)."""
    if source not in index:
        return None
    src = graphs[index[source]]
    out = tuple(src.shapes[src.output])

    def reads(shape):
        if len(shape) == 4:
            return src.output_channels_last and out == tuple(shape)
        return out == (1, 1, shape[1], shape[2])
    return reads


def convert_graphs(specs, labels=None, input_spec=None, levels=None, sizes=None):
    """Build a package from [(name, onnx model or path, source name or None)].

    A graph with a source reads the output of that earlier graph; None reads
    the package input (1, C, H, W). input_spec: optional dict with mean, std
    (lists of C floats) and pixel_scale. levels: optional width levels (REDS)
    [{"name": "w100", "widths": {}}, {"name": "w50", "widths": {graph name:
    [channels of each dense conv / fully connected node in graph order]}}];
    the first is the stored network and takes no widths. Returns the
    package bytes.
    """
    graphs, index, package_shape = [], {}, None
    for name, model, source in specs:
        if name in index:
            raise ConvertError(f"duplicate graph name '{name}'")
        try:
            graph, shape = convert_graph(model, name, _reads_tokens(graphs, index, source),
                                         sizes if source is None else None)
        except ConvertError as err:
            raise ConvertError(f"graph '{name}': {err}") from None
        if source is None:
            if len(shape) != 4:
                raise ConvertError(f"graph '{name}': input {shape} is not an "
                                   "image (1, C, H, W)")
            if package_shape not in (None, shape):
                raise ConvertError(f"graph '{name}': input {shape} differs "
                                   f"from the package input {package_shape}")
            package_shape = shape
        elif source not in index:
            raise ConvertError(f"graph '{name}': source '{source}' is not an "
                               "earlier graph")
        else:
            graph.source = index[source]
            src = graphs[graph.source]
            if src.shapes[src.output] != graph.shapes[graph.input]:
                raise ConvertError(
                    f"graph '{name}': input {graph.shapes[graph.input]} != "
                    f"output {src.shapes[src.output]} of '{source}' (NHWC)")
        index[name] = len(graphs)
        graphs.append(graph)
    if package_shape is None:
        raise ConvertError("no graph reads the package input (source None)")
    _check_labels(graphs, labels)
    try:
        level_list = [_level_entries(graphs, index, lv) for lv in levels or []]
        if level_list and level_list[0][1]:
            raise ConvertError(f"width level '{level_list[0][0]}' comes first: "
                               "it must be the stored network, with no widths")
        data = fmt.write_package(graphs, _input_spec(package_shape, input_spec),
                                 labels, level_list)
    except ValueError as err:
        raise ConvertError(str(err)) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConvertError(f"package of {len(data)} bytes exceeds the limit "
                           f"{MAX_FILE_BYTES}")
    return data


def read_labels(path):
    """One label per line; trailing blank lines are ignored."""
    with open(path, encoding="utf-8-sig") as f:   # a BOM (Windows editors) is not text
        lines = [line.rstrip("\r\n") for line in f]
    while lines and not lines[-1].strip():
        lines.pop()
    seen = {}
    for i, line in enumerate(lines):
        if not line.strip():
            raise ConvertError(f"{path}:{i + 1}: empty label")
        if line in seen:   # two classes by one name: which is which?
            raise ConvertError(f"{path}:{i + 1}: label '{line}' again (line {seen[line] + 1})")
        seen[line] = i
    return lines
