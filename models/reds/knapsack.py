"""Step 4: the iterative bottom-up knapsack over units (REDS).

Every unit is a binary choice; maximise the total importance of the chosen
units subject to MACs <= budget, at least MIN_UNITS units per layer, and
bottom-up nesting: a unit chosen for a smaller budget stays chosen for
every larger one. Because the units of each layer are sorted by importance
(step 3) and the MACs of a layer do not depend on WHICH of its units are
chosen, only how many, an optimal choice per layer is always a prefix: the
problem is exactly one over the prefix lengths n_0..n_4 (stem, pw1..pw4),
maximise Σ_l cum_l(n_l) (cum_l = sum of the n_l largest importances) s.t.

    MACs(n) = hw·9·C·n_0 (stem) + Σ_{k=1..4} [hw·9·n_{k-1} (dw_k)
              + hw·n_{k-1}·n_k (pw_k)] + K·n_4 (classifier) <= budget,
    max(MIN_UNITS, n_l of the previous level) <= n_l <= 64,

hw the pixels of the stage maps (14·14 on Fashion-MNIST), C the input
channels, K the classes (nets.set_input). The MACs are bilinear in consecutive n's (a chain), so the
exact solver is a dynamic programme over (layer, n_l, MACs/hw so far):
every term except the classifier's is a multiple of hw, the table has
65 × budget/hw cells per layer, and the classifier term is added exactly
when the final state is chosen. `milp_check` solves the same problem as a
0/1 programme with scipy.optimize.milp (HiGHS): one-hot prefix lengths as a
path through a layered graph, one binary per pair (n_{k-1}, n_k) so the
bilinear MACs become linear; the pipeline logs both optima and their solve
times and aborts if they differ.
"""

import time

import numpy as np

from . import nets

MIN_UNITS = 2
MILP_GAP = 1e-7
FRACTIONS = (0.25, 0.5, 0.75)
LAYERS = nets.BLOCKS + 1


TIE_BREAK = 1e-7


def cumulative(imps):
    """cum[l][n] = sum of the n largest importances of layer l.

    Every unit's importance is raised by TIE_BREAK × the largest importance
    so that, between choices of equal importance (units whose importance is
    exactly 0, e.g. dead ReLUs), the one with more units wins."""
    eps = TIE_BREAK * max(float(imp.max()) for imp in imps)
    return [np.concatenate([[0.0], np.cumsum(np.sort(imp)[::-1] + eps)])
            for imp in imps]


def _unary(k):
    """MACs/hw added when layer k's width is n (without the pair term)."""
    # layer 0: stem 9Cn + dw1 9n; layers 1..3: dw_{k+1} 9n; layer 4: none.
    return 9 * nets.INPUT_SHAPE[1] + 9 if k == 0 else (9 if k < LAYERS - 1 else 0)


def solve_dp(cum, budget, lower, upper):
    """Exact optimum: (units tuple, value, MACs)."""
    hw = nets.stage_hw()
    cap = budget // hw
    neg = -np.inf
    value = np.full((upper[0] + 1, cap + 1), neg)
    for n in range(lower[0], upper[0] + 1):
        c = _unary(0) * n
        if c <= cap:
            value[n, c] = cum[0][n]
    back = []
    for k in range(1, LAYERS):
        new = np.full((upper[k] + 1, cap + 1), neg)
        arg = np.zeros((upper[k] + 1, cap + 1), np.int16)
        for m in range(lower[k], upper[k] + 1):
            for n in range(lower[k - 1], upper[k - 1] + 1):
                shift = n * m + _unary(k) * m
                if shift > cap:
                    continue
                cand = value[n, :cap + 1 - shift]
                tgt = new[m, shift:]
                better = cand > tgt
                tgt[better] = cand[better]
                arg[m, shift:][better] = n
            new[m] += cum[k][m]
        back.append(arg)
        value = new
    best, state = neg, None
    for m in range(lower[-1], upper[-1] + 1):
        c = np.arange(cap + 1)
        ok = hw * c + nets.NUM_CLASSES * m <= budget
        row = np.where(ok, value[m], neg)
        j = int(np.argmax(row))
        if row[j] > best:
            best, state = row[j], (m, j)
    if state is None:
        raise RuntimeError(f"no subnetwork fits {budget} MACs")
    units = [state[0]]
    m, c = state
    for k in range(LAYERS - 1, 0, -1):
        n = int(back[k - 1][m, c])
        c -= n * m + _unary(k) * m
        units.append(n)
        m = n
    units = tuple(reversed(units))
    return units, float(best), nets.analytic_macs(units)


def milp_check(cum, budget, lower, upper, time_limit=120.0):
    """The same optimum with scipy.optimize.milp: (units, value, status);
    status starts with "optimal" only when HiGHS proved it (a busy machine
    can stop it at its time limit with a feasible, poorer solution)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix
    ranges = [range(lower[k], upper[k] + 1) for k in range(LAYERS)]
    var = {}  # ("x", n) for layer 0; ("y", k, n, m) for the pair k-1, k
    for n in ranges[0]:
        var[("x", n)] = len(var)
    for k in range(1, LAYERS):
        for n in ranges[k - 1]:
            for m in ranges[k]:
                var[("y", k, n, m)] = len(var)
    obj, cost = np.zeros(len(var)), np.zeros(len(var))
    hw = nets.stage_hw()
    for key, i in var.items():
        if key[0] == "x":
            obj[i], cost[i] = cum[0][key[1]], hw * _unary(0) * key[1]
        else:
            _, k, n, m = key
            obj[i] = cum[k][m]
            cost[i] = hw * (n * m + _unary(k) * m) + (
                nets.NUM_CLASSES * m if k == LAYERS - 1 else 0)
    rows = 1 + sum(len(r) for r in ranges[:-1])
    a = lil_matrix((rows + 1, len(var)))
    for n in ranges[0]:
        a[0, var[("x", n)]] = 1
    r = 1
    for k in range(1, LAYERS):  # flow out of node (k-1, n) = flow in
        for n in ranges[k - 1]:
            for m in ranges[k]:
                a[r, var[("y", k, n, m)]] = 1
            if k == 1:
                a[r, var[("x", n)]] = -1
            else:
                for p in ranges[k - 2]:
                    a[r, var[("y", k - 1, p, n)]] = -1
            r += 1
    a[rows] = cost
    lo = np.zeros(rows + 1)
    hi = np.zeros(rows + 1)
    lo[0] = hi[0] = 1
    lo[rows], hi[rows] = 0, budget
    res = milp(-obj, constraints=LinearConstraint(a.tocsr(), lo, hi),
               integrality=np.ones(len(var)), bounds=Bounds(0, 1),
               options={"time_limit": time_limit,
                        "mip_rel_gap": MILP_GAP})
    if res.x is None:
        return None, None, res.message
    chosen = [key for key, i in var.items() if res.x[i] > 0.5]
    units = [next(k[1] for k in chosen if k[0] == "x")]
    for k in range(1, LAYERS):
        units.append(next(key[3] for key in chosen
                          if key[0] == "y" and key[1] == k
                          and key[2] == units[-1]))
    return tuple(units), float(-res.fun), milp_status(res)


def milp_status(res):
    """milp's message, led by whether HiGHS proved its optimum."""
    return ("optimal: " if res.status == 0 else "not proven: ") + res.message


def check_exact(value, m_value, method, status="optimal"):
    """An exact method's optimum against milp's: milp can never beat it, and
    HiGHS stops within its relative MIP gap (MILP_GAP), so it may land just
    below — unless it stopped at its time limit (status not "optimal"),
    when its solution is only a lower bound."""
    scale = max(1.0, abs(value))
    if m_value is None:
        return
    if m_value > value + 1e-9 * scale or (status.startswith("optimal")
                                          and m_value < value - 2 * MILP_GAP * scale):
        raise RuntimeError(f"{method} {value} != milp {m_value} ({status})")


def solve_levels(imps, log, check_milp=True, fractions=FRACTIONS):
    """Bottom-up levels: [(fraction, units, value, MACs)] from 25 % to 100 %.

    Returns also the per-level solve timings."""
    cum = cumulative(imps)
    full = nets.analytic_macs(nets.FULL_UNITS)
    upper = [len(imp) for imp in imps]
    lower = [MIN_UNITS] * LAYERS
    levels, info = [], []
    for frac in sorted(fractions):
        budget = int(frac * full)
        start = time.time()
        units, value, macs = solve_dp(cum, budget, lower, upper)
        dp_s = time.time() - start
        entry = {"fraction": frac, "budget": budget, "units": list(units),
                 "value": value, "macs": macs, "dp_seconds": round(dp_s, 3)}
        msg = (f"knapsack {frac:.0%}: units {units}, MACs {macs} "
               f"({macs / full:.2%}), importance {value:.6g}, "
               f"DP {dp_s:.2f} s")
        if check_milp:
            start = time.time()
            m_units, m_value, status = milp_check(cum, budget, lower, upper)
            milp_s = time.time() - start
            entry.update(milp_units=list(m_units) if m_units else None,
                         milp_value=m_value, milp_seconds=round(milp_s, 2),
                         milp_status=status)
            msg += f"; milp {m_units} {m_value} {milp_s:.2f} s ({status})"
            check_exact(value, m_value, "DP", status)
        log(msg)
        levels.append(units)
        info.append(entry)
        lower = list(units)  # bottom-up: these units stay chosen
    levels.append(nets.FULL_UNITS)
    info.append({"fraction": 1.0, "budget": full,
                 "units": list(nets.FULL_UNITS),
                 "value": float(sum(c[-1] for c in cum)), "macs": full})
    return levels, info
