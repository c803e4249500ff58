// How many threads the governor runs the model on (docs/GOVERNOR.md,
// "Threads"). A configuration plus a thread count is one choice:
//  - plugged in (or no battery reading, saver off): every thread the model
//    has, so frames finish soonest and the most accurate rung fits soonest;
//  - discharging or under the battery saver: one thread while it meets the
//    frame budget (threads cost energy: a split convolution does the same
//    work plus the hand-over, on more cores); all of them only when frames
//    on fewer miss the budget, before any accuracy is given up; back to one
//    when one is predicted to fit within `fit` × budget.
// The one-thread cost is predicted from the current one and `threadGain`
// (the speed-up per extra thread). Adding threads because one missed the
// budget holds them `backoff` frames (doubling when dropping them again
// fails at once, as a rung's step up does), or until the device's pace
// shows it has become `fasterBy` times faster: no flapping between counts.
import { paceOf, quantile } from './cost-model.mjs';

/** The thread part of a governor state. */
export function emptyThreadHold() {
  return { until: 0, pace: null, length: 0, dropped: null };
}

/** Frame time on `to` threads relative to `from` threads. */
const ratio = (from, to, p) => (1 + p.threadGain * (from - 1)) / (1 + p.threadGain * (to - 1));

const fmtMs = (x) => `${x < 10 ? x.toFixed(1) : Math.round(x)} ms`;

/**
 * The thread count to switch to, or null to stay: {threads, reason}.
 * `s` is the governor's state (threads, samples, over, frame, costs,
 * threadHold), a copy this function may update.
 */
export function chooseThreads(s, signals, max, budget, p) {
  if (max < 2) return null;
  const b = signals.battery;
  const thrift = signals.saver ? 'battery saver on' : b && !b.charging ? `on battery (${Math.round(b.level * 100)} %, discharging)` : null;
  if (!thrift)
    return s.threads < max ? { threads: max, reason: `${b ? 'plugged in' : 'no battery reading'}: all ${max} threads` } : null;
  const measured = s.samples.length >= p.minSamples;
  const cost = measured ? quantile(s.samples, p.quantile) : null;
  const hold = s.threadHold, pace = paceOf(s.costs, p);
  if (s.threads < max && (s.over >= p.downAfter || (measured && cost > budget))) {
    // Dropping threads failed at once: hold them twice as long this time.
    const again = hold.dropped !== null && s.frame - hold.dropped <= p.probeFrames;
    hold.length = Math.min(again ? Math.max(hold.length * 2, p.backoff[0]) : p.backoff[0], p.backoff[1]);
    hold.until = s.frame + hold.length;
    hold.pace = pace;
    return { threads: max, reason: `${thrift}: the ${fmtMs(budget)} budget needs ${max} threads (${measured ? `p${Math.round(p.quantile * 100)} ${fmtMs(cost)}` : `${s.over} frames over`} on ${s.threads})` };
  }
  if (s.threads > 1) {
    if (s.frame === 0 && !s.samples.length) return { threads: 1, reason: `${thrift}: one thread until the frame budget needs more` };
    // The pace is now measured on more threads than when the hold began.
    const faster = pace !== null && hold.pace !== null && pace * ratio(1, s.threads, p) * p.fasterBy < hold.pace;
    const one = measured ? cost * ratio(s.threads, 1, p) : null;
    if (one !== null && one <= p.fit * budget && (s.frame >= hold.until || faster)) {
      hold.dropped = s.frame;
      return { threads: 1, reason: `${thrift}: one thread meets the ${fmtMs(budget)} budget (predicted ${fmtMs(one)})` };
    }
  }
  return null;
}
