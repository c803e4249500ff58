// The governor's policy, headless: signal traces (device speed, battery,
// saver switch, CPU pressure, visibility, manual override, as timelines)
// drive a simulated device in closed loop, and the decisions are checked:
// it fits the budget by moving down the curve, comes back up, holds still
// under noise, caps compute on low battery only when discharging, treats
// an unknown battery as not low, pauses when hidden, obeys the override,
// and fires one event per change with its reason.
import assert from 'node:assert/strict';
import test from 'node:test';

import { emptyCosts, floorOf, macsQuantile, observe, tailBound } from '../../wasm/cost-model.mjs';
import { DEFAULTS, govern, Governor, governorTable, initialState, predictedCosts } from '../../wasm/governor.mjs';

// A package's configs as index.mjs gives them: a Pareto list by MACs plus
// a "backbone" entry whose accuracy the search did not measure.
const CONFIGS = [
  [0.126e6, 0.78], [1.4e6, 0.86], [3.1e6, 0.895], [5.9e6, 0.912], [9.8e6, 0.921], [14.6e6, 0.926],
].map(([meanMacs, accuracy], index) => ({ index, name: `pareto-${String(index).padStart(2, '0')}`, accuracy, meanMacs, maxMacs: 40e6 }))
  .concat([{ index: 6, name: 'backbone', accuracy: null, meanMacs: null, maxMacs: 40e6 }]);
const TOP = 5;

/** Deterministic PRNG (mulberry32). */
function rng(seed) {
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
function device(seed) {
  const random = rng(seed);
  return (config, speed) => {
    const c = CONFIGS[config], mean = c.meanMacs ?? c.maxMacs;
    const macs = random() < 0.7 ? mean / 3 : mean * (1 - 0.7 / 3) / 0.3;
    const noise = 0.85 + 0.3 * random(), spike = random() < 0.01 ? 3 : 1;
    return { ms: speed * (0.4 + 0.12 * macs / 1e6) * noise * spike, macs };
  };
}

/**
 * Runs a trace: segments of {frames, speed, ...signals} (signals persist
 * until changed). Returns every frame {config, ms, over, reason} and the
 * events of the Governor wrapper.
 */
function run(trace, { seed = 1, budgetMs = 16, params } = {}) {
  const cost = device(seed);
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
      const config = out.configIndex, { ms, macs } = cost(config, speed);
      out = governor.update({ ...rest, sample: { config, ms, macs } });
      frames.push({ config, ms, over: ms > rest.budgetMs, reason: out.reason, rung: out.rung });
    }
  }
  return { frames, events, governor };
}

const within = (frames) => frames.filter((f) => !f.over).length / frames.length;
const modeConfig = (frames) => {
  const counts = new Map();
  for (const f of frames) counts.set(f.config, (counts.get(f.config) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0][0];
};

test('the table keeps measured Pareto configurations, cheapest first', () => {
  const shuffled = [CONFIGS[3], CONFIGS[6], CONFIGS[0], CONFIGS[5], CONFIGS[1], CONFIGS[4], CONFIGS[2]];
  const dominated = { index: 7, name: 'worse', accuracy: 0.85, meanMacs: 4e6, maxMacs: 31e6 };
  const table = governorTable([...shuffled, dominated]);
  assert.deepEqual(table.map((l) => l.config), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual(table[0], { config: 0, name: 'pareto-00', accuracy: 0.78, macs: 0.126e6, maxMacs: 40e6, saver: null, saverMacs: null });
  // Nothing measured: every configuration, by worst-case MACs.
  const unmeasured = governorTable([{ index: 0, name: 'a', accuracy: null, meanMacs: null, maxMacs: 5 }, { index: 1, name: 'b', accuracy: null, meanMacs: null, maxMacs: 2 }]);
  assert.deepEqual(unmeasured.map((l) => l.name), ['b', 'a']);
});

test('govern is pure: the state passed in is not modified', () => {
  const table = governorTable(CONFIGS);
  const state = initialState(table);
  const copy = structuredClone(state);
  let out = { state };
  for (let i = 0; i < 30; i++) {
    const before = structuredClone(out.state);
    const next = govern({ budgetMs: 16, sample: { config: table[out.state.rung].config, ms: 40 } }, out.state, table);
    assert.deepEqual(out.state, before);
    out = next;
  }
  assert.deepEqual(state, copy);
  assert.ok(out.state.rung < TOP, 'moved down on frames over budget');
});

test('a fast device stays on the most accurate configuration, without flapping', () => {
  const { frames, events } = run([{ frames: 3000, speed: 1 }]);
  assert.deepEqual(events, []);
  assert.ok(frames.every((f) => f.config === TOP));
});

test('a throttled device moves down the curve, fits the budget, and moves back up', () => {
  const trace = [{ frames: 300, speed: 1 }, { frames: 900, speed: 6 }, { frames: 600, speed: 1 }];
  const { frames, events } = run(trace);
  const throttled = frames.slice(300, 1200), settled = throttled.slice(60);
  const first = events.find((e) => e.frame >= 300);
  assert.ok(first && first.frame < 300 + 30, `stepped down within 30 frames (${first?.frame})`);
  assert.match(first.reason, /budget/);
  assert.ok(modeConfig(settled) < TOP, 'runs a cheaper configuration while throttled');
  assert.ok(within(settled) >= 0.95, `${(within(settled) * 100).toFixed(1)} % of throttled frames within budget`);
  assert.ok(events.length <= 8, `${events.length} changes: no flapping`);
  const back = events.find((e) => e.frame >= 1200 && e.to === TOP);
  assert.ok(back && back.frame < 1200 + 60, `back on the top configuration within 60 frames of the lift (${back?.frame})`);
  assert.match(back.reason, /headroom/);
  assert.ok(frames.slice(1300).every((f) => f.config === TOP));
});

test('every device speed ends on the most accurate configuration that fits', () => {
  for (const speed of [1, 2, 3, 5, 8, 12, 20]) {
    const { frames, events } = run([{ frames: 1500, speed }], { seed: speed });
    const late = frames.slice(500);
    assert.ok(within(late) >= 0.95, `speed ${speed}: ${(within(late) * 100).toFixed(1)} % within budget`);
    assert.ok(events.length <= 8, `speed ${speed}: ${events.length} changes`);
    // Nothing more accurate would have fit: the next one's deep inputs
    // alone cost more than a step up allows.
    const chosen = modeConfig(late);
    if (chosen < TOP) {
      const deep = CONFIGS[chosen + 1].meanMacs * (1 - 0.7 / 3) / 0.3;
      assert.ok(speed * (0.4 + 0.12 * deep / 1e6) > DEFAULTS.upFit * 16, `speed ${speed}: ${CONFIGS[chosen + 1].name} would have fit`);
    }
  }
});

test('a configuration right at the budget does not make it flap', () => {
  // At speed 4 the top configuration costs about the budget.
  const { events } = run([{ frames: 4000, speed: 4 }], { budgetMs: 4 * (0.4 + 0.12 * 14.6) });
  assert.ok(events.length <= 6, `${events.length} changes in 4000 frames`);
});

test('low battery while discharging caps compute and says why; charging or unknown does not', () => {
  const low = { level: 0.15, charging: false };
  const capped = run([{ frames: 100, battery: null }, { frames: 300, battery: low }, { frames: 300, battery: { level: 0.15, charging: true } }]);
  assert.ok(capped.frames.slice(0, 100).every((f) => f.config === TOP), 'unknown battery is not low');
  const down = capped.events[0];
  assert.equal(down.frame, 100);
  assert.equal(down.reason, 'battery low (15 %, discharging): compute capped at 25 % of the MACs');
  const cap = DEFAULTS.saverCap * CONFIGS[TOP].meanMacs;
  assert.ok(capped.frames.slice(100, 400).every((f) => CONFIGS[f.config].meanMacs <= cap));
  assert.equal(modeConfig(capped.frames.slice(100, 400)), 2, 'the most accurate configuration under the cap');
  const up = capped.events.find((e) => e.frame >= 400);
  assert.ok(up && up.to === TOP && up.frame <= 400 + DEFAULTS.upAfter + 1, 'charging lifts the cap');

  const critical = run([{ frames: 50, battery: { level: 0.05, charging: false } }]);
  assert.ok(critical.frames.every((f) => f.config === 0));
  assert.match(critical.events[0].reason, /^battery critical \(5 %, discharging\)/);

  const fine = run([{ frames: 200, battery: { level: 0.5, charging: false } }]);
  assert.deepEqual(fine.events, []);
});

test('the battery saver switch and CPU pressure cap compute', () => {
  const saver = run([{ frames: 50 }, { frames: 100, saver: true }, { frames: 100, saver: false }]);
  assert.match(saver.events[0].reason, /^battery saver on/);
  assert.ok(saver.frames.slice(50, 150).every((f) => CONFIGS[f.config].meanMacs <= DEFAULTS.saverCap * CONFIGS[TOP].meanMacs));
  assert.equal(saver.frames.at(-1).config, TOP);

  const pressure = run([{ frames: 50, pressure: 'fair' }, { frames: 100, pressure: 'critical' }, { frames: 100, pressure: 'serious' }]);
  assert.equal(pressure.events[0].frame, 50);
  assert.match(pressure.events[0].reason, /^CPU pressure critical/);
  assert.ok(pressure.frames.slice(150).every((f) => CONFIGS[f.config].meanMacs <= 0.5 * CONFIGS[TOP].meanMacs));
  // The strictest cap wins.
  const both = run([{ frames: 20, saver: true, pressure: 'serious' }]);
  assert.match(both.events[0].reason, /^battery saver on/);
  // Every cap in force is listed (the page shows them next to the reason), the strictest sets capMacs.
  const table = governorTable(CONFIGS), top = table.at(-1).macs;
  const caps = govern({ budgetMs: 16, saver: true, pressure: 'serious', battery: { level: 0.15, charging: false } }, initialState(table), table);
  assert.deepEqual(caps.caps.map((c) => c.kind), ['battery low', 'battery saver', 'CPU pressure serious']);
  assert.deepEqual(caps.caps.map((c) => c.macs), [0.25 * top, 0.25 * top, 0.5 * top]);
  assert.match(caps.caps[0].reason, /^battery low \(15 %, discharging\)/);
  assert.equal(caps.capMacs, 0.25 * top);
  assert.deepEqual(govern({ budgetMs: 16, battery: { level: 0.15, charging: true } }, initialState(table), table).caps, []);
});

test('a cap that starts or ends at a rung already within it says so, without moving', () => {
  const table = governorTable(CONFIGS);
  const cheap = 1; // well under the saver's cap
  const state = initialState(table, cheap);
  const on = govern({ budgetMs: 16, saver: true }, state, table);
  assert.equal(on.rung, cheap);
  assert.equal(on.changed, false);
  assert.equal(on.reason, `battery saver on: compute capped at 25 % of the MACs; ${table[cheap].name} is within it`);
  assert.ok(on.capMacs >= table[cheap].macs);
  // Restating the same cap keeps the reason; a battery percentage that changes does too.
  const again = govern({ budgetMs: 16, saver: true }, on.state, table);
  assert.equal(again.reason, on.reason);
  const low = govern({ budgetMs: 16, battery: { level: 0.15, charging: false } }, initialState(table, cheap), table);
  const lower = govern({ budgetMs: 16, battery: { level: 0.14, charging: false } }, low.state, table);
  assert.match(low.reason, /^battery low \(15 %/);
  assert.equal(lower.reason, low.reason);
  const off = govern({ budgetMs: 16, saver: false }, again.state, table);
  assert.equal(off.rung, cheap);
  assert.equal(off.reason, `battery saver ended: automatic from ${table[cheap].name}`);
  assert.equal(off.capMacs, null);
});

test('hidden: paused, nothing measured, nothing changed', () => {
  const table = governorTable(CONFIGS);
  let state = initialState(table);
  const out = govern({ budgetMs: 16, hidden: true, sample: { config: CONFIGS[TOP].index, ms: 1000 } }, state, table);
  assert.equal(out.paused, true);
  assert.equal(out.changed, false);
  assert.equal(out.reason, 'paused: the page is hidden');
  assert.deepEqual(out.state.samples, []);
  state = out.state;
  const back = govern({ budgetMs: 16, hidden: false }, state, table);
  assert.equal(back.paused, false);
  assert.equal(back.configIndex, CONFIGS[TOP].index);
});

test('the manual override wins, even for a configuration outside the table', () => {
  const { frames, events } = run([{ frames: 30 }, { frames: 30, override: 6 }, { frames: 30, override: null }], { budgetMs: 1 });
  assert.ok(frames.slice(30, 60).every((f) => f.config === 6 && f.reason === 'manual override'));
  assert.deepEqual(events.filter((e) => e.frame === 30).map((e) => [e.to, e.reason]), [[6, 'manual override']]);
  const back = events.find((e) => e.frame === 60);
  assert.equal(back.reason, `manual override off: automatic from ${CONFIGS[frames[29].config].name}`);
});

test('a frame of the previous configuration, arriving after a switch, is not counted', () => {
  const table = governorTable(CONFIGS);
  let out = { state: initialState(table) };
  for (let i = 0; i < 3; i++) out = govern({ budgetMs: 16, sample: { config: CONFIGS[TOP].index, ms: 100 } }, out.state, table);
  assert.ok(out.state.rung < TOP);
  const rung = out.state.rung;
  const late = govern({ budgetMs: 16, sample: { config: CONFIGS[TOP].index, ms: 100 } }, out.state, table);
  assert.equal(late.state.rung, rung);
  assert.deepEqual(late.state.samples, []);
});

test('costs: MACs per rung never go stale; the speed is the device\'s now', () => {
  const table = governorTable(CONFIGS);
  let state = initialState(table);
  assert.deepEqual(predictedCosts(state, table), table.map(() => null));
  // The top rung, on inputs that spend 5 M or 30 M MACs, at 0.1 ms per M
  // plus 1 ms: the overhead comes out as 10 M MAC-equivalents.
  const frame = (config, macs, perMac = 0.1e-6) => ({ config, macs, ms: 1 + perMac * macs });
  for (let i = 0; i < 40; i++) state = govern({ budgetMs: 100, sample: frame(5, i % 4 ? 5e6 : 30e6) }, state, table).state;
  assert.ok(Math.abs(state.costs.overhead - 10e6) < 1e5, `overhead ${state.costs.overhead}`);
  let costs = predictedCosts(state, table);
  assert.ok(Math.abs(costs[TOP] - 4) < 1e-6, `top: its own p90, ${costs[TOP]} ms`);
  // Rung 0 has not run: mean MACs × the tail the top showed (30 M / 14.6 M).
  const tail = 30e6 / CONFIGS[TOP].meanMacs;
  assert.ok(Math.abs(costs[0] - 0.1e-6 * (10e6 + CONFIGS[0].meanMacs * tail)) < 1e-6, `rung 0: ${costs[0]} ms`);
  // Forced to rung 2 (saver), which spends 2 M or 8 M MACs; then the device gets 3× slower.
  state = govern({ budgetMs: 100, saver: true }, state, table).state;
  assert.equal(state.rung, 2);
  for (let i = 0; i < 40; i++) state = govern({ budgetMs: 100, saver: true, sample: frame(2, i % 4 ? 2e6 : 8e6, 0.3e-6) }, state, table).state;
  costs = predictedCosts(state, table);
  // The top rung's MACs are remembered; the speed is the new one (the 1 ms
  // fixed part did not slow down here, so the prediction errs on the safe side).
  assert.ok(costs[TOP] > 3 * 3, `top predicted ${costs[TOP]} ms at the new speed`);
});

test('a failed step up backs off before trying that rung again', () => {
  // Rungs 4 and 5 run 3× slower than their MACs say (say, a kernel this
  // device lacks): every probe of them fails, and the waits double.
  const cost = device(7);
  const governor = new Governor(CONFIGS);
  const probes = new Map();
  let frame = 0, over = 0;
  governor.addEventListener('change', (e) => {
    if (e.detail.to >= 4 && e.detail.to > e.detail.from) probes.set(e.detail.to, [...(probes.get(e.detail.to) ?? []), frame]);
  });
  let out = governor.update({ budgetMs: 16, saver: true });
  for (; frame < 4000; frame++) {
    const config = out.configIndex, { ms, macs } = cost(config, 2);
    const slow = ms * (config >= 4 ? 3 : 1);
    over += slow > 16 ? 1 : 0;
    out = governor.update({ budgetMs: 16, saver: frame < 100, sample: { config, ms: slow, macs } });
  }
  assert.ok(over / frame < 0.02, `${over} of ${frame} frames over budget`);
  for (const [rung, frames] of probes) {
    const gaps = frames.slice(1).map((f, i) => f - frames[i]);
    // The waits double: 100, 200, 400, … frames.
    assert.ok(gaps.every((g, i) => g >= Math.min(DEFAULTS.backoff[0] * 2 ** i, DEFAULTS.backoff[1])), `rung ${rung} probed at ${frames}`);
  }
});

test('the Governor fires one change event per change, with the configuration name and reason', () => {
  const governor = new Governor(CONFIGS);
  const seen = [];
  governor.addEventListener('change', (e) => seen.push(e.detail));
  assert.equal(governor.configIndex, TOP);
  const out = governor.update({ budgetMs: 16, saver: true });
  assert.equal(out.changed, true);
  assert.deepEqual(seen, [{ from: TOP, to: 2, name: 'pareto-02', reason: out.reason }]);
  governor.update({ budgetMs: 16, saver: true });
  assert.equal(seen.length, 1);
});

// ---------------------------------------------------------------------------
// The shipped package (models/fashion-mnist.dyce) and frame times recorded
// in Chromium (tests/browser/throttle.test.mjs, no-SIMD build, main thread).

// Its 38 measured configurations: [mean MMACs, accuracy, saver]; savers
// 0, 1, 2 cost 0.126, 0.832 and 2.85 M MACs, the whole backbone about 28 M.
const SHIPPED = [
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
const SAVER_MACS = [0.1261e6, 0.8318e6, 2.85e6], DEEP_MACS = 28.3e6;

// Frame times (ms) recorded at 8× CPU throttling (budget 55.6 ms): inputs
// that left at the saver, and inputs that ran the whole backbone; and
// unthrottled backbone frames.
const THROTTLED_SHALLOW = [0.3, 5.6, 11.8, 4.1, 5.6, 5.7, 4.2, 5.3, 4.4, 2.3, 3.9, 0.6, 0.6, 16.6, 4.5, 6.5, 3.8, 4.3, 4.9,
  3.6, 4.2, 4.9, 8, 5.1, 4.5, 6.5, 0.5, 6.6, 5.9, 8.1, 6.1, 7.3, 10, 18.5, 11.1, 13.6, 12.5, 9.3, 8.1, 9.6, 22.6, 9.4, 7.3,
  5.3, 3.7, 14.7, 42.1, 5.7, 6.2, 0.4, 5.3, 0.5, 5.5, 0.4, 5.3, 0.5, 0.4, 0.5, 0.5, 7.4, 6.2, 4.4, 7.8, 6.7, 4.9, 9.8, 13.6,
  8.6, 13.2, 13, 14.7, 17.5, 6.5, 0.4, 7.1, 6.4, 5.2, 8.3, 6.5, 3.5, 5.3, 4, 5.5, 5.6, 3.7, 0.6, 35.8, 3.8, 14.1, 27.8, 21.1,
  2.6, 6.4, 0.3, 3.6, 0.5, 5.1, 0.4, 5.2, 6.9, 0.5, 0.7, 0.5, 0.6, 0.6, 6.2, 1.7, 4.7, 5.3, 3.5, 13.7, 5.4, 7.4];
const THROTTLED_DEEP = [52.4, 45, 39.8, 49.7, 51.8, 50.4, 38.6, 67.9, 44.3, 55.5, 59, 58.1, 42.2, 55.9, 47.2, 53.5, 75.3,
  100.1, 84.4, 74.9, 69, 62.9, 83.2, 74.1, 57.2, 57.6, 53.8, 68, 85.8, 110.1, 74.4, 69.5, 77.8, 130.9, 68.5, 122.8, 100.6,
  97.9, 110.9, 95.2, 74.9, 46.3, 80.1];
const UNTHROTTLED_DEEP = [9.9, 17.5, 22.4, 17.8, 7.8, 7.8, 7.6, 8.2, 10.9, 8.3, 8.9, 7.9, 11.8, 9.5];
const RECORDED_BUDGET = 500 / 9; // 9 fps, half of each frame

/**
 * The shipped package on the recorded device: an input leaves at its
 * configuration's saver or runs the whole backbone, as often as the
 * configuration's mean MACs say; its frame time is drawn from the
 * recordings (throttled or not). → (config, throttled) → {ms, macs}
 */
function recordedDevice(seed) {
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
function runRecorded(trace, { seed = 1, params } = {}) {
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

test('rungs: near-identical configurations are thinned to ≥ 15 % apart, keeping the cheapest and the most accurate', () => {
  const table = governorTable(SHIPPED);
  assert.deepEqual(table.map((l) => l.name), ['pareto-00', 'pareto-04', 'pareto-05', 'pareto-10', 'pareto-13', 'pareto-19',
    'pareto-22', 'pareto-26', 'pareto-28', 'pareto-31', 'pareto-33', 'pareto-35', 'pareto-36', 'pareto-37']);
  for (let l = 1; l < table.length - 1; l++)
    assert.ok(table[l + 1].macs >= 1.15 * table[l].macs, `${table[l].name} → ${table[l + 1].name}`);
  // What an input that leaves at a saver costs, at most: the cheapest configuration with that saver.
  assert.deepEqual([table[0].saverMacs, table[1].saverMacs, table.at(-1).saverMacs], [0, 1, 33].map((c) => SHIPPED[c].meanMacs));
  assert.equal(governorTable(SHIPPED, { minGap: 0 }).length, 38);
});

test('costs: a rung\'s rare deep inputs are bounded from its mean MACs, not guessed from a few frames', () => {
  const table = governorTable(SHIPPED), p = DEFAULTS;
  const costs = emptyCosts(table);
  const l05 = table.findIndex((l) => l.name === 'pareto-05'), l26 = table.findIndex((l) => l.name === 'pareto-26');
  // Before any frame with saver 1, its cost is at most the cheapest such configuration's mean.
  assert.equal(floorOf(costs, table, l26), 0.8318e6);
  // Twenty frames of pareto-26 that all left at the saver (it sends ~12 % of inputs deep):
  for (let i = 0; i < 20; i++) observe(costs, table, { rung: l26, ms: 4, macs: SAVER_MACS[1] }, p);
  assert.equal(floorOf(costs, table, l05), SAVER_MACS[1], 'the floor is shared by the rungs with the same saver');
  // The bound: m0 + (mean − m0) / (1 − 0.975), at most the worst case.
  assert.ok(Math.abs(tailBound(costs, table, l05, p) - (0.8318e6 + (1.1771e6 - 0.8318e6) * 40)) < 1);
  assert.equal(tailBound(costs, table, l26, p), table[l26].maxMacs);
  assert.equal(macsQuantile(costs, table, l26, p), table[l26].maxMacs, 'not the 0.83 M its twenty frames showed');
  // After trustSamples frames, what the rung spent at most, when below the bound.
  for (let i = 0; i < DEFAULTS.trustSamples; i++)
    observe(costs, table, { rung: l05, ms: 4, macs: i === 7 ? DEEP_MACS : SAVER_MACS[1] }, p);
  assert.equal(macsQuantile(costs, table, l05, p), tailBound(costs, table, l05, p));
  const l00 = 0;
  for (let i = 0; i < DEFAULTS.trustSamples; i++) observe(costs, table, { rung: l00, ms: 1, macs: SAVER_MACS[0] }, p);
  assert.equal(macsQuantile(costs, table, l00, p), SAVER_MACS[0]);
});

test('recorded trace, shipped package at 8× throttling: ≥ 95 % of frames within budget, down the curve and back', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    const { frames, events } = runRecorded([{ frames: 200, throttled: false }, { frames: 1000, throttled: true }, { frames: 400, throttled: false }], { seed });
    assert.ok(frames.slice(0, 200).every((f) => f.config === 37), `seed ${seed}: the top rung unthrottled`);
    const first = events.find((e) => e.frame >= 200);
    assert.ok(first && first.frame < 200 + 30, `seed ${seed}: stepped down within 30 frames (${first?.frame})`);
    // The browser test counts after 3 s of settling: ~30 frames at 9 fps.
    const settled = frames.slice(first.frame + 30, 1200);
    assert.ok(within(settled) >= 0.95, `seed ${seed}: ${(within(settled) * 100).toFixed(1)} % within budget`);
    for (let i = first.frame + 30; i + 100 <= 1200; i += 50)
      assert.ok(within(frames.slice(i, i + 100)) >= 0.95, `seed ${seed}: frames ${i}–${i + 100}: ${(within(frames.slice(i, i + 100)) * 100).toFixed(0)} %`);
    const ups = events.filter((e) => e.frame >= 200 && e.frame < 1200 && e.to > e.from);
    assert.ok(ups.length <= 2, `seed ${seed}: ${ups.length} step ups while throttled`);
    const back = events.find((e) => e.frame >= 1200 && e.to === 37);
    assert.ok(back && back.frame < 1200 + 100, `seed ${seed}: back on the top rung within 100 frames (${back?.frame})`);
    assert.match(back.reason, /headroom/);
  }
});

test('step ups while throttled: at the slowest recent speed, and not to what recently left no headroom', (t) => {
  // Throttled, a cheap rung's frame times jump 2-3× from one frame to the
  // next, and so does the speed estimated from them: at the speed of the
  // moment the governor keeps entering dearer rungs on lucky estimates.
  // And a deep input that just missed the budget says more about a rung
  // that runs many of them than any prediction from shallow frames.
  const trace = [{ frames: 50, throttled: false }, { frames: 2000, throttled: true }];
  const count = (params) => {
    let ups = 0, over = 0;
    for (const seed of [1, 2, 3]) {
      const { events, frames } = runRecorded(trace, { seed, params });
      ups += events.filter((e) => e.to > e.from).length;
      over += frames.slice(100).filter((f) => f.over).length;
    }
    return { ups, over };
  };
  const both = count({}), slowOnly = count({ tightWindow: 0 }), neither = count({ tightWindow: 0, slowWindow: 1 });
  t.diagnostic(`step ups / frames over budget in 3 × 2000 throttled frames: ${both.ups} / ${both.over}; ` +
    `without the headroom rule ${slowOnly.ups} / ${slowOnly.over}; at the speed of the moment ${neither.ups} / ${neither.over}`);
  assert.ok(both.ups <= 6, `${both.ups} step ups`);
  assert.ok(neither.ups > 2 * slowOnly.ups, 'the slow speed prevents most step ups');
  assert.ok(both.over < neither.over, 'and frames over budget');
});

test('a step up on probation: one frame over the budget undoes it, and blocks it and every dearer rung', () => {
  const table = governorTable(CONFIGS);
  let state = { ...initialState(table, 2), calm: 0 };
  const frame = (rung, ms, macs = CONFIGS[rung].meanMacs) => ({ budgetMs: 16, sample: { config: table[rung].config, ms, macs } });
  // Rung 2, fast: after upAfter calm frames it steps up.
  let out;
  for (let i = 0; i < 60 && (out?.state.rung ?? 2) === 2; i++) out = govern(frame(2, 1), out?.state ?? state, table);
  const up = out.state.rung;
  assert.ok(up > 2);
  assert.match(out.reason, /^headroom/);
  // Ten good frames, then one over the budget: straight back, with the reason.
  for (let i = 0; i < 10; i++) out = govern(frame(up, 2), out.state, table);
  assert.equal(out.state.rung, up);
  out = govern(frame(up, 20), out.state, table);
  assert.equal(out.state.rung, 2);
  assert.equal(out.reason, `${table[up].name} missed the 16 ms budget (20 ms) 11 frames after stepping up`);
  for (let l = up; l < table.length; l++) assert.equal(out.state.blockedUntil[l], out.state.frame + DEFAULTS.backoff[0]);
  for (let l = 0; l < up; l++) assert.equal(out.state.blockedUntil[l], 0);
  // Past probation a single slow frame is just a frame.
  for (let i = 0; i < DEFAULTS.backoff[0] + 40 && out.state.rung === 2; i++) out = govern(frame(2, 1), out.state, table);
  const again = out.state.rung;
  assert.ok(again > 2, 'tries again after the back-off');
  for (let i = 0; i <= DEFAULTS.probeFrames; i++) out = govern(frame(again, 2), out.state, table);
  out = govern(frame(again, 20), out.state, table);
  assert.equal(out.state.rung, again);
});

test('a frame without headroom keeps rungs whose dear frames spend as much out of reach for tightWindow frames', () => {
  const table = governorTable(CONFIGS);
  const frame = (rung, ms, macs) => ({ budgetMs: 16, sample: { config: table[rung].config, ms, macs } });
  // Rung 2 on a fast device; every rung has run long enough to be known
  // (deep frames spend 2.56 × the mean).
  let out = { state: initialState(table, 2) };
  const deep = (l) => CONFIGS[l].meanMacs * (1 - 0.7 / 3) / 0.3;
  for (let l = 0; l < table.length; l++)
    for (let i = 0; i < DEFAULTS.trustSamples; i++) out.state.costs.macs[l].push(i % 3 ? CONFIGS[l].meanMacs / 3 : deep(l));
  // One of rung 2's deep inputs misses (20 ms), then every frame is fast.
  out = govern(frame(2, 20, deep(2)), out.state, table);
  assert.equal(out.state.rung, 2);
  let up = null;
  for (let i = 1; i < 2 * DEFAULTS.tightWindow && up === null; i++) {
    out = govern(frame(2, 1, CONFIGS[2].meanMacs / 3), out.state, table);
    if (out.state.rung !== 2) up = i;
  }
  assert.ok(up >= DEFAULTS.tightWindow - 1, `no step up for ${DEFAULTS.tightWindow} frames (stepped up after ${up})`);
  assert.match(out.reason, /^headroom/);
  // Without it, as soon as the slow frame has left the slow speed's window.
  out = { state: initialState(table, 2) };
  for (let l = 0; l < table.length; l++)
    for (let i = 0; i < DEFAULTS.trustSamples; i++) out.state.costs.macs[l].push(i % 3 ? CONFIGS[l].meanMacs / 3 : deep(l));
  out = govern(frame(2, 20, deep(2)), out.state, table, { tightWindow: 0 });
  for (up = 1; out.state.rung === 2; up++) out = govern(frame(2, 1, CONFIGS[2].meanMacs / 3), out.state, table, { tightWindow: 0 });
  assert.ok(up <= DEFAULTS.slowWindow + 2, `stepped up after ${up} frames`);
});

test('a device that has clearly sped up ends the back-offs and forgets the frames without headroom', () => {
  const table = governorTable(CONFIGS);
  const frame = (rung, ms, macs) => ({ budgetMs: 16, sample: { config: table[rung].config, ms, macs } });
  let out = { state: initialState(table, 2) };
  for (let l = 0; l < table.length; l++)
    for (let i = 0; i < DEFAULTS.trustSamples; i++) out.state.costs.macs[l].push(CONFIGS[l].meanMacs);
  // Slow: 2 ms per M MACs. Rung 2 fits (6.2 ms), rung 3 would not (11.8 ms > 0.6 × 16).
  for (let i = 0; i < 40; i++) out = govern(frame(2, 2e-6 * CONFIGS[2].meanMacs, CONFIGS[2].meanMacs), out.state, table);
  assert.equal(out.state.rung, 2);
  // A failed step up to rung 4 (forced) and a frame without headroom.
  out.state = { ...out.state, rung: 4, samples: [], probe: { rung: 4, from: 2, frame: out.state.frame } };
  out = govern(frame(4, 20, CONFIGS[4].meanMacs), out.state, table);
  assert.equal(out.state.rung, 2);
  assert.ok(out.state.blockedUntil[4] > out.state.frame && out.state.tight.length === 1);
  // Eight times faster: once the pace (a median over slowWindow frames) shows it, the blocks and
  // the tight frame are gone; it climbs when the slow speed has caught up (speedWindow +
  // slowWindow frames), long before the back-off would end.
  let at = null;
  for (let i = 1; i <= 2 * DEFAULTS.slowWindow && at === null; i++) {
    out = govern(frame(2, 0.25e-6 * CONFIGS[2].meanMacs, CONFIGS[2].meanMacs), out.state, table);
    if (out.state.rung > 2) at = i;
    if (i === DEFAULTS.slowWindow / 2 + 2) assert.ok(out.state.blockedUntil.every((b) => b === 0) && out.state.tight.length === 0, 'unblocked');
  }
  assert.ok(at !== null && at <= DEFAULTS.speedWindow + DEFAULTS.slowWindow + 2, `climbed after ${at} frames (back-off ${DEFAULTS.backoff[0]})`);
  assert.equal(out.state.rung, TOP);
});
