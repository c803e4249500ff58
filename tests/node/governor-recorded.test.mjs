// The governor on the shipped package: rung thinning, the cost model's
// bounds, and closed-loop runs on frame times recorded in Chromium at 8×
// CPU throttling (step ups at the slowest recent speed, probation,
// back-offs, frames without headroom).
import assert from 'node:assert/strict';
import test from 'node:test';

import { emptyCosts, floorOf, macsQuantile, observe, tailBound } from '../../wasm/cost-model.mjs';
import { DEFAULTS, govern, Governor, governorTable, initialState } from '../../wasm/governor.mjs';

import { CONFIGS, DEEP_MACS, device, run, runRecorded, SAVER_MACS, SHIPPED, TOP, within } from './governor_fixtures.mjs';

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

test('on battery at 80 % the shipped package runs pareto-31, as GOVERNOR.md says (float32 accuracies 0.4 pp apart are within 0.4 pp)', () => {
  const table = governorTable(SHIPPED);
  const out = govern({ budgetMs: 16, battery: { level: 0.8, charging: false } }, initialState(table), table);
  assert.equal(table[out.rung].name, 'pareto-31');
  assert.match(out.reason, /^on battery \(80 %, discharging\): pareto-31, 0\.40 pp below pareto-37/);
  // Critical: the cap is the cheapest rung's MACs (a page showing capMacs shows what runs), not 0.
  const critical = govern({ budgetMs: 16, battery: { level: 0.05, charging: false } }, initialState(table), table);
  assert.equal(critical.rung, 0);
  assert.equal(critical.capMacs, table[0].macs);
});

test('a page clock of whole milliseconds (Firefox and WebKit, not isolated): the governor still steps back up after the battery saver', () => {
  // A fast device: 0.3 ms a frame + 1 ms per 15 M MACs (a saver-1 frame
  // 0.36 ms, a deep one 2.2 ms), on 24 pictures shown in turn, of which
  // as many run deep as the configuration's mean MACs say (at pareto-28,
  // 4: some 12-frame windows hold one only). The page reads frame times on a
  // clock that ticks each millisecond, so a saver frame reads 0 or 1 ms.
  // 180 frames under the battery saver, then 600 at a 16 ms budget.
  const order = [4, 5, 15, 17, 9, 21, 0, 12, 7, 19, 2, 23, 10, 14, 1, 20, 6, 16, 11, 3, 22, 8, 18, 13];
  const cost = (config, frame) => {
    const c = SHIPPED[config], floor = SAVER_MACS[Number(c.saver.at(-1))];
    const deep = order.indexOf(frame % 24) < Math.ceil(24 * (c.meanMacs - floor) / (DEEP_MACS - floor));
    return deep ? DEEP_MACS : floor;
  };
  const table = governorTable(SHIPPED);
  for (const clock of ['exact', 'ms']) {
    const governor = new Governor(SHIPPED);
    let out = governor.update({ budgetMs: 16, saver: true }), now = 0.37;
    const rungs = [];
    for (let frame = 0; frame < 780; frame++) {
      const saver = frame < 180, config = out.configIndex, macs = cost(config, frame);
      const start = now, end = now + 0.3 + macs / 15e6;
      now = start + 16.7;
      const ms = clock === 'exact' ? end - start : Math.floor(end) - Math.floor(start);
      out = governor.update({ budgetMs: 16, saver, sample: { config, ms, macs } });
      rungs.push(out.rung);
    }
    assert.equal(rungs[179] < table.length - 1, true, `${clock}: capped under the saver`);
    // As on an exact clock: straight back up (before, the 1 ms clock's saver
    // frames read 1 ms for 0.36 and made the device look 15 times slower:
    // pareto-33 first, the top 69 frames later; on the package's own
    // configurations, never).
    const back = rungs.indexOf(table.length - 1, 180);
    assert.ok(back >= 180 && back <= 182, `${clock} clock: back on the most accurate rung at frame ${back}`);
    assert.ok(rungs.slice(back).every((r) => r === table.length - 1), `${clock} clock: and stays there (${out.reason})`);
  }
});
