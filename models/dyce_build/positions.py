"""Exit positions of any backbone, found by tracing it with torch.fx.

The backbone is traced with torchvision's feature-extraction tracer
(`torchvision.models.feature_extraction`: node names such as
`layer2.1.relu_1`, torchvision.ops modules kept whole). A node is a *cut*
when its output is the only value computed so far that later nodes read
(parameters aside): the network can stop there and resume from that one
tensor. A *candidate* exit position is a cut with an image-shaped (N, C,
H, W) output that ends a traced module (a block or a stage: the last node
inside `layer2.1` or `features.4`), or, in a network with fewer than two
such block ends, a layer boundary (a cut just before a convolution: a
flat nn.Sequential has no blocks); `--exits` may also name any other
image-shaped cut. A module whose own forward torch.fx cannot trace
(ShuffleNet's blocks call a helper that unpacks `x.size()`) is kept whole,
as one node, when everything else traces: it can end a position but not
hold one. The backbone is split at the chosen
positions into stage graphs and the head (everything after the last
position, its classifier included); chaining them reproduces the backbone's
output, which `split` checks.
"""

import contextlib
import dis
import inspect
from dataclasses import dataclass

import torch
from torch import fx, nn

from . import layouts, nets, shapes
from .errors import BuildError

# No exit after this share of the backbone's MACs: it would save too little.
LATEST = 0.95


@dataclass
class Candidate:
    node: str          # the traced node's name (what --exits takes)
    blocks: list       # the modules it ends (also accepted by --exits)
    index: int         # position in the traced graph
    shape: tuple       # output shape: NCHW, (N, L, D) tokens or, when last, NHWC
    macs: int          # MACs of the backbone up to and including it
    before: str = ""   # a layer boundary: the convolution that follows
    last: bool = False  # a channels-last (N, H, W, C) map (Swin; layouts.py)

    def describe(self, total):
        where = f"before {self.before}" if self.before else f"ends {', '.join(self.blocks)}"
        return (f"{self.node:<28} {where:<31} "
                f"{'x'.join(map(str, self.shape[1:])):>12}  "
                f"{self.macs:>14,} MACs ({100 * self.macs / total:5.1f} %)")


@dataclass
class Traced:
    module: fx.GraphModule
    order: list        # graph nodes in execution order
    names: dict        # node -> qualified name
    macs: list         # cumulative MACs after each node
    candidates: list   # [Candidate] in order: cuts that end a block
    cuts: dict         # node name -> Candidate: every image-shaped cut
    shapes: dict = None  # node -> output shape on the example input (tensors only)

    @property
    def total_macs(self):
        return self.macs[-1]


def _tracer(whole=frozenset(), input_shape=None, open_ops=False):
    """torchvision's tracer, keeping the modules named in `whole` as leaves;
    given the input's shape, sizes read from maps are numbers (shapes.py).
    open_ops: trace inside torchvision.ops' modules too (Conv2dNormActivation,
    SqueezeExcitation; not StochasticDepth), which torchvision keeps whole."""
    from torchvision.models import feature_extraction as fe

    class Tracer(fe.NodePathTracer):
        examples_given = False

        def is_leaf_module(self, m, qualname):
            return qualname in whole or super().is_leaf_module(m, qualname)

        def create_proxy(self, kind, target, args, kwargs, *rest, **options):
            proxy = super().create_proxy(kind, target, args, kwargs, *rest, **options)
            if examples is not None:
                if kind == "placeholder":   # the input: the examples; other arguments: none
                    values, self.examples_given = (None if self.examples_given else examples), True
                else:
                    values = shapes.evaluate(self, kind, target, args, kwargs)
                if values is not None:
                    proxy._dyce_values = values
            return proxy

        def trace(self, root, concrete_args=None):
            sizes = shapes.concrete_sizes() if examples else contextlib.nullcontext()
            with _unpacking(), sizes:
                graph = super().trace(root, concrete_args)
            shapes.drop_unused_sizes(graph)
            _drop_specialised(graph)
            return graph

    examples = None
    if input_shape is not None:
        g = torch.Generator().manual_seed(0)
        examples = tuple(torch.randn((b, *input_shape[1:]), generator=g) for b in (1, 2))
    kwargs = fe._set_default_tracer_kwargs(None)
    if open_ops:
        kwargs["leaf_modules"] = [m for m in kwargs["leaf_modules"]
                                  if m.__name__ == "StochasticDepth"]
    return Tracer(**kwargs)


def _proxy_iter(self):
    """`n, c, h, w = x.shape` unpacks into one proxy per name. torch 1.13
    finds the UNPACK_SEQUENCE at f_lasti // 2, which Python 3.11's inline
    caches break (torch.fx then fails on this common idiom); here it is
    found by its offset."""
    frame = inspect.currentframe().f_back
    inst = next((i for i in dis.get_instructions(frame.f_code)
                 if i.offset == frame.f_lasti), None)
    if inst is not None and inst.opname == "UNPACK_SEQUENCE":
        return (self[i] for i in range(inst.argval))
    return self.tracer.iter(self)


@contextlib.contextmanager
def _unpacking():
    """fx.Proxy (and its Attribute proxies: x.shape) unpack as above while
    the builder traces; torch's own method is put back afterwards."""
    original = fx.Proxy.__iter__
    fx.Proxy.__iter__ = _proxy_iter
    try:
        yield
    finally:
        fx.Proxy.__iter__ = original


def _traces(module, whole, open_ops):
    try:
        _tracer(whole, open_ops=open_ops).trace(module)
        return True
    except Exception:  # noqa: BLE001 (any failure of fx: not traceable)
        return False


def _untraceable(model, whole, open_ops):
    """The smallest modules (outside `whole`) that torch.fx cannot trace on
    their own with `whole` kept whole: their descendants all trace."""
    def inside(path, outer):
        return path == outer or path.startswith(outer + ".")

    failing = []
    for path, m in model.named_modules():
        if not path or any(inside(path, w) for w in whole):
            continue
        own = frozenset(w[len(path) + 1:] for w in whole if w.startswith(path + "."))
        if not _traces(m, own, open_ops):
            failing.append(path)
    return [p for p in failing if not any(q != p and inside(q, p) for q in failing)]


def _trace_graph(model, input_shape, open_ops):
    """(tracer, graph, names of the modules kept whole): the model traced,
    keeping whole the fewest modules torch.fx cannot trace inside; raises
    the first error when even that fails."""
    whole, first = frozenset(), None
    concrete = _defaults(model)
    for _ in range(8):  # each round keeps at least one more module whole
        tracer = _tracer(whole, input_shape, open_ops)
        try:
            return tracer, tracer.trace(model, concrete), whole
        except Exception as err:  # noqa: BLE001
            first = first or err   # the error of the model as written
        more = _untraceable(model, whole, open_ops)
        if not more:
            break
        whole = whole | frozenset(more)
    raise first


def _drop_specialised(graph):
    """torch.fx keeps an argument given in concrete_args as a placeholder
    and asserts its value (`_assert(eq(flag, False))`), which the ONNX
    export of a stage cannot take: both dropped, the input kept."""
    placeholders = [n for n in graph.nodes if n.op == "placeholder"]
    for n in list(graph.nodes):
        check = n.args[0] if n.op == "call_function" and n.target is torch._assert and n.args else None
        if isinstance(check, fx.Node) and check.args and check.args[0] in placeholders[1:]:
            graph.erase_node(n)
            if not check.users:
                graph.erase_node(check)
    for p in placeholders[1:]:
        if not p.users:
            graph.erase_node(p)


def _defaults(model):
    """forward()'s arguments after the input that have defaults, as the
    values the pipeline calls it with: `forward(self, x, return_features=False)`
    traced with the flag as a proxy failed on its `if` ("control flow")."""
    params = list(inspect.signature(model.forward).parameters.values())[1:]
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name: p.default for p in params
            if p.kind in kinds and p.default is not inspect.Parameter.empty} or None


class _Profile(fx.Interpreter):
    """Runs the traced graph once: output shape and MACs of every node
    (conv and linear, counted as docs/FORMAT.md does)."""

    def __init__(self, gm):
        super().__init__(gm)
        self.current, self.macs, self.shapes = None, {}, {}

    def run_node(self, n):
        self.current = n
        out = super().run_node(n)
        if isinstance(out, torch.Tensor):
            self.shapes[n] = tuple(out.shape)
        return out

    def add(self, macs):
        self.macs[self.current] = self.macs.get(self.current, 0) + macs


def _profile(gm, input_shape):
    prof = _Profile(gm)
    nets.run_counting(prof.run, prof.add, input_shape)
    return prof


def _cuts(order):
    """Indices i whose node is the only non-parameter value alive after i."""
    index = {n: i for i, n in enumerate(order)}
    last_use = [max((index[u] for u in n.users), default=i)
                for i, n in enumerate(order)]
    alive, cuts = set(), []
    for i, n in enumerate(order):
        if n.op != "get_attr":
            alive.add(i)
        alive = {j for j in alive if last_use[j] > i}
        if alive == {i} and n.op not in ("placeholder", "output"):
            cuts.append(i)
    return cuts


# torch.nn layers that torch.fx keeps whole and that are blocks of a network
LAYER_BLOCKS = (nn.TransformerEncoderLayer, nn.TransformerDecoderLayer)


def _block_ends(tracer, model, order, names, whole):
    """{node index: [modules whose last traced node it is]} (a module kept
    whole, or one of LAYER_BLOCKS, is a block that one node ends)."""
    modules = dict(model.named_modules())
    last = {}
    for i, n in enumerate(order):
        parts = names.get(n, "").split(".")
        for k in range(1, len(parts) + 1):
            path = ".".join(parts[:k])
            m = modules.get(path)
            if getattr(m, "dyce_op", False):   # one ONNX node (onnx_backbone.Step)
                continue
            if path and m is not None and (path in whole or isinstance(m, LAYER_BLOCKS)
                                           or not tracer.is_leaf_module(m, path)):
                last[path] = i
    ends = {}
    for path, i in last.items():
        ends.setdefault(i, []).append(path)
    return ends


class _EncoderLoop(nn.TransformerEncoder):
    """nn.TransformerEncoder without the checks for its fused path, which
    torch.fx cannot trace: its layers in turn, then its norm, as it
    computes them without masks; so each layer's end is an exit position."""

    def forward(self, src, mask=None, src_key_padding_mask=None):
        if mask is not None or src_key_padding_mask is not None:
            return nn.TransformerEncoder.forward(self, src, mask, src_key_padding_mask)
        for layer in self.layers:
            src = layer(src)
        return src if self.norm is None else self.norm(src)


def trace(model, input_shape, open_ops=False):
    """The Traced backbone with its candidate exit positions (open_ops:
    see _tracer; --widths traces through every layer)."""
    for m in model.modules():
        if type(m) is nn.TransformerEncoder:
            m.__class__ = _EncoderLoop
    try:
        tracer, graph, whole = _trace_graph(model.eval(), input_shape, open_ops)
    except Exception as err:
        first = str(err).splitlines()[0]
        if "not installed as a submodule" in first:
            why = "a module made inside forward, e.g. nn.ReLU()(x): make it in __init__"
        elif "Proxy" in first and "argument" in first:
            why = ("the batch size (x.shape[0], kept symbolic so the stages train on "
                   "any batch) given to a tensor made inside forward, e.g. "
                   "torch.linspace(...).expand(b, 1, h, w): write y.expand_as(x[:, :1]) "
                   "or let broadcasting expand it")
        elif "Proxy" in first:
            why = ("a tensor's values used as Python numbers or iterated over "
                   "(int(x.sum()), for t in x): write it with tensor ops")
        else:
            why = "no data-dependent control flow"
        raise BuildError(f"the backbone cannot be traced by torch.fx "
                         f"({type(err).__name__}: {first}); exits need a "
                         f"traceable forward ({why})") from None
    gm = fx.GraphModule(tracer.root, graph, type(model).__name__)
    order = list(gm.graph.nodes)
    names = {n: tracer.node_to_qualname.get(n, n.name) for n in order}
    prof = _profile(gm, input_shape)
    cumulative, total = [], 0
    for n in order:
        total += prof.macs.get(n, 0)
        cumulative.append(total)
    ends = _block_ends(tracer, model, order, names, whole)
    layout = layouts.follow(gm, order, prof.shapes)
    cuts = {}
    for i in _cuts(order):
        shape = prof.shapes.get(order[i])
        # maps (channels-first or -last), or tokens (N, L, D); not a map
        # regrouped into something else (MaxViT's windows)
        if shape is not None and (len(shape) == 3 or (
                len(shape) == 4 and layout.get(order[i]) is not None)):
            cuts[names[order[i]]] = Candidate(names[order[i]], sorted(ends.get(i, []), key=len),
                                              i, shape, cumulative[i],
                                              last=layout.get(order[i]) == layouts.LAST)
    candidates = [c for c in cuts.values() if c.blocks]
    if sum(0 < c.macs <= LATEST * total for c in candidates) < 2:
        # A flat network (one nn.Sequential of layers) has no blocks to
        # end: its layer boundaries, the cuts just before a convolution,
        # are the positions instead.
        taken = {c.index for c in candidates}
        for c in cuts.values():
            nxt = _next_conv(gm, order, c.index)
            if nxt and c.index not in taken:
                c.before = names[nxt]
                candidates.append(c)
        candidates.sort(key=lambda c: c.index)
    return Traced(gm, order, names, cumulative, candidates, cuts, prof.shapes)


def _next_conv(gm, order, i):
    """The node after order[i] when it is a convolution, else None."""
    for n in order[i + 1:]:
        if n.op == "get_attr":
            continue
        if n.op == "call_module" and isinstance(gm.get_submodule(n.target), nn.Conv2d):
            return n
        if n.op == "call_function" and n.target is torch.nn.functional.conv2d:
            return n
        return None
    return None


def choose(traced, exits="auto", max_exits=8, latest=None):
    """The positions to split at: `auto` spreads up to max_exits block ends
    over the backbone's cost (none after `latest` of it, where an exit saves
    too little), or a comma-separated list of node names (any cut) or block
    names."""
    total = max(traced.total_macs, 1)
    latest = LATEST if latest is None else latest
    if exits != "auto":
        chosen = []
        by_name = dict(traced.cuts)
        for c in traced.candidates:
            for b in c.blocks:
                by_name.setdefault(b, c)
            if c.before:   # as --list-exits says where it is
                by_name.setdefault(f"before {c.before}", c)
        all_names = set(traced.names.values())
        for name in [e.strip() for e in exits.split(",") if e.strip()]:
            if name in by_name:
                chosen.append(by_name[name])
            elif name in all_names:
                raise BuildError(f"--exits {name}: the backbone cannot be split "
                                 "there (another value crosses that point, or it "
                                 "is not an N,C,H,W feature map); see --list-exits")
            elif name.startswith("before "):
                befores = [n for n in by_name if n.startswith("before ")]
                raise BuildError(f"--exits {name}: not a name --list-exits gives ('before NODE' "
                                 f"names a candidate: {', '.join(befores[:6]) or 'none here'}); "
                                 "a cut elsewhere is given by the node it follows")
            else:
                raise BuildError(f"--exits {name}: no such node in the backbone; "
                                 "see --list-exits")
        chosen = sorted({c.index: c for c in chosen}.values(), key=lambda c: c.index)
        if not chosen:
            raise BuildError("--exits: no position given")
        return chosen
    pool = [c for c in traced.candidates if 0 < c.macs <= latest * total]
    # Cuts with nothing to compute between them and the same map (a
    # BatchNorm's output and the activation after it, both the ends of
    # blocks) are one position: the later.
    pool = sorted({(c.macs, tuple(c.shape)): c for c in pool}.values(), key=lambda c: c.index)
    if len(pool) <= max_exits:
        return pool
    picked = {}
    for k in range(1, max_exits + 1):
        target = total * latest * k / max_exits
        best = min(pool, key=lambda c: (abs(c.macs - target), c.index))
        picked[best.index] = best
    return [picked[i] for i in sorted(picked)]


def _subgraph(traced, start, stop, source):
    """GraphModule of order[start:stop] reading `source` (None: the input)."""
    g, env = fx.Graph(), {}
    if source is not None:
        env[source] = g.placeholder("x")

    def arg(n):
        if n not in env:
            if n.op != "get_attr":
                raise BuildError(f"internal: node {traced.names[n]} crosses a cut")
            env[n] = g.node_copy(n, arg)
        return env[n]

    last = None
    for n in traced.order[start:stop]:
        if n.op == "get_attr":
            continue
        if n.op == "output":
            g.output(fx.node.map_arg(n.args[0], arg))
            return fx.GraphModule(traced.module, g)
        env[n] = last = g.node_copy(n, arg)
    g.output(last)
    return fx.GraphModule(traced.module, g)


def split(traced, chosen, input_shape):
    """([stage GraphModules], head GraphModule), checked to chain to the
    backbone's own output."""
    stages, start, source = [], 0, None
    for c in chosen:
        stages.append(_subgraph(traced, start, c.index + 1, source))
        start, source = c.index + 1, traced.order[c.index]
    head = _subgraph(traced, start, len(traced.order), source)
    x = torch.randn(input_shape, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        want = traced.module.eval()(x)
        y = x
        for s in stages:
            y = s.eval()(y)
        got = head.eval()(y)
    if not torch.allclose(got, want, rtol=1e-4, atol=1e-5):
        raise BuildError("internal: the split stages do not reproduce the "
                         f"backbone (max diff {float((got - want).abs().max()):.3g})")
    return stages, head
