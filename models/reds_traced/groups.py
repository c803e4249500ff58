"""Unit groups of any traced network: which channels must share a width.

A width level (REDS) keeps a prefix of the channels of every tensor. Two
tensors must keep the same prefix when an op pairs their channels one to
one: a residual add, a squeeze-and-excitation product, a per-channel op
(BatchNorm, activations, pooling, a depthwise convolution) between them.
A *channel space* is one class of that relation (union-find over the
traced nodes); a dense convolution or a linear layer starts a new one (it
mixes every input channel into every output channel, so its outputs may
keep any prefix). A space is *fixed* — never narrowed — when it holds the
input image or the class scores.

The analysis walks the torch.fx graph of dyce_build.positions.trace and
refuses, naming the node, any op it cannot place: one that mixes channels
other than a dense convolution or a linear layer (a grouped convolution,
a concatenation, LayerNorm over channels, a reshape that mixes channels
with positions, a channel slice), or a parameter used directly in
forward. What it returns is enough for the rest of the pipeline: the
members of every space (importance, reordering), the MAC terms of every
convolution and linear layer (knapsack), the readers (masked fine-tuning).
"""

import math
import operator
from dataclasses import dataclass, field

import torch
from torch import fx, nn
from torch.nn import functional as F

from dyce_build.errors import BuildError

MIN_UNITS = 2   # every narrowed space keeps at least this many channels

_PER_CHANNEL_MODULES = (
    nn.ReLU, nn.ReLU6, nn.Hardswish, nn.Hardsigmoid, nn.SiLU, nn.GELU, nn.Sigmoid, nn.Tanh,
    nn.LeakyReLU, nn.ELU, nn.Mish, nn.Hardtanh, nn.Softplus, nn.Identity, nn.Dropout,
    nn.Dropout2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d,
    nn.Upsample, nn.Flatten)
_PER_CHANNEL_FUNCTIONS = {
    F.relu, F.relu6, F.hardswish, F.hardsigmoid, F.silu, F.gelu, F.leaky_relu, F.elu,
    F.mish, F.hardtanh, F.softplus, F.dropout, F.adaptive_avg_pool2d, F.adaptive_max_pool2d,
    F.avg_pool2d, F.max_pool2d, F.interpolate, torch.relu, torch.sigmoid, torch.tanh,
    torch.flatten, torch.clamp, torch.mean, torch.sum, torch.amax, torch.squeeze,
    torch.abs, torch.exp, torch.sqrt, torch.rsqrt, torch.pow, operator.pow, operator.neg,
    F.pad, torch.unsqueeze}
_PER_CHANNEL_METHODS = {
    "relu", "relu_", "sigmoid", "sigmoid_", "tanh", "clamp", "clamp_", "flatten", "view",
    "reshape", "squeeze", "mean", "sum", "amax", "contiguous", "clone", "float", "to",
    "pow", "abs", "exp", "sqrt", "rsqrt", "neg", "unsqueeze"}
_BINARY = {operator.add, operator.iadd, operator.sub, operator.mul, operator.imul,
           operator.truediv, torch.add, torch.sub, torch.mul, torch.div}
_BINARY_METHODS = {"add", "add_", "sub", "mul", "mul_", "div"}
_REDUCTIONS = {torch.mean, torch.sum, torch.amax, "mean", "sum", "amax"}
_RESHAPES = {torch.flatten, torch.squeeze, torch.unsqueeze, "flatten", "view", "reshape",
             "squeeze", "unsqueeze", operator.getitem}
_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)


def _new_axes(n):
    """x[:, :, None, None] (a squeeze-and-excitation gate made a map): every
    sample and channel kept, axes only added after them."""
    if n.target is not operator.getitem or not isinstance(n.args[1], tuple):
        return False
    index, whole = n.args[1], slice(None, None, None)
    return len(index) >= 2 and index[0] == whole and index[1] == whole and all(
        i is None or i == whole for i in index[2:])


@dataclass
class Space:
    channels: int
    fixed: str = ""                                   # why it keeps every channel
    producers: list = field(default_factory=list)     # modules writing it (out dim)
    channelwise: list = field(default_factory=list)   # BatchNorm, depthwise (dim 0)
    readers: list = field(default_factory=list)       # modules reading it (in dim)

    @property
    def name(self):
        """The first module writing it (a report's label)."""
        return self.producers[0][0] if self.producers else "input"


@dataclass
class Term:
    """MACs of one call of a convolution or linear layer: width(out) ·
    width(inp) · factor, or for a depthwise convolution width(out) · factor."""
    module: str
    out: int
    inp: int
    factor: int
    depthwise: bool
    node: str = ""   # the traced node calling it


@dataclass
class Groups:
    spaces: list     # [Space], indexed by space id
    narrow: list     # ids of the spaces a level may narrow, in graph order
    terms: list      # [Term] in graph order
    node_space: dict = field(default_factory=dict)   # tensor node name -> space id

    def full(self):
        return tuple(self.spaces[s].channels for s in self.narrow)

    def widths_of(self, level):
        """{space id: width} for a level (a tuple over `narrow`; None = full)."""
        level = self.full() if level is None else level
        out = {i: s.channels for i, s in enumerate(self.spaces)}
        out.update(zip(self.narrow, level))
        return out

    def _terms(self, nodes):
        return [t for t in self.terms if nodes is None or t.node in nodes]

    def macs(self, level=None, nodes=None):
        """MACs at a level (of the calls made by `nodes`, a set of node names)."""
        w = self.widths_of(level)
        return sum(w[t.out] * (1 if t.depthwise else w[t.inp]) * t.factor
                   for t in self._terms(nodes))

    def dense_widths(self, level, nodes=None):
        """Output width of every dense convolution / linear call, in graph order."""
        w = self.widths_of(level)
        return [w[t.out] for t in self._terms(nodes) if not t.depthwise]

    def dense_signature(self, nodes=None):
        return [(self.spaces[t.out].channels, self.spaces[t.inp].channels)
                for t in self._terms(nodes) if not t.depthwise]


class _Refused(Exception):
    pass


def _flat(args, kwargs):
    out = []
    fx.node.map_aggregate((args, kwargs), lambda x: out.append(x) or x)
    return out


def _dims(n):
    """The dims a reduction's node names (args or kwargs), as a tuple."""
    dims = n.kwargs.get("dim", n.args[1] if len(n.args) > 1 else None)
    if dims is None:
        return None
    return tuple(dims) if isinstance(dims, (list, tuple)) else (dims,)


class _Analysis:
    """One walk over the traced graph (see the module's docstring)."""

    def __init__(self, traced):
        self.traced, self.parent, self.spaces = traced, [], []
        self.space_of, self.module_spaces, self.terms = {}, {}, []
        self.first = {}   # module -> index of its first call in the graph

    def find(self, s):
        while self.parent[s] != s:
            self.parent[s] = self.parent[self.parent[s]]
            s = self.parent[s]
        return s

    def new(self, channels, fixed=""):
        self.parent.append(len(self.spaces))
        self.spaces.append(Space(channels, fixed))
        return len(self.spaces) - 1

    def union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a == b:
            return a
        sa, sb = self.spaces[a], self.spaces[b]
        if sa.channels != sb.channels:
            raise _Refused(f"pairs {sa.channels} channels with {sb.channels} one to one")
        self.parent[b] = a
        sa.fixed = sa.fixed or sb.fixed
        for attr in ("producers", "channelwise", "readers"):
            getattr(sa, attr).extend(getattr(sb, attr))
        return a

    def shape(self, n):
        return self.traced.shapes.get(n) if isinstance(n, fx.Node) else None

    def space(self, n):
        if n not in self.space_of:
            raise _Refused(f"reads {n.name}, whose channels cannot be followed")
        return self.find(self.space_of[n])

    def tensors(self, n):
        return [a for a in _flat(n.args, n.kwargs) if self.shape(a) is not None]

    def run(self):
        gm = self.traced.module
        for n in self.traced.order:
            try:
                self.visit(gm, n)
            except _Refused as why:
                name = self.traced.names.get(n, n.name)
                raise BuildError(f"--widths: node {name} ({_describe(gm, n)}) {why}; "
                                 f"width levels need every op between dense layers to "
                                 f"keep channels one to one") from None
        return self.result()

    def visit(self, gm, n):
        shape = self.shape(n)
        if n.op == "placeholder":
            self.space_of[n] = self.new(shape[1], "the input image")
        elif n.op == "output":
            for a in self.tensors(n):
                self.spaces[self.space(a)].fixed = "the class scores"
        elif n.op == "get_attr":
            pass   # a parameter: refused where it meets a tensor (binary)
        elif shape is None:
            return  # sizes and other numbers
        elif n.op == "call_module":
            self.first.setdefault(n.target, len(self.first))
            self.module(n, gm.get_submodule(n.target), shape)
        elif n.target in _BINARY or (n.op == "call_method" and n.target in _BINARY_METHODS):
            self.binary(n, shape)
        elif n.target in _PER_CHANNEL_FUNCTIONS or (
                n.op == "call_method" and n.target in _PER_CHANNEL_METHODS) or _new_axes(n):
            self.per_channel(n, shape)
        else:
            raise _Refused("is not a per-channel op")

    def module(self, n, m, shape):
        x = self.tensors(n)[0]
        if isinstance(m, nn.Conv2d):
            self.conv(n, m, x, shape)
        elif isinstance(m, nn.Linear):
            if len(self.shape(x)) != 2:
                raise _Refused("is a linear layer on a map or tokens (not on pooled features)")
            self.dense(n, m, x, shape, factor=1)
        elif isinstance(m, _NORMS):
            self.per_channel(n, shape)
            self.spaces[self.space(n)].channelwise.append((n.target, "norm"))
        elif isinstance(m, _PER_CHANNEL_MODULES) or type(m).__name__ == "StochasticDepth":
            self.per_channel(n, shape)
        elif type(m).__module__.startswith("torch.nn"):
            raise _Refused(f"is a {type(m).__name__}, which --widths cannot narrow (it narrows "
                           "convolutions, linear layers, BatchNorm, pools and activations "
                           "without weights of their own)")
        else:
            raise _Refused(f"is a {type(m).__name__} module torch.fx could not trace inside "
                           "(so its channels cannot be followed)")

    def conv(self, n, m, x, shape):
        factor = m.kernel_size[0] * m.kernel_size[1] * shape[2] * shape[3]
        if m.groups == 1:
            self.dense(n, m, x, shape, factor)
        elif m.groups == m.in_channels == m.out_channels:
            s = self.space(x)
            self.space_of[n] = s
            self.note_module(n.target, s, s)
            self.spaces[s].channelwise.append((n.target, "depthwise"))
            self.terms.append(Term(n.target, s, s, factor, True, n.name))
        else:
            raise _Refused(f"is a grouped convolution ({m.groups} groups)")

    def dense(self, n, m, x, shape, factor):
        inp = self.space(x)
        out = self.new(shape[1])
        self.space_of[n] = out
        out = self.note_module(n.target, out, inp)
        self.spaces[out].producers.append((n.target, "dense"))
        self.spaces[self.find(inp)].readers.append((n.target, "dense"))
        self.terms.append(Term(n.target, out, inp, factor, False, n.name))

    def note_module(self, target, out, inp):
        """A module called twice must see the same spaces both times."""
        if target in self.module_spaces:
            o, i = self.module_spaces[target]
            self.union(i, inp)
            return self.union(o, out)
        self.module_spaces[target] = (out, inp)
        return out

    def per_channel(self, n, shape):
        x = self.tensors(n)[0]
        xs = self.shape(x)
        if n.target in _RESHAPES and tuple(xs) != tuple(shape) and (
                math.prod(xs[2:]) != 1 or math.prod(shape[2:]) != 1):
            raise _Refused(f"reshapes {tuple(xs)} -> {tuple(shape)}: channels no longer "
                           "a dim of their own (a linear layer needs the map pooled "
                           "globally before the flatten)")
        if len(shape) < 2 or shape[1] != xs[1]:
            raise _Refused(f"changes the channel dim ({tuple(xs)} -> {tuple(shape)})")
        if n.target is F.pad and len(n.args[1] if len(n.args) > 1 else n.kwargs["pad"]) > 4:
            raise _Refused("pads the channel dim")
        if n.target in _REDUCTIONS:
            dims = _dims(n)
            if dims is None or any(d % len(xs) == 1 for d in dims):
                raise _Refused("reduces over channels")
        self.space_of[n] = self.space(x)

    def binary(self, n, shape):
        s = None
        for a in self.tensors(n):
            if a.op == "get_attr":
                raise _Refused(f"uses the parameter {a.target} directly in forward "
                               "(make it part of a module)")
            ashape = self.shape(a)
            if math.prod(ashape) == 1 or (len(ashape) >= 2 and ashape[1] == 1 < shape[1]):
                continue   # a number, or one map for all channels
            if len(ashape) < 2 or ashape[1] != shape[1]:
                raise _Refused(f"pairs a {tuple(ashape)} tensor with {tuple(shape)}")
            s = self.space(a) if s is None else self.union(s, self.space(a))
        if s is None:
            raise _Refused("has no input with the output's channels")
        self.space_of[n] = s

    def result(self):
        roots = {}
        for i in range(len(self.spaces)):
            roots.setdefault(self.find(i), None)
        order = sorted(roots)
        index = {r: k for k, r in enumerate(order)}
        spaces = [self.spaces[r] for r in order]
        terms = [Term(t.module, index[self.find(t.out)], index[self.find(t.inp)],
                      t.factor, t.depthwise, t.node) for t in self.terms]
        first = self.first
        for sp in spaces:   # graph order (a union appends one list to another)
            for attr in ("producers", "channelwise", "readers"):
                getattr(sp, attr).sort(key=lambda m: first[m[0]])
        narrow = sorted((k for k, sp in enumerate(spaces)
                         if not sp.fixed and sp.producers and sp.channels > MIN_UNITS),
                        key=lambda k: first[spaces[k].producers[0][0]])
        node_space = {n.name: index[self.find(s)] for n, s in self.space_of.items()}
        return Groups(spaces, narrow, terms, node_space)


def _describe(gm, n):
    if n.op == "call_module":
        return type(gm.get_submodule(n.target)).__name__
    return getattr(n.target, "__name__", str(n.target))


def analyse(traced):
    """Groups of a dyce_build.positions.Traced network, or a BuildError naming
    the first node a width level cannot narrow through."""
    groups = _Analysis(traced).run()
    if not groups.narrow:
        raise BuildError("--widths: the backbone has no channels a width level could drop")
    if groups.macs() != traced.total_macs:
        raise BuildError(f"--widths: the backbone's MACs ({traced.total_macs:,}) are not all in "
                         f"convolutions and linear layers the analysis follows "
                         f"({groups.macs():,}): some op multiplies tensors")
    return groups
