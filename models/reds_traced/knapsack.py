"""Nested widths for any network: a greedy knapsack over unit groups.

The REDS knapsack keeps, per MAC budget, the units of greatest total
importance, each level's units inside the next wider level's. For the two
networks with their own pipelines it is solved exactly (models/reds,
models/reds_resnet: a DP over a chain of layers, a bound-and-DP over
stream widths). A traced network's spaces form any graph (residual
streams read by many layers, squeeze-and-excitation branches), where the
MACs are a sum of products of two widths; here the units are dropped one
at a time from the full network, each time the last (least important)
unit of the space whose importance per MAC saved is lowest (the step that
reaches the budget: the least important unit that reaches it alone), and a
level is recorded when the MACs first reach its budget. A space whose width
is a multiple of 4 (16 or more) loses 4 channels at a time, so its widths
stay multiples of 4: the engine's kernels work on 4-wide vectors, and a
narrowed layer of 13 channels runs about as slowly as one of 16. Dropping only ever removes
units, so every level nests inside the wider ones by construction, and
every space keeps at least groups.MIN_UNITS channels.
"""

import numpy as np

from dyce_build.errors import BuildError

from .groups import MIN_UNITS

STEP = 4


def _touching(groups):
    """{space: [terms reading or writing it]}."""
    out = {s: [] for s in groups.narrow}
    for t in groups.terms:
        for s in {t.out, t.inp}:
            if s in out:
                out[s].append(t)
    return out


def _saving(space, terms, w):
    """MACs saved by dropping one unit of `space` at widths w."""
    total = 0
    for t in terms:
        if t.depthwise:
            total += t.factor
        elif t.out == space and t.inp == space:
            total += (2 * w[space] - 1) * t.factor
        elif t.out == space:
            total += w[t.inp] * t.factor
        else:
            total += w[t.out] * t.factor
    return total


def _step(channels):
    """Channels dropped at a time: whole SIMD vectors (STEP) where the
    space's full width is a multiple of them, so that every level keeps
    the engine's 4-wide kernels full; single channels otherwise."""
    return STEP if channels % STEP == 0 and channels >= 4 * STEP else 1


def solve(groups, imps, fractions, log):
    """Widths (tuples over groups.narrow) for each fraction of the full
    MACs, widest first, and the knapsack.json entries. `imps`: importance
    per narrow space in the network's (sorted, descending) channel order."""
    full = groups.macs()
    w = groups.widths_of(None)
    touching = _touching(groups)
    cum = {s: np.asarray(imp, dtype=np.float64) for s, imp in zip(groups.narrow, imps)}
    step = {s: _step(groups.spaces[s].channels) for s in groups.narrow}

    def drop(s):
        """(MACs saved, importance lost) by dropping the last step of s."""
        saved = 0
        for _ in range(step[s]):
            saved += _saving(s, touching[s], w)
            w[s] -= 1
        w[s] += step[s]
        return saved, float(cum[s][w[s] - step[s]:w[s]].sum())

    macs, levels = full, []
    for fraction in sorted(fractions, reverse=True):
        budget = fraction * full
        while macs > budget:
            options = [(s, *drop(s)) for s in groups.narrow
                       if w[s] - step[s] >= max(MIN_UNITS, step[s])]
            options = [o for o in options if o[1] > 0]
            # The last step takes, of the drops that reach the budget alone,
            # the least important (not the cheapest per MAC, which may
            # overshoot the budget by a large one).
            last = [o for o in options if macs - o[1] <= budget]
            best = min(last, key=lambda o: (o[2], o[0])) if last else min(
                options, key=lambda o: o[2] / o[1], default=None)
            if best is None:
                raise BuildError(f"--widths: {100 * fraction:.0f} % of the MACs is below what "
                                 f"{MIN_UNITS} channels per group leave "
                                 f"({100 * macs / full:.1f} %)")
            s, saved, _ = best
            macs -= saved
            w[s] -= step[s]
        level = tuple(w[s] for s in groups.narrow)
        if groups.macs(level) != macs:
            raise RuntimeError("knapsack: MAC bookkeeping differs from the formula")
        kept = sum(float(cum[s][:w[s]].sum()) for s in groups.narrow)
        total = sum(float(c.sum()) for c in cum.values())
        log(f"knapsack {100 * fraction:.0f} %: MACs {macs:,} ({100 * macs / full:.2f} %), "
            f"importance kept {100 * kept / max(total, 1e-30):.1f} %")
        levels.append({"fraction": fraction, "macs": macs, "widths": list(level)})
    info = [{"fraction": 1.0, "macs": full, "widths": list(groups.full())}] + levels
    return None, info
