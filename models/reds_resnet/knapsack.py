"""Step 4: the exact bottom-up knapsack over the ResNet-20's units (REDS).

Every unit is a binary choice; maximise the total importance of the chosen
units subject to MACs <= budget, at least MIN_UNITS units per group and
bottom-up nesting (units chosen for a smaller budget stay chosen). Units of
a group are sorted by importance (step 3) and the MACs depend only on HOW
MANY units of a group are chosen, so an optimal choice is a prefix per
group: the variables are the widths S0, S1, S2 (streams) and I1..I9 (inner
widths), value Σ_g cum_g(n_g) (reds.knapsack.cumulative: sum of the n
largest importances, with its 1e-7 tie-break towards more units), MACs as
in nets (bilinear in (stream, inner) per block).

Exact solver, branch and bound over the stream widths: for fixed
S = (S0, S1, S2) the MACs are

    const(S) + Σ_b a_b(S) · I_b,   a_b(S) = hw_b · 9 · (s_in + s_out)

(const = stem + projection shortcuts + classifier), i.e. a knapsack over
the nine inner widths with costs LINEAR in each I_b. Its LP relaxation
(units as fractional items, greedy by importance / MACs; the cum_g are
concave because units are sorted) bounds the value of every S; the S are
visited by decreasing bound and each is solved exactly by a dynamic
programme over (block, MACs / g) with g = gcd of the a_b (on 28x28 inputs
a multiple of 441 = 9·7·7, so at most budget / 441 cells), until the bound of the next S is not
above the best exact value found. Every stream triple is either solved
exactly or proven not better by its bound, so the result is the optimum.

`milp_check` solves the same problem with scipy.optimize.milp (HiGHS) as a
cross-check: one-hot widths y (streams) and x (inner widths), the products
y·x of each block's bilinear MACs as continuous z ≥ 0 with transport
constraints Σ_I z[S, I] = y[S], Σ_S z[S, I] = x[I] (exact for one-hot y,
x), likewise for the two projection shortcuts (S0·S1, S1·S2).
"""

import time

import numpy as np

from reds import context, knapsack as rknapsack

from . import nets

MIN_UNITS = rknapsack.MIN_UNITS
FRACTIONS = rknapsack.FRACTIONS
MILP_GAP = rknapsack.MILP_GAP
NS = len(nets.STREAMS)
cumulative = rknapsack.cumulative


def block_coeffs(stream):
    """MACs per inner unit of every block at stream widths `stream`."""
    w = nets.Widths(tuple(stream), (1,) * nets.BLOCKS)
    out = []
    for b in range(nets.BLOCKS):
        cin, _, cout = nets.block_io(w, b)
        out.append(nets.HW[nets.stream_of(b)] * 9 * (cin + cout))
    return np.array(out, np.int64)


def const_macs(stream):
    """MACs that do not depend on the inner widths (stem, projections,
    classifier)."""
    w = nets.Widths(tuple(stream), (0,) * nets.BLOCKS)
    return nets.total_macs(w)


def _upper_bound(dvs, coeffs, room):
    """LP bound (fractional greedy) of the inner knapsack and the value of
    the greedy's whole items (a feasible solution's value)."""
    lens = [len(d) for d in dvs]
    vals = np.concatenate(dvs)
    if not len(vals):
        return 0.0, 0.0
    costs = np.repeat(coeffs, lens).astype(np.float64)
    order = np.argsort(-vals / costs, kind="stable")
    vals, costs = vals[order], costs[order]
    used = np.cumsum(costs)
    j = int(np.searchsorted(used, room, side="right"))
    whole = float(vals[:j].sum())
    if j == len(vals):
        return whole, whole
    left = room - (used[j - 1] if j else 0.0)
    return whole + float(vals[j] * left / costs[j]), whole


def solve_inner(dvs, coeffs, room):
    """Exact inner knapsack: extra units e_b (0..len(dvs[b])) maximising
    Σ dvs[b][:e_b].sum() s.t. Σ coeffs[b]·e_b <= room. (value, extras)."""
    g = int(np.gcd.reduce(coeffs))
    k = [int(c) // g for c in coeffs]
    cells = int(room) // g + 1
    best = np.zeros(cells)
    args = []
    for b, dv in enumerate(dvs):
        gain = np.concatenate([[0.0], np.cumsum(dv)])
        new = best.copy()
        arg = np.zeros(cells, np.int16)
        for e in range(1, len(gain)):
            shift = k[b] * e
            if shift >= cells:
                break
            cand = best[:cells - shift] + gain[e]
            tgt = new[shift:]
            better = cand > tgt
            tgt[better] = cand[better]
            arg[shift:][better] = e
        best = new
        args.append(arg)
    extras, c = [], cells - 1
    for b in range(len(dvs) - 1, -1, -1):
        e = int(args[b][c])
        extras.append(e)
        c -= k[b] * e
    return float(best[-1]), list(reversed(extras))


def solve(cum, budget, lower, upper):
    """Exact optimum: (Widths, value, MACs, stats)."""
    start = time.time()
    inner_lo, inner_up = lower[NS:], upper[NS:]
    dvs = [np.diff(cum[NS + b])[inner_lo[b]:inner_up[b]]
           for b in range(nets.BLOCKS)]
    base_inner = sum(cum[NS + b][inner_lo[b]] for b in range(nets.BLOCKS))
    cands = []
    for s0 in range(lower[0], upper[0] + 1):
        for s1 in range(lower[1], upper[1] + 1):
            for s2 in range(lower[2], upper[2] + 1):
                stream = (s0, s1, s2)
                coeffs = block_coeffs(stream)
                room = (budget - const_macs(stream)
                        - int(np.dot(coeffs, inner_lo)))
                if room < 0:
                    continue
                base = cum[0][s0] + cum[1][s1] + cum[2][s2] + base_inner
                ub, lb = _upper_bound(dvs, coeffs, room)
                cands.append((base + ub, base + lb, stream, coeffs, room,
                              base))
    if not cands:
        raise RuntimeError(f"no subnetwork fits {budget} MACs")
    bound_s = time.time() - start
    cands.sort(key=lambda c: -c[0])
    best, solved = None, 0
    for ub, _, stream, coeffs, room, base in cands:
        if best is not None and ub <= best[0] + 1e-12 * max(1.0, best[0]):
            break  # no remaining stream triple can beat the best
        value, extras = solve_inner(dvs, coeffs, room)
        solved += 1
        if best is None or base + value > best[0]:
            best = (base + value, stream, extras)
    value, stream, extras = best
    widths = nets.Widths(tuple(int(v) for v in stream),
                         tuple(int(inner_lo[b] + extras[b])
                               for b in range(nets.BLOCKS)))
    macs = nets.total_macs(widths)
    if macs > budget:
        raise RuntimeError(f"knapsack result {widths} exceeds the budget")
    stats = {"triples": len(cands), "exact_solves": solved,
             "bound_seconds": round(bound_s, 2),
             "seconds": round(time.time() - start, 2)}
    return widths, float(value), macs, stats


def value_of(cum, widths):
    return float(sum(c[n] for c, n in zip(cum, widths.units())))


def milp_check(cum, budget, lower, upper, time_limit=120.0):
    """The same optimum with scipy.optimize.milp: (Widths, value, status)."""
    from scipy.optimize import Bounds, LinearConstraint, milp
    from scipy.sparse import lil_matrix
    rng = [range(lower[g], upper[g] + 1) for g in range(len(nets.GROUP_NAMES))]
    var, integral = {}, []

    def add(key, binary):
        var[key] = len(var)
        integral.append(1 if binary else 0)
    for g in range(len(nets.GROUP_NAMES)):
        for n in rng[g]:
            add(("w", g, n), True)
    pairs = []  # (name, group a, group b, MACs per unit product)
    for b in range(nets.BLOCKS):
        s = nets.stream_of(b)
        hw9 = nets.HW[s] * 9
        pairs.append((("o", b), s, NS + b, hw9))       # I_b · s_out
        pairs.append((("i", b), s - 1 if nets.projects(b) else s, NS + b,
                      hw9))                             # I_b · s_in
        if nets.projects(b):
            pairs.append((("p", b), s - 1, s, nets.HW[s]))  # shortcut
    for name, ga, gb, _ in pairs:
        for n in rng[ga]:
            for m in rng[gb]:
                add(("z", name, n, m), False)
    obj = np.zeros(len(var))
    cost = np.zeros(len(var))
    for g in range(len(nets.GROUP_NAMES)):
        for n in rng[g]:
            obj[var[("w", g, n)]] = cum[g][n]
    for n in rng[0]:
        cost[var[("w", 0, n)]] += nets.HW[0] * 9 * nets.INPUT_SHAPE[1] * n   # stem
    for n in rng[NS - 1]:
        cost[var[("w", NS - 1, n)]] += nets.NUM_CLASSES * n
    rows = len(nets.GROUP_NAMES) + sum(len(rng[ga]) + len(rng[gb]) for _, ga, gb, _ in pairs)
    a = lil_matrix((rows + 1, len(var)))
    lo, hi = np.zeros(rows + 1), np.zeros(rows + 1)
    r = 0
    for g in range(len(nets.GROUP_NAMES)):
        for n in rng[g]:
            a[r, var[("w", g, n)]] = 1
        lo[r] = hi[r] = 1
        r += 1
    for name, ga, gb, per in pairs:
        for n in rng[ga]:
            for m in rng[gb]:
                a[r, var[("z", name, n, m)]] = 1
                cost[var[("z", name, n, m)]] = per * n * m
            a[r, var[("w", ga, n)]] = -1
            r += 1
        for m in rng[gb]:
            for n in rng[ga]:
                a[r, var[("z", name, n, m)]] = 1
            a[r, var[("w", gb, m)]] = -1
            r += 1
    a[rows] = cost
    lo[rows], hi[rows] = 0, budget
    res = milp(-obj, constraints=LinearConstraint(a.tocsr(), lo, hi),
               integrality=np.array(integral), bounds=Bounds(0, 1),
               options={"time_limit": time_limit, "mip_rel_gap": MILP_GAP})
    if res.x is None:
        return None, None, res.message
    units = [next(n for n in rng[g] if res.x[var[("w", g, n)]] > 0.5)
             for g in range(len(nets.GROUP_NAMES))]
    return nets.Widths.of_units(units), float(-res.fun), rknapsack.milp_status(res)


def solve_levels(imps, log, check_milp=True, fractions=FRACTIONS):
    """Bottom-up levels [Widths] for `fractions` (25, 50, 75 %) then the full network,
    and the per-level info dicts (knapsack.json)."""
    cum = cumulative(imps)
    full = nets.total_macs(nets.FULL)
    upper = [len(imp) for imp in imps]
    lower = [MIN_UNITS] * len(nets.GROUP_NAMES)
    levels, info = [], []
    for frac in sorted(fractions):
        budget = int(frac * full)
        widths, value, macs, stats = solve(cum, budget, lower, upper)
        entry = {"fraction": frac, "budget": budget,
                 "widths": widths.to_json(), "value": value, "macs": macs,
                 **stats}
        msg = (f"knapsack {frac:.0%}: stream {widths.stream} inner "
               f"{widths.inner}, MACs {macs} ({macs / full:.2%}), "
               f"importance {value:.6g}; {stats['triples']} stream triples, "
               f"{stats['exact_solves']} solved exactly, "
               f"{stats['seconds']:.1f} s")
        if check_milp:
            start = time.time()
            m_w, m_value, status = milp_check(cum, budget, lower, upper)
            milp_s = time.time() - start
            entry.update(milp_widths=m_w.to_json() if m_w else None,
                         milp_value=m_value, milp_seconds=round(milp_s, 2),
                         milp_status=status)
            msg += (f"; milp {m_w and m_w.units()} {m_value} {milp_s:.1f} s "
                    f"({status})")
            rknapsack.check_exact(value, m_value, "B&B", status)
        log(msg)
        levels.append(widths)
        info.append(entry)
        lower = list(widths.units())  # bottom-up: these units stay chosen
    info.append({"fraction": 1.0, "budget": full,
                 "widths": nets.FULL.to_json(),
                 "value": value_of(cum, nets.FULL), "macs": full})
    levels.append(nets.FULL)
    return levels, info


def named_levels(info):
    """[(name, Widths)], w100 first, from knapsack.json."""
    return [(context.level_name(e), nets.Widths.from_json(e["widths"]))
            for e in context.by_width(info)]
