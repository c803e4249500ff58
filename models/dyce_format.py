"""Write and read `.dyce` model packages: version 1 (docs/FORMAT.md) and
version 2, the int8 one (docs/INT8.md).

This module knows only the binary layout: `write_package` turns graphs that
are already in dyce terms (NHWC tensor shapes, dyce op codes, OHWI weights)
into bytes, `read_package` parses bytes back into plain Python objects, and
`dump` prints a summary. Converting ONNX into these graphs is convert.py's job.

Int8 (version 2): a Graph's `quant` gives per tensor None (float32) or
(scale, zero_point) (int8); an int8 conv2d / fully_connected node holds
int8 `weight`, int32 `bias` and f32 `wscale` (per output channel); an int8
add / mul with a constant holds int8 `weight` and its scale / zero point in
p[0] (f32 bits, see f32_bits) and p[1]. A package without int8 tensors is
written as version 1, byte for byte as before.
"""

import struct
from dataclasses import dataclass, field

import numpy as np

import dyce_codes
from dyce_codes import (ACTS, OPS, P_CONCAT_INPUTS, P_CONCAT_MORE, P_DH, P_DW,
                        P_GATHER_BLOCK, P_GROUPS, P_KH, P_KW, P_MATMUL_GROUPS, P_MATMUL_ROWWISE, P_MATMUL_TRANS_B,
                        P_PAD_R, P_PAD_T, P_SW)
from dyce_weights import WeightSection as _Weights

MAGIC = b"DYCE"
VERSION = 1
VERSION_INT8 = 2
DTYPE_FLOAT32, DTYPE_INT8 = 0, 1
WEIGHT_F32, WEIGHT_F16 = 0, 1  # NODE weight_type (offset 28; 1: version 2)
QTEN_FIXED_BYTES = 16
QTEN_RECORD_BYTES = 16
HEADER_BYTES = 64
SECTION_ENTRY_BYTES = 32
SECTION_ALIGN = 16
NONE = 0xFFFFFFFF
GRAPH_FIXED_BYTES = 16
GRAPH_RECORD_BYTES = 64
TENSOR_RECORD_BYTES = 16
NODE_RECORD_BYTES = 96
PARAM_COUNT = 12
WEIGHT_ALIGN_FLOATS = 4  # 16-byte boundary
MAX_NAME_BYTES = 255

# OPS, ACTS (op / activation name -> code) and the parameter slots P_* are
# generated from spec/codes.json into dyce_codes.py.
MAX_CONCAT_INPUTS = 2 + PARAM_COUNT - P_CONCAT_INPUTS  # in0, in1, then p[1..]
WINDOW = slice(P_KH, P_SW + 1)       # conv / pool: kh, kw, sh, sw
PADS = slice(P_PAD_T, P_PAD_R + 1)   # top, left, bottom, right
DILATION = slice(P_DH, P_DW + 1)     # conv: dh, dw
OP_NAMES = {code: name for name, code in OPS.items()}
ACT_NAMES = {code: name for name, code in ACTS.items()}

# Section order in the files convert.py writes (the format allows any order).
SECTION_ORDER = ("STRS", "INPT", "LABL", "GRPH", "TENS", "QTEN", "NODE",
                 "WGHT", "LEVL")
LEVEL_NAME_BYTES = 32


def is_dense(node):
    """Nodes a width level sets the width of (others follow their input)."""
    return node.op == "fully_connected" or (node.op == "conv2d" and
                                            node.params[P_GROUPS] == 1)


def is_log_softmax(node):
    """A softmax node with its log flag (P_SOFTMAX_LOG): log-probabilities."""
    p = node.params
    return node.op == "softmax" and len(p) > dyce_codes.P_SOFTMAX_LOG \
        and bool(p[dyce_codes.P_SOFTMAX_LOG])


def node_params(**slots):
    """A node's params from slot names (dyce_codes.P_*), e.g.
    node_params(KH=3, KW=3): unnamed slots are 0, and the list ends at the
    highest slot named (write_package pads it to PARAM_COUNT)."""
    index = {name: getattr(dyce_codes, "P_" + name) for name in slots}
    params = [0] * (max(index.values()) + 1)
    for name, value in slots.items():
        params[index[name]] = value
    return params


@dataclass
class Node:
    """One NODE record; tensors are local indices, weights float32 arrays."""
    op: str
    inputs: list            # [in0] or [in0, in1]; a concat's 2..13 inputs
    output: int
    act: str = "none"
    act_a: float = 0.0
    act_b: float = 0.0
    weight: np.ndarray = None
    bias: np.ndarray = None
    params: list = field(default_factory=list)
    wscale: np.ndarray = None  # int8 conv2d / fully_connected: f32[Cout]


def f32_bits(x):
    """The i32 p[] value holding float32 x's bits (int8 constant scale)."""
    return struct.unpack("<i", struct.pack("<f", x))[0]


def bits_f32(i):
    return struct.unpack("<f", struct.pack("<i", i))[0]


@dataclass
class Graph:
    """One GRPH record with its tensors (NHWC shapes) and nodes."""
    name: str
    source: int             # earlier graph index or NONE
    shapes: list            # [(1, h, w, c), ...] indexed by local tensor id
    nodes: list
    input: int
    output: int
    quant: list = None      # per tensor: None (float32) or (scale, zp) int8
    # converter only, not stored: the ONNX output is a channels-last
    # (1, H, W, C) map, which a graph reading it takes as such
    output_channels_last: bool = False

    def is_int8(self, tensor):
        return bool(self.quant) and self.quant[tensor] is not None


@dataclass
class InputSpec:
    h: int
    w: int
    c: int
    mean: list
    std: list
    pixel_scale: float = 1.0 / 255.0


def gather_block(node):
    """A channel_gather's p[GATHER_BLOCK] (0 or 1: one channel per index)."""
    return node.params[P_GATHER_BLOCK] if len(node.params) > P_GATHER_BLOCK else 0


def gather_channels(node):
    """A channel_gather's input channel for each output channel: its
    indices, each expanded to its block of p[GATHER_BLOCK] channels."""
    index = np.asarray(node.weight, np.int64)
    block = gather_block(node)
    if block > 1:
        index = (index[:, None] + np.arange(block)).ravel()
    return index


def node_macs(node, shapes):
    """Multiply-accumulates of one node, exactly as FORMAT.md defines them."""
    if node.op == "conv2d":
        _, oh, ow, cout = shapes[node.output]
        cin = shapes[node.inputs[0]][3]
        kh, kw = node.params[P_KH], node.params[P_KW]
        groups = node.params[P_GROUPS]
        return oh * ow * cout * kh * kw * (cin // groups)
    if node.op == "fully_connected":
        return shapes[node.inputs[0]][3] * shapes[node.output][3]
    if node.op == "matmul":   # rows of in0 x output channels x the summed length
        _, h, w, cout = shapes[node.output]
        _, hb, wb, cb = shapes[node.inputs[1]]
        inner = (cb // node.params[P_MATMUL_GROUPS] if node.params[P_MATMUL_TRANS_B]
                 else wb if node.params[P_MATMUL_ROWWISE] else hb * wb)
        return h * w * cout * inner
    return 0


def graph_macs(graph):
    return sum(node_macs(n, graph.shapes) for n in graph.nodes)


def _align(n, a=SECTION_ALIGN):
    return (n + a - 1) // a * a


class _Strings:
    """The STRS section: deduplicated NUL-terminated strings."""

    def __init__(self):
        self.data = bytearray()
        self.offsets = {}

    def add(self, text):
        raw = text.encode("utf-8")
        if not 1 <= len(raw) <= MAX_NAME_BYTES or b"\0" in raw:
            raise ValueError(f"string {text!r}: must be 1..{MAX_NAME_BYTES} "
                             "UTF-8 bytes without NUL")
        if text not in self.offsets:
            self.offsets[text] = len(self.data)
            self.data += raw + b"\0"
        return self.offsets[text]


def _input_section(spec):
    fixed = struct.pack("<4If12x", 0, spec.h, spec.w, spec.c, spec.pixel_scale)
    return fixed + np.asarray(list(spec.mean) + list(spec.std), "<f4").tobytes()


def _labels_section(labels, strings):
    offsets = [strings.add(label) for label in labels]
    return struct.pack("<2I", len(labels), 0) + struct.pack(
        f"<{len(offsets)}I", *offsets)


def is_f16_node(node):
    """Weight-only float16: a float node whose weights are float16 arrays
    (its bias is stored as float16 too)."""
    return node.weight is not None and node.weight.dtype == np.float16


def _node_record(node, weights):
    in1 = node.inputs[1] if len(node.inputs) > 1 else NONE
    f16 = is_f16_node(node)
    if node.weight is not None and node.weight.dtype == np.int8:
        weight_off, weight_count = weights.add_int8(node.weight)
    elif f16:
        weight_off, weight_count = weights.add_f16(node.weight)
    else:
        weight_off, weight_count = weights.add(node.weight)
    if node.wscale is not None:
        bias_off, bias_count = weights.add_int8_bias(node.bias, node.wscale)
    elif f16:
        bias_off, bias_count = weights.add_f16(node.bias)
    else:
        bias_off, bias_count = weights.add(node.bias)
    params = list(node.params)
    if node.op == "concat":           # inputs after in0, in1 live in p[]
        if not 2 <= len(node.inputs) <= MAX_CONCAT_INPUTS:
            raise ValueError(f"concat of {len(node.inputs)} inputs: "
                             f"2..{MAX_CONCAT_INPUTS}")
        params = node_params(CONCAT_MORE=len(node.inputs) - 2)
        params[P_CONCAT_INPUTS:] = node.inputs[2:]
    params += [0] * (PARAM_COUNT - len(params))
    return struct.pack(
        "<2I2f4I4I12i", OPS[node.op], ACTS[node.act], node.act_a, node.act_b,
        node.inputs[0], in1, node.output, WEIGHT_F16 if f16 else WEIGHT_F32,
        weight_off, weight_count, bias_off, bias_count, *params)


def _quant_records(graph):
    """QTEN records of one graph's tensors (docs/INT8.md)."""
    out = []
    for t in range(len(graph.shapes)):
        q = graph.quant[t] if graph.quant else None
        if q is None:
            out.append(struct.pack("<IfiI", DTYPE_FLOAT32, 0.0, 0, 0))
            continue
        scale, zp = float(np.float32(q[0])), int(q[1])
        if not (np.isfinite(scale) and scale >= 1e-30 and -128 <= zp <= 127):
            raise ValueError(f"graph '{graph.name}' tensor {t}: int8 scale "
                             f"{scale} / zero point {zp} out of range")
        out.append(struct.pack("<IfiI", DTYPE_INT8, scale, zp, 0))
    return out


def _levels_section(levels):
    """LEVL (docs/FORMAT.md): levels is [(name, [(graph, node, channels)])],
    level 0 being the stored network with no entries."""
    records, entries = [], []
    for name, items in levels:
        raw = name.encode()
        if not 0 < len(raw) < LEVEL_NAME_BYTES:
            raise ValueError(f"width level name '{name}' must be 1..31 bytes")
        records.append(struct.pack("<32s2I8x", raw, len(entries), len(items)))
        entries += [struct.pack("<3I", *e) for e in items]
    return (struct.pack("<2I8x", len(levels), len(entries)) + b"".join(records)
            + b"".join(entries))


def read_levels(data):
    """[(name, [(graph, node, channels)])] from a package's LEVL, or []."""
    body, out = read_sections(data).get("LEVL"), []
    graphs = read_package(data)[0] if body is not None else []
    count = _unpack("<I", body, 0, "LEVL")[0] if graphs else 0
    for i in range(count):
        raw, start, n = _unpack("<32s2I", body, 16 + 48 * i, f"level {i}")
        items = [_unpack("<3I", body, 16 + 48 * count + 12 * e, f"level {i} entry {e}")
                 for e in range(start, start + n)]
        bad = [e for e in items if e[0] >= len(graphs) or e[1] >= len(graphs[e[0]].nodes)]
        _need(not bad, f"level {i}: graph / node {bad[:1]} does not exist")
        out.append((_string(raw + b"\0", 0, f"level {i} name"), items))
    return out


def is_int8_package(graphs):
    return any(g.quant and any(q is not None for q in g.quant) for g in graphs)


def write_package(graphs, spec, labels=None, levels=None, extra=None):
    """Serialise graphs (list of Graph), an InputSpec, labels and width
    levels (see _levels_section) to bytes; extra: [(tag, body)] sections
    copied as they are after the others (e.g. CONF). Version 2 (with QTEN)
    when some tensor is int8, else version 1."""
    strings, weights = _Strings(), _Weights()
    graph_records, tensor_records, node_records, quant = [], [], [], []
    int8 = is_int8_package(graphs)
    # Version 2 (and its QTEN, all float32 without int8) for float16 weights too.
    v2 = int8 or any(is_f16_node(n) for g in graphs for n in g.nodes)
    for g in graphs:
        graph_records.append(struct.pack(
            "<8IQ24x", strings.add(g.name), g.source,
            len(tensor_records), len(g.shapes),
            len(node_records), len(g.nodes), g.input, g.output,
            graph_macs(g)))
        tensor_records += [struct.pack("<4I", *s) for s in g.shapes]
        node_records += [_node_record(n, weights) for n in g.nodes]
        if v2:
            quant += _quant_records(g)

    bodies = {
        "INPT": _input_section(spec),
        "GRPH": struct.pack("<I12x", len(graphs)) + b"".join(graph_records),
        "TENS": b"".join(tensor_records),
        "NODE": b"".join(node_records),
        "WGHT": weights.tobytes(),
    }
    if v2:
        bodies["QTEN"] = (struct.pack("<I12x", len(tensor_records))
                          + b"".join(quant))
    if labels:
        bodies["LABL"] = _labels_section(labels, strings)
    if levels:
        bodies["LEVL"] = _levels_section(levels)
    bodies["STRS"] = bytes(strings.data)  # last: labels add strings
    sections = [(tag, bodies[tag]) for tag in SECTION_ORDER if tag in bodies]
    for tag, body in extra or []:
        if tag in bodies or tag in ("QTEN",):
            raise ValueError(f"extra section {tag}: written by write_package")
        sections.append((tag, bytes(body)))
    return _assemble(sections, VERSION_INT8 if v2 else VERSION)


def _assemble(sections, version=VERSION):
    """Header + section table + 16-byte aligned section bodies."""
    table_end = HEADER_BYTES + SECTION_ENTRY_BYTES * len(sections)
    offset = _align(table_end)
    entries, layout = [], []
    for tag, body in sections:
        entries.append(struct.pack("<4sIQQ8x", tag.encode(), 0, offset,
                                   len(body)))
        layout.append((offset, body))
        offset = _align(offset + len(body))
    file_bytes = layout[-1][0] + len(layout[-1][1])
    out = bytearray(file_bytes)
    out[:HEADER_BYTES] = struct.pack("<4s3IQI36x", MAGIC, version,
                                     HEADER_BYTES, len(sections), file_bytes, 0)
    out[HEADER_BYTES:table_end] = b"".join(entries)
    for off, body in layout:
        out[off:off + len(body)] = body
    return bytes(out)


# ---------------------------------------------------------------- reading

class FormatError(ValueError):
    """A malformed package: the reader checks every offset, count and index it uses."""


def _need(ok, reason):
    if not ok:
        raise FormatError(reason)


def _unpack(layout, body, offset, what):
    _need(offset + struct.calcsize(layout) <= len(body), f"{what} runs past the end of its section")
    return struct.unpack_from(layout, body, offset)


def _array(body, dtype, count, offset, what):
    _need(offset + count * np.dtype(dtype).itemsize <= len(body), f"{what} run past the end of WGHT")
    return np.frombuffer(body, dtype, count, offset)


def _string(strs, offset, what):
    end = strs.find(b"\0", offset)
    _need(end >= 0, f"{what}: string offset {offset} is outside the string table or unterminated")
    try:
        return strs[offset:end].decode("utf-8")
    except UnicodeDecodeError:
        raise FormatError(f"{what}: string at offset {offset} is not UTF-8") from None


def package_version(data):
    _need(len(data) >= HEADER_BYTES, f"file is {len(data)} bytes, shorter than the 64-byte header")
    magic, version, header, _, file_bytes = struct.unpack_from("<4s3IQ", data)
    _need(magic == MAGIC, 'not a dyce package (magic is not "DYCE")')
    _need(version in (VERSION, VERSION_INT8), f"package version {version}; versions 1 and 2 exist")
    _need(header == HEADER_BYTES, f"header_bytes is {header}, not 64")
    _need(file_bytes == len(data), f"header says {file_bytes} bytes but {len(data)} were given (truncated?)")
    return version


def read_sections(data):
    """{tag: body bytes} of every section, in file order."""
    version, out = package_version(data), {}
    count = struct.unpack_from("<I", data, 12)[0]
    table_end = HEADER_BYTES + SECTION_ENTRY_BYTES * count
    _need(1 <= count <= 64 and table_end <= len(data), f"section count {count}: 1..64 in the file")
    for i in range(count):
        raw, _, off, size = struct.unpack_from("<4sIQQ", data, HEADER_BYTES + SECTION_ENTRY_BYTES * i)
        tag = raw.decode("latin-1")
        shown = "".join(c if " " <= c <= "~" else "?" for c in tag)
        _need(off % SECTION_ALIGN == 0 and off >= table_end,
              f"section '{shown}' offset {off} is not 16-byte aligned after the section table")
        _need(off + size <= len(data), f"section '{shown}' (offset {off}, {size} bytes) runs past "
              f"the end of the {len(data)}-byte file")
        _need(tag not in out, f"section '{shown}' appears twice")
        out[tag] = data[off:off + size]
    for tag in ("STRS", "INPT", "GRPH", "TENS", "NODE", "WGHT"):
        _need(tag in out, f"required section '{tag}' is missing")
    _need(("QTEN" in out) == (version == VERSION_INT8),
          f"a version {version} package with{'' if 'QTEN' in out else 'out'} a 'QTEN' section")
    return out


def _read_input(body):
    _, h, w, c, scale = _unpack("<4If", body, 0, "input spec")
    _need(0 < h < 65536 and 0 < w < 65536 and 0 < c <= 4 and len(body) == 32 + 8 * c,
          f"input spec: shape {h}x{w}x{c} (at most 65535x65535x4) in {len(body)} bytes")
    values = np.frombuffer(body, "<f4", 2 * c, 32)
    return InputSpec(h, w, c, list(values[:c]), list(values[c:]), scale)


def _read_node(record, wght, quant, what):
    """One NODE record; wght is the WGHT bytes, quant the graph's per-tensor
    int8 parameters (None entries: float32)."""
    (op, act, a, b, in0, in1, out, wtype, woff, wcount, boff, bcount,
     *params) = struct.unpack("<2I2f4I4I12i", record)
    _need(op in OP_NAMES and act in ACT_NAMES, f"{what}: unknown op {op} or activation {act}")
    inputs = [in0] if in1 == NONE else [in0, in1]
    if OP_NAMES[op] == "concat":
        inputs += params[P_CONCAT_INPUTS:P_CONCAT_INPUTS + max(0, params[P_CONCAT_MORE])]
    _need(all(0 <= t < len(quant) for t in inputs + [out]),
          f"{what}: tensors {inputs} -> {out}: the graph has {len(quant)}")
    int8 = quant[out] is not None and OP_NAMES[op] != "quantize"
    f16, q8 = wtype == WEIGHT_F16, int8 and wtype != WEIGHT_F16  # q8: int32 bias, f32 scales
    bdt, bn = ("<f2", bcount) if f16 else ("<i4", bcount // 2) if q8 else ("<f4", bcount)
    wdt = "i1" if int8 else "<f2" if f16 else "<f4"
    weight = _array(wght, wdt, wcount, 4 * woff, f"{what}: weights") if wcount else None
    bias = _array(wght, bdt, bn, 4 * boff, f"{what}: bias") if bcount else None
    wscale = _array(wght, "<f4", bn, 4 * boff + 2 * bcount, f"{what}: scales") if bcount and q8 else None
    return Node(op=OP_NAMES[op], inputs=inputs, output=out, act=ACT_NAMES[act],
                act_a=a, act_b=b, weight=weight, bias=bias, params=params,
                wscale=wscale)


def read_package(data):
    """Parse a package into (graphs, InputSpec, labels, {graph name: macs}),
    checking what it reads, not all that src/model/load.c checks."""
    sec = read_sections(data)
    strs, wght, tens, nodes, labl = (sec.get(t, bytes(8)) for t in ("STRS", "WGHT", "TENS", "NODE", "LABL"))
    labels = [_string(strs, o, "label") for o in
              _unpack(f"<{_unpack('<I', labl, 0, 'LABL')[0]}I", labl, 8, "LABL")]
    graphs, macs = [], {}
    for i in range(_unpack("<I", sec["GRPH"], 0, "GRPH")[0]):
        what = f"graph {i}"
        (name, source, t0, tn, n0, nn, gin, gout, gmacs) = _unpack(
            "<8IQ", sec["GRPH"], GRAPH_FIXED_BYTES + GRAPH_RECORD_BYTES * i, what)
        _need(source == NONE or source < i, f"{what}: source {source} is not an earlier graph")
        _need((t0 + tn) * TENSOR_RECORD_BYTES <= len(tens) and max(gin, gout) < tn,
              f"{what}: tensors {t0}+{tn} (input {gin}, output {gout}) outside TENS")
        _need((n0 + nn) * NODE_RECORD_BYTES <= len(nodes), f"{what}: nodes {n0}+{nn} outside NODE")
        shapes = [struct.unpack_from("<4I", tens, TENSOR_RECORD_BYTES * t)
                  for t in range(t0, t0 + tn)]
        quant = None if "QTEN" not in sec else [
            (s, zp) if dtype == DTYPE_INT8 else None for dtype, s, zp, _ in (
                _unpack("<IfiI", sec["QTEN"], QTEN_FIXED_BYTES + QTEN_RECORD_BYTES * t, "QTEN")
                for t in range(t0, t0 + tn))]
        graph_nodes = [_read_node(nodes[NODE_RECORD_BYTES * j:NODE_RECORD_BYTES * (j + 1)], wght,
                                  quant or [None] * tn, f"{what} node {j - n0}")
                       for j in range(n0, n0 + nn)]
        graphs.append(Graph(_string(strs, name, f"{what} name"), source, shapes, graph_nodes,
                            gin, gout, quant))
        macs[graphs[-1].name] = gmacs
    _need(graphs, "GRPH holds no graphs")
    return graphs, _read_input(sec["INPT"]), labels, macs


def dump(data, out=print):
    """Print a summary: input spec, labels, and per graph its nodes and MACs."""
    graphs, spec, labels, macs = read_package(data)
    out(f"package: {len(data)} bytes, version {package_version(data)}, input {spec.h}x{spec.w}x{spec.c} "
        f"scale {spec.pixel_scale:.6g} mean {[round(m, 4) for m in spec.mean]}"
        f" std {[round(s, 4) for s in spec.std]}, {len(labels)} labels")
    for g in graphs:
        source = "input" if g.source == NONE else graphs[g.source].name
        ops = {}
        for n in g.nodes:
            key = n.op if n.act == "none" else f"{n.op}+{n.act}"
            if g.is_int8(n.output) and n.op != "quantize":
                key += "(int8)"
            ops[key] = ops.get(key, 0) + 1
        summary = ", ".join(f"{k} {v}" for k, v in sorted(ops.items()))
        out(f"graph {g.name}: source {source}, {g.shapes[g.input]} -> "
            f"{g.shapes[g.output]}, {len(g.nodes)} nodes, "
            f"{macs[g.name]:,} MACs; {summary}")
