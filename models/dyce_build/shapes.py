"""Sizes as numbers while torch.fx traces a backbone.

A package has one input size, so a size read from a feature map
(`x.size()[2:]`, `x.shape[-1]`, `b, c, h, w = x.size()`) is a number for
it, not a value that flows through the graph. torch.fx answers every size
with a Proxy, so code that needs numbers — `F.avg_pool2d(x, x.size()[2:])`,
`F.interpolate(x, size=y.shape[2:])`, `if x.size(1) != c:` — cannot be
traced, and a size node reading an earlier map keeps that map alive past
every point where the network could otherwise be split.

While the builder traces, every proxy carries what its node computes on
two example inputs, of batch 1 and 2 (the model in eval mode, without
gradients). A size query answers with numbers where both agree; a size
that follows the batch (dim 0 of a batch-first map, dim 1 of a sequence
laid out (L, N, E)) stays a graph value, so the traced stages still run on
any batch (`x.view(x.size(0), -1)`). A node whose value cannot be computed
leaves its size queries to torch.fx, as before.
"""

import contextlib

import torch
from torch import fx

_NONE = object()
# nn.Module's own methods: torch.fx replaces them while it traces (a
# module call becomes a node), and the examples must run for real.
_MODULE_METHODS = {"__call__": torch.nn.Module.__call__,
                   "__getattr__": torch.nn.Module.__getattr__}


def _map(value, fn):
    if isinstance(value, (tuple, list)):
        return type(value)(_map(v, fn) for v in value)
    if isinstance(value, dict):
        return {k: _map(v, fn) for k, v in value.items()}
    if isinstance(value, slice):
        return slice(_map(value.start, fn), _map(value.stop, fn), _map(value.step, fn))
    return fn(value)


def _example(value, k):
    """The value as computed on example k, or _NONE."""
    values = value.__dict__.get("_dyce_values") if isinstance(value, fx.Proxy) else None
    if isinstance(value, fx.Proxy):
        return _NONE if values is None else values[k]
    return value


def _run(tracer, kind, target, args, kwargs, k):
    missing = []

    def value(a):
        v = _example(a, k)
        if v is _NONE:
            missing.append(a)
        return v

    a, kw = _map(args, value), _map(kwargs, value)
    if missing:
        return _NONE
    if kind == "call_function":
        return target(*a, **kw)
    if kind == "call_method":
        return getattr(a[0], target)(*a[1:], **kw)
    if kind == "call_module":
        return tracer.root.get_submodule(target)(*a, **kw)
    if kind == "get_attr":
        obj = tracer.root
        for part in target.split("."):
            obj = getattr(obj, part)
        return obj
    return _NONE


def evaluate(tracer, kind, target, args, kwargs):
    """(value on example 1, value on example 2) of a node that is not a
    placeholder, or None."""
    try:
        with torch.no_grad(), _modules_run():
            values = tuple(_run(tracer, kind, target, args, kwargs, k) for k in (0, 1))
    except Exception:  # noqa: BLE001 (any failure: no numbers for this node)
        return None
    return None if _NONE in values else values


@contextlib.contextmanager
def _modules_run():
    traced = {name: getattr(torch.nn.Module, name) for name in _MODULE_METHODS}
    for name, method in _MODULE_METHODS.items():
        setattr(torch.nn.Module, name, method)
    try:
        yield
    finally:
        for name, method in traced.items():
            setattr(torch.nn.Module, name, method)


def _tensors(proxy):
    values = proxy.__dict__.get("_dyce_values")
    if values and all(isinstance(v, torch.Tensor) for v in values) \
            and values[0].dim() == values[1].dim():
        return values
    return None


def _size(proxy, original, values, dim=None):
    a, b = values[0].shape, values[1].shape
    if dim is not None:
        d = dim + len(a) if dim < 0 else dim
        if 0 <= d < len(a) and a[d] == b[d]:
            return a[d]
        return original(proxy, "size")(dim)
    if a == b:
        return tuple(a)
    return tuple(n if n == m else original(proxy, "size")(d)
                 for d, (n, m) in enumerate(zip(a, b)))


@contextlib.contextmanager
def concrete_sizes():
    """Proxies answer size(), shape, dim() and ndim with numbers (above)
    while the block runs; torch's own __getattr__ is put back after."""
    original = fx.Proxy.__getattr__

    def getattr_(self, name):
        values = _tensors(self) if name in ("size", "shape", "dim", "ndim") else None
        if values is None:
            return original(self, name)
        if name == "shape":
            return _size(self, original, values)
        if name == "size":
            return lambda dim=None: _size(self, original, values, dim)
        return values[0].dim() if name == "ndim" else values[0].dim

    fx.Proxy.__getattr__ = getattr_
    try:
        yield
    finally:
        fx.Proxy.__getattr__ = original


def drop_unused_sizes(graph):
    """Size nodes made for a batch size nobody read (a shape tuple's
    dim 0 unused): sizes have no effects, so they go."""
    for n in reversed(list(graph.nodes)):
        if n.op == "call_method" and n.target == "size" and not n.users:
            graph.erase_node(n)
