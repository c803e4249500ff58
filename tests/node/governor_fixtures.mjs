// Fixtures of the governor tests (tests/node/governor*.test.mjs): a
// synthetic package and device, and the shipped package with frame times
// recorded in Chromium.
import { Governor } from '../../wasm/governor.mjs';

// A package's configs as index.mjs gives them: a Pareto list by MACs plus
// a "backbone" entry whose accuracy the search did not measure.
export const CONFIGS = [
  [0.126e6, 0.78], [1.4e6, 0.86], [3.1e6, 0.895], [5.9e6, 0.912], [9.8e6, 0.921], [14.6e6, 0.926],
].map(([meanMacs, accuracy], index) => ({ index, name: `pareto-${String(index).padStart(2, '0')}`, accuracy, meanMacs, maxMacs: 40e6 }))
  .concat([{ index: 6, name: 'backbone', accuracy: null, meanMacs: null, maxMacs: 40e6 }]);
export const TOP = 5;

/** Deterministic PRNG (mulberry32). */
export function rng(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A device: a frame at config c costs speed × (0.4 ms + 0.12 ms per MMAC
 * spent), where a cascade input either leaves early (70 %, a third of the
 * mean MACs) or runs deep (30 %, the rest), times ±15 % noise; 1 % of
 * frames are hit by a 3× preemption spike (a shared machine).
 * → (config, speed) → {ms, macs}
 */
export function device(seed) {
  const random = rng(seed);
  return (config, speed) => {
    const c = CONFIGS[config], mean = c.meanMacs ?? c.maxMacs;
    const macs = random() < 0.7 ? mean / 3 : mean * (1 - 0.7 / 3) / 0.3;
    const noise = 0.85 + 0.3 * random(), spike = random() < 0.01 ? 3 : 1;
    return { ms: speed * (0.4 + 0.12 * macs / 1e6) * noise * spike, macs };
  };
}

/** Speed-up of `threads` threads on the synthetic device. */
export const threadSpeedup = (threads) => 1 + 0.8 * (threads - 1);

/**
 * Runs a trace: segments of {frames, speed, ...signals} (signals persist
 * until changed; `maxThreads` among them gives the governor threads, and
 * a frame on t threads costs 1 / threadSpeedup(t) as much). Returns every
 * frame {config, threads, ms, over, reason} and the events of the
 * Governor wrapper.
 */
export function run(trace, { seed = 1, budgetMs = 16, params } = {}) {
  const device1 = device(seed);
  const cost = (config, speed, threads) => {
    const { ms, macs } = device1(config, speed);
    return { ms: ms / threadSpeedup(threads), macs };
  };
  const governor = new Governor(CONFIGS, params);
  const events = [], frames = [];
  governor.addEventListener('change', (e) => events.push({ frame: frames.length, ...e.detail }));
  let signals = { budgetMs, battery: null, saver: false, pressure: null, hidden: false, override: null, speed: 1 };
  for (const segment of trace) {
    signals = { ...signals, ...segment };
    const { frames: count, speed, ...rest } = signals;
    let out = governor.update({ ...rest, sample: null }); // a signal change decides at once
    for (let i = 0; i < count; i++) {
      if (signals.hidden) {
        frames.push({ config: out.configIndex, ms: 0, over: false, paused: true });
        continue;
      }
      const config = out.configIndex, threads = out.threads, { ms, macs } = cost(config, speed, threads);
      out = governor.update({ ...rest, sample: { config, ms, macs, threads } });
      frames.push({ config, threads, ms, over: ms > rest.budgetMs, reason: out.reason, rung: out.rung });
    }
  }
  return { frames, events, governor };
}

export const within = (frames) => frames.filter((f) => !f.over).length / frames.length;
export const modeConfig = (frames) => {
  const counts = new Map();
  for (const f of frames) counts.set(f.config, (counts.get(f.config) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0][0];
};


// ---------------------------------------------------------------------------
// The shipped package (models/fashion-mnist.dyce) and frame times recorded
// in Chromium (tests/browser/throttle.test.mjs, no-SIMD build, main thread).

// Its 38 measured configurations: [mean MMACs, accuracy, saver]; savers
// 0, 1, 2 cost 0.126, 0.832 and 2.85 M MACs, the whole backbone about 28 M.
export const SHIPPED = [
  [0.1261, 0.8780, 0], [0.8318, 0.9174, 1], [0.8373, 0.9176, 1], [0.8630, 0.9180, 1], [0.9095, 0.9184, 1],
  [1.1771, 0.9200, 1], [1.5861, 0.9242, 1], [1.6695, 0.9254, 1], [1.6802, 0.9256, 1], [1.6926, 0.9258, 1],
  [1.8088, 0.9262, 1], [2.2772, 0.9270, 1], [2.3296, 0.9278, 1], [2.3707, 0.9280, 1], [2.7161, 0.9304, 1],
  [2.7209, 0.9308, 1], [2.7370, 0.9310, 1], [2.7590, 0.9312, 1], [2.7625, 0.9314, 1], [2.7783, 0.9316, 1],
  [3.0237, 0.9330, 1], [3.0569, 0.9334, 1], [3.3409, 0.9368, 1], [3.5699, 0.9378, 1], [3.6171, 0.9382, 1],
  [3.9588, 0.9388, 1], [4.0167, 0.9392, 1], [4.6178, 0.9408, 1], [4.6916, 0.9412, 1], [5.1172, 0.9414, 1],
  [5.5070, 0.9424, 1], [5.5705, 0.9426, 1], [6.2673, 0.9442, 1], [6.9563, 0.9452, 2], [7.7607, 0.9454, 1],
  [8.8353, 0.9456, 1], [12.9271, 0.9462, 2], [21.6213, 0.9466, 2],
].map(([mmacs, accuracy, saver], index) => ({
  index, name: `pareto-${String(index).padStart(2, '0')}`, accuracy, meanMacs: mmacs * 1e6, maxMacs: 31.9e6, saver: `saver${saver}`,
})).concat([{ index: 38, name: 'backbone', accuracy: null, meanMacs: null, maxMacs: 31e6, saver: null }]);
export const SAVER_MACS = [0.1261e6, 0.8318e6, 2.85e6], DEEP_MACS = 28.3e6;

// Frame times (ms) recorded at 8× CPU throttling (budget 55.6 ms): inputs
// that left at the saver, and inputs that ran the whole backbone; and
// unthrottled backbone frames.
export const THROTTLED_SHALLOW = [0.3, 5.6, 11.8, 4.1, 5.6, 5.7, 4.2, 5.3, 4.4, 2.3, 3.9, 0.6, 0.6, 16.6, 4.5, 6.5, 3.8, 4.3, 4.9,
  3.6, 4.2, 4.9, 8, 5.1, 4.5, 6.5, 0.5, 6.6, 5.9, 8.1, 6.1, 7.3, 10, 18.5, 11.1, 13.6, 12.5, 9.3, 8.1, 9.6, 22.6, 9.4, 7.3,
  5.3, 3.7, 14.7, 42.1, 5.7, 6.2, 0.4, 5.3, 0.5, 5.5, 0.4, 5.3, 0.5, 0.4, 0.5, 0.5, 7.4, 6.2, 4.4, 7.8, 6.7, 4.9, 9.8, 13.6,
  8.6, 13.2, 13, 14.7, 17.5, 6.5, 0.4, 7.1, 6.4, 5.2, 8.3, 6.5, 3.5, 5.3, 4, 5.5, 5.6, 3.7, 0.6, 35.8, 3.8, 14.1, 27.8, 21.1,
  2.6, 6.4, 0.3, 3.6, 0.5, 5.1, 0.4, 5.2, 6.9, 0.5, 0.7, 0.5, 0.6, 0.6, 6.2, 1.7, 4.7, 5.3, 3.5, 13.7, 5.4, 7.4];
export const THROTTLED_DEEP = [52.4, 45, 39.8, 49.7, 51.8, 50.4, 38.6, 67.9, 44.3, 55.5, 59, 58.1, 42.2, 55.9, 47.2, 53.5, 75.3,
  100.1, 84.4, 74.9, 69, 62.9, 83.2, 74.1, 57.2, 57.6, 53.8, 68, 85.8, 110.1, 74.4, 69.5, 77.8, 130.9, 68.5, 122.8, 100.6,
  97.9, 110.9, 95.2, 74.9, 46.3, 80.1];
export const UNTHROTTLED_DEEP = [9.9, 17.5, 22.4, 17.8, 7.8, 7.8, 7.6, 8.2, 10.9, 8.3, 8.9, 7.9, 11.8, 9.5];
export const RECORDED_BUDGET = 500 / 9; // 9 fps, half of each frame

/**
 * The shipped package on the recorded device: an input leaves at its
 * configuration's saver or runs the whole backbone, as often as the
 * configuration's mean MACs say; its frame time is drawn from the
 * recordings (throttled or not). → (config, throttled) → {ms, macs}
 */
export function recordedDevice(seed) {
  const random = rng(seed), pick = (list) => list[Math.floor(random() * list.length)];
  return (config, throttled) => {
    const c = SHIPPED[config], floor = SAVER_MACS[Number(c.saver.at(-1))];
    const deep = random() < (c.meanMacs - floor) / (DEEP_MACS - floor);
    if (deep) return { macs: DEEP_MACS, ms: pick(throttled ? THROTTLED_DEEP : UNTHROTTLED_DEEP) };
    const ms = throttled ? pick(THROTTLED_SHALLOW) : 0.3 + 0.4 * random();
    return { macs: floor, ms: ms * floor / SAVER_MACS[1] };
  };
}

/** Runs the shipped package through segments of {frames, throttled}. */
export function runRecorded(trace, { seed = 1, params } = {}) {
  const cost = recordedDevice(seed);
  const governor = new Governor(SHIPPED, params);
  const events = [], frames = [];
  governor.addEventListener('change', (e) => events.push({ frame: frames.length, ...e.detail }));
  let out = governor.update({ budgetMs: RECORDED_BUDGET });
  for (const { frames: count, throttled } of trace)
    for (let i = 0; i < count; i++) {
      const config = out.configIndex, { ms, macs } = cost(config, throttled);
      out = governor.update({ budgetMs: RECORDED_BUDGET, sample: { config, ms, macs } });
      frames.push({ config, ms, over: ms > RECORDED_BUDGET, rung: out.rung });
    }
  return { frames, events, governor };
}
