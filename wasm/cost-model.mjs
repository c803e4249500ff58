// What a frame costs on this device, for the governor (./governor.mjs).
//
//   frame ms ≈ speed × (overhead + MACs of the graphs that ran)
//
// Every frame reports the MACs the cascade actually spent, so the model
// keeps two things apart:
//  - how many MACs a configuration spends: the recent per-frame MACs of
//    each level (a property of the model and the inputs, not the device;
//    it never goes stale), and
//  - how fast the device is: `speed`, ms per (overhead + MACs) over the
//    last frames at any level, and `overhead`, the per-frame cost
//    that does not grow with MACs (preprocessing, messaging, small graphs),
//    in MAC-equivalents, learned from recent frames that spent few and
//    many MACs.
// A level's predicted cost is speed × (overhead + its MAC quantile), so a
// throttled device moves every prediction at once, and a level not run for
// a while is predicted from what it spent when it last ran.
//
// Functions here update the `costs` object they are given in place; the
// governor hands them its own copy of the state.

/** The cost part of a governor state. */
export function emptyCosts(table) {
  return { recent: [], macs: table.map(() => []), overhead: null };
}

export function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
}

const median = (values) => quantile(values, 0.5);

function push(list, value, keep) {
  list.push(value);
  if (list.length > keep) list.shift();
}

/** Overhead in MAC-equivalents: learned, else a share of the top level's MACs. */
export function overheadOf(costs, table, p) {
  return costs.overhead ?? p.overheadShare * table.at(-1).macs;
}

/**
 * Records a frame {level, ms, macs}. A frame cut short by a deadline
 * (`exhausted`) says nothing about what its configuration spends.
 */
export function observe(costs, table, frame, p) {
  if (!(frame.macs > 0) || frame.exhausted) return;
  push(costs.macs[frame.level], frame.macs, p.macsWindow);
  push(costs.recent, { ms: frame.ms, macs: frame.macs }, Math.max(p.speedWindow, p.overheadWindow));
  learnOverhead(costs, table, p);
}

/**
 * When recent frames spent clearly different MACs (early and late exits),
 * the line through the medians of the cheap and the dear frames gives the
 * fixed part: overhead = intercept / slope. The split is at the geometric
 * middle of the MACs seen, so a few deep inputs among many early ones
 * count; medians ignore the odd preemption spike; a running average
 * smooths the rest. Groups whose costs should differ by less than half
 * are not used: noise would set the slope.
 */
function learnOverhead(costs, table, p) {
  const frames = costs.recent;
  const macs = frames.map((f) => f.macs), least = Math.min(...macs), most = Math.max(...macs);
  if (most < 2 * least) return;
  const split = Math.sqrt(least * most);
  const lo = frames.filter((f) => f.macs <= split), hi = frames.filter((f) => f.macs > split);
  if (lo.length < 3 || hi.length < 3) return;
  const macsLo = median(lo.map((f) => f.macs)), macsHi = median(hi.map((f) => f.macs));
  // Too close in cost (e.g. a tiny saver's early and late inputs), noise would decide the slope.
  const now = overheadOf(costs, table, p);
  if ((now + macsHi) / (now + macsLo) < 1.5) return;
  const msLo = median(lo.map((f) => f.ms)), msHi = median(hi.map((f) => f.ms));
  const slope = (msHi - msLo) / (macsHi - macsLo);
  if (!(slope > 0)) return;
  const overhead = Math.min(Math.max((msLo - slope * macsLo) / slope, 0), table.at(-1).macs);
  costs.overhead = costs.overhead === null ? overhead : 0.9 * costs.overhead + 0.1 * overhead;
}

/**
 * ms per MAC-equivalent over the recent frames, or null before any: the
 * frame-time quantile over the MACs quantile. Quantile to quantile, not a
 * median of per-frame ratios: a throttled CPU lets short frames through
 * almost untouched and stalls long ones, and the long ones are what a
 * budget has to hold.
 */
export function speedOf(costs, table, p) {
  const recent = costs.recent.slice(-p.speedWindow);
  if (!recent.length) return null;
  const ms = quantile(recent.map((f) => f.ms), p.quantile), macs = quantile(recent.map((f) => f.macs), p.quantile);
  return ms / (overheadOf(costs, table, p) + macs);
}

/**
 * The `p.quantile` of a level's per-frame MACs: observed, or before the
 * level ran, its mean MACs times the tail the other levels showed
 * (quantile / mean; 2 before any), at most its worst case.
 */
export function macsQuantile(costs, table, level, p) {
  const seen = costs.macs[level];
  if (seen.length >= p.minSamples) return quantile(seen, p.quantile);
  const tails = costs.macs.flatMap((m, l) => (m.length >= p.minSamples ? [quantile(m, p.quantile) / table[l].macs] : []));
  const tail = tails.length ? median(tails) : 2;
  return Math.min(table[level].macs * tail, table[level].maxMacs ?? Infinity);
}

/** Predicted `p.quantile` frame time of every level (ms), or nulls before any frame. */
export function predict(costs, table, p) {
  const speed = speedOf(costs, table, p);
  if (speed === null) return table.map(() => null);
  const overhead = overheadOf(costs, table, p);
  return table.map((_, l) => speed * (overhead + macsQuantile(costs, table, l, p)));
}
