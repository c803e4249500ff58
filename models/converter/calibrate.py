"""Calibration: the float ranges of every tensor of a package's graphs.

Tensors are named across graphs: a graph's input is its source graph's
output (the same values), and every graph reading the package input shares
the key "input". The float executor runs the calibration images at every
width level (LEVL) and each tensor's range covers all of them.

Methods: "minmax" (the smallest and largest value seen), "percentile"
(the P-th and (100 − P)-th percentiles of all values seen, from a
2048-bin histogram over [min, max] made in a second pass; bin edges taken
outward, so the range never under-covers the percentile) and "mse" (the
range, among candidates narrowed from [min, max], whose int8 grid gives
the smallest expected squared error over that histogram: rounding error
scale²/12 inside the range, the squared distance to the nearest end
outside it).
"""

import numpy as np
import torch

import dyce_format as fmt

from .executor import Runner

BINS = 2048


def tensor_key(graphs, gi, t):
    """The cross-graph name of graph gi's local tensor t."""
    while True:
        g = graphs[gi]
        if t != g.input:
            return (gi, t)
        if g.source == fmt.NONE:
            return "input"
        gi, t = g.source, graphs[g.source].output


def _batches(x, size):
    for i in range(0, len(x), size):
        yield x[i:i + size]


class _Observer:
    """Per tensor key: min / max (pass 1) or a histogram (pass 2)."""

    def __init__(self, graphs):
        self.graphs = graphs
        self.lo, self.hi, self.hist = {}, {}, {}
        first = [i for i, g in enumerate(graphs) if g.source == fmt.NONE]
        self.input_graph = first[0] if first else None
        self.histogram = False

    def __call__(self, gi, t, value):
        g = self.graphs[gi]
        if t == g.input and (g.source != fmt.NONE or gi != self.input_graph):
            return                      # seen as its source's output
        if isinstance(value, np.ndarray):
            return                      # int8 graphs are not calibrated
        key = tensor_key(self.graphs, gi, t)
        v = value.detach().reshape(-1)
        if not torch.isfinite(v).all():
            raise ValueError(f"graph '{g.name}' tensor {t}: non-finite "
                             "values on the calibration images")
        if not self.histogram:
            lo, hi = float(v.min()), float(v.max())
            self.lo[key] = min(lo, self.lo.get(key, lo))
            self.hi[key] = max(hi, self.hi.get(key, hi))
            return
        lo, hi = self.lo[key], self.hi[key]
        if hi > lo:
            h = torch.histc(v.double(), BINS, lo, hi).numpy()
            self.hist[key] = self.hist.get(key, 0) + h


def _percentile_range(hist, lo, hi, p):
    """(low, high) edges covering the (100 − p)-th and p-th percentiles."""
    if hist is None or hi <= lo:
        return lo, hi
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    width = (hi - lo) / BINS
    q = p / 100.0
    top = int(np.searchsorted(cdf, q, side="left"))
    bottom = int(np.searchsorted(cdf, 1.0 - q, side="left"))
    return lo + bottom * width, min(hi, lo + (top + 1) * width)


MSE_STEPS = 128       # candidate ends per side (fractions of the span)


def _mse_range(hist, lo, hi):
    """(low, high) of the int8 range of least expected squared error over a
    histogram of [lo, hi]; each end is chosen among MSE_STEPS candidates
    moving it toward 0 (or toward the other end when both have one sign),
    the range widened to include 0 as qparams does."""
    if hist is None or hi <= lo:
        return lo, hi
    width = (hi - lo) / BINS
    centres = lo + (np.arange(BINS) + 0.5) * width
    h = np.asarray(hist, np.float64)
    zlo, zhi = min(lo, 0.0), max(hi, 0.0)
    fr = np.arange(1, MSE_STEPS + 1) / MSE_STEPS
    # candidate ends: fractions of the way from 0 to each end (an end
    # already at 0 stays there)
    los = zlo * fr if zlo < 0 else np.array([zlo])
    his = zhi * fr if zhi > 0 else np.array([zhi])
    best, pick = None, (lo, hi)
    for a in los:
        span = his - a                                   # (H,)
        scale = span / 255.0
        inside = (centres[None, :] >= a) & (centres[None, :] <= his[:, None])
        below = np.where(centres < a, (centres - a) ** 2, 0.0)
        above = np.where(centres[None, :] > his[:, None],
                         (centres[None, :] - his[:, None]) ** 2, 0.0)
        err = ((inside * (scale[:, None] ** 2 / 12.0) + below[None, :] + above)
               * h[None, :]).sum(axis=1)
        k = int(np.argmin(err))
        if best is None or err[k] < best:
            best, pick = err[k], (float(a), float(his[k]))
    return pick


def calibrate(graphs, x, levels=(), method="minmax", percentile=99.99,
              batch=100, log=None):
    """{tensor key: (low, high)} float ranges of every tensor computed by
    the float executor on inputs x (N, C, H, W) at every level (lists of
    LEVL entries; level 0, the stored network, is run always)."""
    if method not in ("minmax", "percentile", "mse"):
        raise ValueError(f"calibration method '{method}': minmax, percentile "
                         "or mse")
    if method == "percentile" and not 50.0 < percentile <= 100.0:
        raise ValueError(f"percentile {percentile}: 50 < P <= 100")
    runs = [None] + [entries for _, entries in levels[1:] if entries]
    obs = _Observer(graphs)
    passes = [False] if method == "minmax" else [False, True]
    for histogram in passes:
        obs.histogram = histogram
        for entries in runs:
            runner = Runner(graphs, entries)
            with torch.no_grad():
                for xb in _batches(x, batch):
                    runner.run(xb, obs)
    if method == "minmax":
        return {k: (obs.lo[k], obs.hi[k]) for k in obs.lo}
    if method == "mse":
        return {k: _mse_range(obs.hist.get(k), obs.lo[k], obs.hi[k])
                for k in obs.lo}
    return {k: _percentile_range(obs.hist.get(k), obs.lo[k], obs.hi[k],
                                 percentile) for k in obs.lo}


def qparams(lo, hi):
    """(scale, zero point) of an asymmetric per-tensor int8 range that
    includes 0: scale = (hi − lo) / 255 (binary32), zp = rne(−128 − lo /
    scale) clamped; an empty range (all zeros) gets scale 1."""
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    scale = float(np.float32((hi - lo) / 255.0))
    if not np.isfinite(scale) or scale < 1e-30:
        return 1.0, -128
    zp = int(np.clip(np.rint(-128.0 - lo / scale), -128, 127))
    return scale, zp
