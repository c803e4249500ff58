// The governor's policy, headless: signal traces (device speed, battery,
// saver switch, CPU pressure, visibility, manual override, as timelines)
// drive a simulated device in closed loop, and the decisions are checked:
// it fits the budget by moving down the curve, comes back up, holds still
// under noise, caps compute on low battery only when discharging, treats
// an unknown battery as not low, pauses when hidden, obeys the override,
// and fires one event per change with its reason.
import assert from 'node:assert/strict';
import test from 'node:test';

import { DyceError } from '../../wasm/errors.mjs';
import { DEFAULTS, energyTolerance, govern, Governor, governorTable, initialState, predictedCosts } from '../../wasm/governor.mjs';

import { CONFIGS, device, modeConfig, run, TOP, within } from './governor_fixtures.mjs';

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

  // With the energy policy off, a discharging battery above 20 % changes nothing.
  const fine = run([{ frames: 200, battery: { level: 0.5, charging: false } }], { params: { energy: null } });
  assert.deepEqual(fine.events, []);
});

test('energy policy: plugged in the most accurate rung, discharging the cheapest within a tolerance that grows as the charge falls', () => {
  // CONFIGS' accuracies: 78, 86, 89.5, 91.2, 92.1, 92.6 %.
  assert.ok(Math.abs(energyTolerance(1) - 0.002) < 1e-12 && Math.abs(energyTolerance(0.2) - 0.01) < 1e-12);
  assert.ok(Math.abs(energyTolerance(0.6) - 0.006) < 1e-12);
  const trace = [{ frames: 100, battery: { level: 0.9, charging: true } }, { frames: 200, battery: { level: 0.9, charging: false } },
    { frames: 200, battery: { level: 0.3, charging: false } }, { frames: 200, battery: { level: 0.3, charging: true } }];
  const { frames, events } = run(trace);
  assert.ok(frames.slice(0, 100).every((f) => f.config === TOP), 'charging: the most accurate');
  // 90 %: a 0.3 pp tolerance; pareto-04 is 0.5 pp below the top.
  assert.ok(frames.slice(100, 300).every((f) => f.config === TOP), 'at 90 % the 0.3 pp tolerance keeps the top');
  // 30 %: a 0.9 pp tolerance; pareto-03 (91.2 %) is 1.4 pp below, pareto-04 (92.1 %) 0.5 pp: pareto-04.
  const drop = events.find((e) => e.frame >= 300);
  assert.equal(drop.frame, 300);
  assert.equal(drop.to, 4);
  assert.equal(drop.reason, 'on battery (30 %, discharging): pareto-04, 0.50 pp below pareto-05 for 67 % of its MACs (giving up at most 0.90 pp at this charge)');
  assert.ok(frames.slice(300, 500).every((f) => f.config === 4));
  const back = events.find((e) => e.frame >= 500);
  assert.ok(back && back.to === TOP && back.frame <= 500 + DEFAULTS.upAfter + 1, 'plugging in returns to the most accurate');
  assert.ok(frames.slice(500).every((f) => !/on battery/.test(f.reason)), 'and no longer names the battery');
  // The page sets the policy: a larger tolerance saves more, null none.
  const generous = run([{ frames: 100, battery: { level: 0.9, charging: false } }], { params: { energy: { full: 0.04, low: 0.05 } } });
  assert.equal(modeConfig(generous.frames), 2, '4 pp: pareto-02 (89.5 %)');
  const off = run([{ frames: 100, battery: { level: 0.3, charging: false } }], { params: { energy: null } });
  assert.deepEqual(off.events, []);
  // The frame budget still wins: a device too slow for pareto-04 goes lower.
  const slow = run([{ frames: 300, battery: { level: 0.3, charging: false }, speed: 6 }]);
  assert.ok(modeConfig(slow.frames.slice(150)) < 4);
});

test('a cap whose own rung does not fit either: the move below it names the rung capped at and the frame time; an over-budget reason never rounds to "16 ms over the 16 ms budget"', () => {
  const g = new Governor(CONFIGS);
  let config = g.configIndex, out;
  for (const [ms, battery] of [[40, null], [35, { level: 0.15, charging: false }]]) {
    out = g.update({ budgetMs: 16, battery, sample: { config, ms, macs: CONFIGS[config].meanMacs } });
    config = out.configIndex;
  }
  assert.deepEqual(out.caps.map((c) => c.kind), ['battery low']);
  const capped = CONFIGS.findIndex((c) => c.name === 'pareto-02');
  assert.ok(out.configIndex < capped, `${out.configIndex}: the cap's rung (${capped}) was expected not to fit`);
  // (It named the cap's rung alone, as if the cap had chosen the configuration.)
  assert.match(out.reason, /^battery low \(15 %, discharging\): compute capped at 25 % of the MACs; below it, as pareto-02's p95 frame time \d+ ms leaves no headroom in the 16 ms budget$/);

  const h = new Governor(CONFIGS);
  config = h.configIndex;
  const reasons = [];
  for (let i = 0; i < 40; i++) {
    out = h.update({ budgetMs: 16, sample: { config, ms: i % 10 === 0 ? 16.4 : 5, macs: CONFIGS[config].meanMacs } });
    if (out.changed) reasons.push(out.reason);
    config = out.configIndex;
  }
  assert.ok(reasons.length > 0);
  for (const r of reasons) assert.equal(r, 'p95 frame time 16.40 ms over the 16.00 ms budget');
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
  assert.deepEqual(seen, [{ from: TOP, to: 2, name: 'pareto-02', threads: 1, reason: out.reason }]);
  governor.update({ budgetMs: 16, saver: true });
  assert.equal(seen.length, 1);
});

test('a cap that ends while the thread count changes says both', () => {
  const table = governorTable(CONFIGS);
  const on = govern({ budgetMs: 16, saver: true, maxThreads: 2 }, initialState(table, 1), table);
  assert.equal(on.threads, 1);
  const off = govern({ budgetMs: 16, saver: false, maxThreads: 2 }, on.state, table);
  assert.equal(off.threads, 2);
  assert.match(off.reason, new RegExp(`^battery saver ended: automatic from ${table[1].name}; .*2 threads`));
});

test('bad signals, parameters and configurations are refused with the field and why', () => {
  const table = governorTable(CONFIGS), state = initialState(table);
  const refused = (signals, field, message) => assert.throws(() => govern(signals, state, table),
    (e) => e instanceof DyceError && e.code === 'DYCE_INVALID_ARGUMENT' && e.field === field && message.test(e.message), `${field}: ${JSON.stringify(signals)}`);
  const ok = { budgetMs: 16 };
  refused(null, 'signals', /must be an object/);
  refused({ budget: 16 }, 'signals', /no option "budget"/);
  for (const budgetMs of [undefined, NaN, 0, -10, '16', Infinity]) refused({ budgetMs }, 'budgetMs', /finite number above 0/);
  for (const ms of [NaN, -3, '50', Infinity, undefined]) refused({ ...ok, sample: { config: 0, ms } }, 'sample.ms', /finite number of at least 0/);
  refused({ ...ok, sample: { config: 1.5, ms: 3 } }, 'sample.config', /whole number/);
  refused({ ...ok, sample: { config: 0, ms: 3, threads: 2.5 } }, 'sample.threads', /whole number from 1 to 64/);
  refused({ ...ok, sample: { config: 0, ms: 3, time: 1 } }, 'sample', /no option "time"/);
  for (const level of [2, 50, -1, NaN, '0.5']) refused({ ...ok, battery: { level, charging: false } }, 'battery.level', /from 0 to 1/);
  refused({ ...ok, battery: { level: 0.5, charging: 'false' } }, 'battery.charging', /true or false/);
  refused({ ...ok, battery: 'low' }, 'battery', /level, charging/);
  refused({ ...ok, saver: 'no' }, 'saver', /true or false/);
  refused({ ...ok, hidden: 1 }, 'hidden', /true or false/);
  refused({ ...ok, pressure: 'high' }, 'pressure', /nominal, fair, serious, critical/);
  refused({ ...ok, override: 'pareto-05' }, 'override', /configuration index/);
  refused({ ...ok, override: -1 }, 'override', /configuration index/);
  for (const maxThreads of [NaN, 2.5, 0, 65]) refused({ ...ok, maxThreads }, 'maxThreads', /whole number from 1 to 64/);
  // The Governor knows the model's configurations: an index past them is refused, and its state is untouched.
  const g = new Governor(CONFIGS);
  assert.throws(() => g.update({ ...ok, override: CONFIGS.length }), (e) => e.field === 'override' && new RegExp(`from 0 to ${CONFIGS.length - 1}`).test(e.message));
  assert.throws(() => g.update({ ...ok, sample: { config: CONFIGS.length, ms: 3 } }), (e) => e.field === 'sample.config' && /to \d+/.test(e.message));
  assert.equal(g.configIndex, CONFIGS[TOP].index);
  assert.equal(g.update({ ...ok, override: 2 }).configIndex, 2);
  // Some of a model's configurations: the governor answers in model
  // indices, takes its own answer back, names the configuration it chose,
  // and refuses one it was not given (before, it took positions in the
  // list for indices: 'pareto-05' for index 4, the backbone for the top).
  const some = CONFIGS.filter((c) => c.name !== 'pareto-02' && c.name !== 'backbone');
  const sub = new Governor(some), names = [];
  sub.addEventListener('change', (e) => names.push([e.detail.to, e.detail.name]));
  assert.equal(sub.configIndex, CONFIGS[TOP].index);
  sub.update({ ...ok, sample: { config: sub.configIndex, ms: 3, macs: CONFIGS[TOP].meanMacs } });
  sub.update({ ...ok, override: 3 });
  assert.deepEqual(names, [[3, 'pareto-03']]);
  assert.throws(() => sub.update({ ...ok, override: 2 }), (e) => e.field === 'override' && /one of 0, 1, 3, 4, 5, not 2/.test(e.message));
  assert.throws(() => sub.update({ ...ok, sample: { config: 6, ms: 3 } }), (e) => e.field === 'sample.config' && /not 6/.test(e.message));
  for (const bad of [[{ name: 'x' }], [CONFIGS[0], CONFIGS[0]], [null]])
    assert.throws(() => new Governor(bad), (e) => /^configs\[\d\]$/.test(e.field) && /model\.configs/.test(e.message), JSON.stringify(bad));
  // A state or table that did not come from initialState / governorTable, and a start rung outside the table.
  const wrong = (f, field) => assert.throws(f, (e) => e instanceof DyceError && e.code === 'DYCE_INVALID_ARGUMENT' && e.field === field, field);
  for (const start of [table.length, -1, 1.5, 'x']) wrong(() => initialState(table, start), 'start');
  for (const bad of [{}, null, { ...state, rung: table.length }, initialState(table.slice(1))]) {
    wrong(() => govern(ok, bad, table), 'state');
    wrong(() => predictedCosts(bad, table), 'state');
  }
  for (const bad of [[], null, [{ name: 'x' }]]) {
    wrong(() => initialState(bad), 'table');
    wrong(() => govern(ok, state, bad), 'table');
  }
  // Parameters.
  const badParams = (params, field, message) => assert.throws(() => new Governor(CONFIGS, params),
    (e) => e instanceof DyceError && e.field === field && message.test(e.message), field);
  badParams({ budget: 16 }, 'params', /no option "budget"/);
  badParams({ minGap: 'x' }, 'minGap', /finite number/);
  badParams({ energy: {} }, 'energy.full', /from 0 to 1/);
  badParams({ energy: { full: 0.002, low: 0.01, at: 1 } }, 'energy', /no option "at"/);
  badParams({ pressureCaps: { high: 0.5 } }, 'pressureCaps', /no option "high"/);
  badParams({ backoff: [100] }, 'backoff', /\[first, longest\]/);
  assert.throws(() => govern(ok, state, table, { quantile: NaN }), (e) => e.field === 'quantile');
  assert.equal(new Governor(CONFIGS, { energy: null, minGap: 0 }).table.length, table.length);
  // Configurations: a model without any (one converted graph) has nothing to govern.
  for (const configs of [[], undefined, { configs: CONFIGS }])
    assert.throws(() => new Governor(configs), (e) => e instanceof DyceError && e.field === 'configs', String(configs));
  assert.throws(() => new Governor([]), /no configurations to switch between/);
});

test('watchDevice: stop() before the battery arrives leaves no listener on it and no later change (a component mounted and unmounted at once)', async () => {
  const { watchDevice } = await import('../../wasm/signals.mjs');
  let listening = 0; // battery listeners added and not removed
  const battery = { level: 0.5, charging: false,
    addEventListener: () => { listening++; }, removeEventListener: () => { listening--; } };
  let give;
  const arrived = new Promise((resolve) => { give = resolve; });
  const saved = { document: globalThis.document, navigator: Object.getOwnPropertyDescriptor(globalThis, 'navigator') };
  globalThis.document = { visibilityState: 'visible', addEventListener() {}, removeEventListener() {} };
  Object.defineProperty(globalThis, 'navigator', { value: { getBattery: () => arrived }, configurable: true });
  try {
    const changes = [];
    const w = watchDevice((s) => changes.push(s), { use: ['battery'] });
    w.stop();
    give(battery);
    await arrived;
    await new Promise((resolve) => setImmediate(resolve)); // the then() has run
    assert.equal(listening, 0, 'battery listeners added after stop()');
    assert.deepEqual(changes, []);
    assert.equal(w.snapshot.battery, null);
    // Not stopped: it reads the battery and listens.
    const live = watchDevice((s) => changes.push(s), { use: ['battery'] });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(live.snapshot.battery, { level: 0.5, charging: false });
    assert.equal(listening, 2, 'levelchange and chargingchange');
    live.stop();
    assert.equal(listening, 0);
  } finally {
    if (saved.document === undefined) delete globalThis.document;
    else globalThis.document = saved.document;
    Object.defineProperty(globalThis, 'navigator', saved.navigator ?? { value: undefined, configurable: true });
  }
});

test('watchDevice: a page callback that throws (its first call writes to an element not there yet) is reported, and the battery is still followed', async () => {
  const { watchDevice } = await import('../../wasm/signals.mjs');
  const listeners = {};
  const battery = { level: 0.15, charging: false,
    addEventListener: (type, fn) => { listeners[type] = fn; }, removeEventListener: (type) => { delete listeners[type]; } };
  const saved = { document: globalThis.document, navigator: Object.getOwnPropertyDescriptor(globalThis, 'navigator'),
    reportError: Object.getOwnPropertyDescriptor(globalThis, 'reportError') };
  const reported = [];
  globalThis.document = { visibilityState: 'visible', addEventListener() {}, removeEventListener() {} };
  Object.defineProperty(globalThis, 'navigator', { value: { getBattery: async () => battery }, configurable: true });
  Object.defineProperty(globalThis, 'reportError', { value: (e) => reported.push(e.message), configurable: true });
  try {
    let calls = 0;
    const w = watchDevice(() => {
      if (calls++ === 0) throw new TypeError('Cannot set properties of null');
    }, { use: ['battery'] });
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(reported, ['Cannot set properties of null']);
    battery.level = 0.05;
    listeners.levelchange();
    assert.deepEqual(w.snapshot.battery, { level: 0.05, charging: false }, 'the battery unfollowed after the callback threw');
    assert.equal(calls, 2);
    w.stop();
  } finally {
    if (saved.document === undefined) delete globalThis.document;
    else globalThis.document = saved.document;
    Object.defineProperty(globalThis, 'navigator', saved.navigator ?? { value: undefined, configurable: true });
    if (saved.reportError) Object.defineProperty(globalThis, 'reportError', saved.reportError);
    else delete globalThis.reportError;
  }
});

test('watchDevice off a page\'s main thread (here: Node, no document) is a DyceError that says where to call it', async () => {
  const { watchDevice } = await import('../../wasm/signals.mjs');
  assert.throws(() => watchDevice(), (e) => e instanceof DyceError && e.code === 'DYCE_UNSUPPORTED' && /main thread/.test(e.message));
});
