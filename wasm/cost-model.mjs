// What a frame costs on this device, for the governor (./governor.mjs).
//
//   frame ms ≈ speed × (overhead + MACs of the graphs that ran)
//
// Every frame reports the MACs the cascade actually spent, so the model
// keeps two things apart:
//  - how many MACs a configuration spends: the recent per-frame MACs of
//    each rung (a property of the model and the inputs, not the device;
//    it never goes stale), and
//  - how fast the device is: `speed`, ms per (overhead + MACs) over the
//    last frames at any rung, and `overhead`, the per-frame cost
//    that does not grow with MACs (preprocessing, messaging, small graphs),
//    in MAC-equivalents, learned from recent frames that spent few and
//    many MACs.
// A rung's predicted cost is speed × (overhead + its dear frames' MACs, bounded
// from its mean MACs when few frames are known), so a
// throttled device moves every prediction at once, and a rung not run for
// a while is predicted from what it spent when it last ran.
//
// Functions here update the `costs` object they are given in place; the
// governor hands them its own copy of the state.

/** The cost part of a governor state. */
export function emptyCosts(table) {
  return { recent: [], speeds: [], macs: table.map(() => []), floor: table.map(() => null), overhead: null, tick: 0 };
}

export function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(q * (s.length - 1))];
}

const median = (values) => quantile(values, 0.5);
const mean = (values) => values.reduce((a, b) => a + b, 0) / values.length;

/**
 * The tick of the clock the frame times were read on (ms), or 0 when
 * they look exact: a page that is not cross-origin isolated reads
 * performance.now() in whole milliseconds in Firefox and WebKit, so a
 * 0.4 ms frame reads 0 or 1 ms. Any one reading is then off by up to a
 * tick and a median of them is mostly 0 or the tick, but their mean is
 * still right: where frames take a few ticks or less, the overhead line
 * and the pace average instead (below). Taken as 1 ms (or 0.1 ms) when
 * the last 8 or more readings are all whole multiples of it; found once
 * per frame (observe) and kept in the costs.
 */
export function clockTick(frames) {
  if (frames.length < 8) return 0;
  return [1, 0.1].find((tick) => frames.every((f) => Math.abs(f.ms / tick - Math.round(f.ms / tick)) < 1e-6)) ?? 0;
}

/** Do frames of about this many ms read too coarsely on `tick` for their quantiles and medians to mean anything? */
const coarse = (ms, tick) => tick > 0 && ms < 10 * tick;

function push(list, value, keep) {
  list.push(value);
  if (list.length > keep) list.shift();
}

/** Overhead in MAC-equivalents: learned, else a share of the top rung's MACs. */
export function overheadOf(costs, table, p) {
  return costs.overhead ?? p.overheadShare * table.at(-1).macs;
}

/**
 * Records a frame {rung, ms, macs}. A frame cut short by a deadline
 * (`exhausted`) says nothing about what its configuration spends.
 */
export function observe(costs, table, frame, p) {
  if (!(frame.macs > 0) || frame.exhausted) return;
  push(costs.macs[frame.rung], frame.macs, p.macsWindow);
  const floor = costs.floor[frame.rung];
  if (floor === null || frame.macs < floor) costs.floor[frame.rung] = frame.macs;
  push(costs.recent, { ms: frame.ms, macs: frame.macs }, Math.max(p.speedWindow, p.overheadWindow));
  costs.tick = clockTick(costs.recent);
  learnOverhead(costs, table, p);
  push(costs.speeds, speedOf(costs, table, p), p.slowWindow);
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
  // Medians ignore preemption spikes; on a coarse clock only means are right.
  const center = coarse(median(frames.map((f) => f.ms)), costs.tick) ? mean : median;
  const macsLo = center(lo.map((f) => f.macs)), macsHi = center(hi.map((f) => f.macs));
  // Too close in cost (e.g. a tiny saver's early and late inputs), noise would decide the slope.
  const now = overheadOf(costs, table, p);
  if ((now + macsHi) / (now + macsLo) < 1.5) return;
  const msLo = center(lo.map((f) => f.ms)), msHi = center(hi.map((f) => f.ms));
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
 * The least MACs a rung spends (its cheapest exit), or null while
 * unknown: the least it spent so far, or the least any rung with the same
 * saver spent (an input that leaves at the saver costs the same in every
 * configuration that has it), or before any of them ran, the table's
 * `saverMacs` (the mean MACs of the cheapest configuration with that
 * saver, which is at least what the saver costs). Never stale: a property
 * of the model.
 */
export function floorOf(costs, table, rung) {
  const { saver, saverMacs } = table[rung];
  let floor = costs.floor[rung];
  if (saver)
    table.forEach((l, i) => {
      if (l.saver === saver && costs.floor[i] !== null && (floor === null || costs.floor[i] < floor)) floor = costs.floor[i];
    });
  if (floor === null && Number.isFinite(saverMacs)) floor = saverMacs;
  return floor;
}

/**
 * An upper bound on a rung's `p.tailQuantile` of per-frame MACs that needs
 * only its mean (measured by the search on the validation split, i.e. on
 * thousands of inputs) and its cheapest exit m0: no more than a share
 * 1 − q of the inputs can spend more than m0 + (mean − m0) / (1 − q)
 * (Markov's inequality on MACs − m0), and none more than the worst case.
 * null when m0 is unknown. A cascade's deep inputs are rare and expensive:
 * tens of frames of a rung say little about how many there are, its mean
 * says it exactly.
 */
export function tailBound(costs, table, rung, p) {
  const m0 = floorOf(costs, table, rung), { macs: mean, maxMacs } = table[rung];
  if (m0 === null || !(mean >= m0)) return null;
  return Math.min(m0 + (mean - m0) / (1 - p.tailQuantile), maxMacs ?? Infinity);
}

/**
 * How many MACs a rung's dear frames spend (the MAC part of its cost),
 * conservatively:
 *  - after `p.trustSamples` frames at the rung (the last `p.macsWindow`
 *    kept), the most it spent in them, or the tail bound if lower;
 *  - before that, the tail bound, when the rung's cheapest exit is known;
 *  - else its observed `p.quantile` (≥ `p.minSamples` frames), or its mean
 *    MACs times the tail the other rungs showed (quantile / mean; 2
 *    before any), at most its worst case.
 */
export function macsQuantile(costs, table, rung, p) {
  const seen = costs.macs[rung], bound = tailBound(costs, table, rung, p);
  if (seen.length >= p.trustSamples) return Math.min(Math.max(...seen), bound ?? Infinity);
  if (bound !== null) return bound;
  if (seen.length >= p.minSamples) return quantile(seen, p.quantile);
  const tails = costs.macs.flatMap((m, l) => (m.length >= p.minSamples ? [quantile(m, p.quantile) / table[l].macs] : []));
  const tail = tails.length ? median(tails) : 2;
  return Math.min(table[rung].macs * tail, table[rung].maxMacs ?? Infinity);
}

/**
 * The device's pace: the median ms per MAC over the last `p.slowWindow`
 * frames, or null before any. Cruder than the speed (no overhead, no tail)
 * but steady: throttled, a few lucky frames do not move it. The governor
 * compares it with itself to tell that the device has clearly sped up.
 * On a coarse clock, total time over total MACs (a reading of 0 ms is not
 * an infinitely fast frame).
 */
export function paceOf(costs, p) {
  const recent = costs.recent.slice(-p.slowWindow);
  if (!recent.length) return null;
  if (coarse(median(recent.map((f) => f.ms)), costs.tick))
    return Math.max(recent.reduce((sum, f) => sum + f.ms, 0), costs.tick / 2) / recent.reduce((sum, f) => sum + f.macs, 0);
  return median(recent.map((f) => f.ms / f.macs));
}

/**
 * The slowest the device looked over the last `p.slowWindow` frames (the
 * largest speed estimate), or null before any frame: what a step up has to
 * be affordable at. A throttled CPU makes the speed seen from a cheap
 * rung's frames jump by 2-3× from one frame to the next; entering a dearer
 * rung on a lucky estimate is what loses frames.
 */
export function slowSpeedOf(costs) {
  return costs.speeds.length ? Math.max(...costs.speeds) : null;
}

/**
 * Predicted `p.quantile` frame time of every rung (ms), or nulls before
 * any frame; at `speed` (default: the device's speed now).
 */
export function predict(costs, table, p, speed = speedOf(costs, table, p)) {
  if (speed === null) return table.map(() => null);
  const overhead = overheadOf(costs, table, p);
  return table.map((_, l) => speed * (overhead + macsQuantile(costs, table, l, p)));
}
