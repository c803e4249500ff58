// The governor's parameters and the corners a page developer found
// (a new-user probe, 2026-12-06): out-of-range parameters refused before
// they steer anything, a partial pressureCaps keeping the other default,
// a falling battery never buying more compute, a hidden page changing
// nothing (threads included), energyTolerance and watchDevice checking
// what they are given.
import assert from 'node:assert/strict';
import test from 'node:test';

import { DEFAULTS, energyTolerance, Governor } from '../../wasm/governor.mjs';
import { watchDevice } from '../../wasm/signals.mjs';

import { CONFIGS, run, SHIPPED } from './governor_fixtures.mjs';

const refused = (fn, field, message) => assert.throws(fn, (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === field && message.test(e.message), `${field}: ${message}`);

test('parameters out of their range are refused naming them (slowWindow 0 crashed the first step up)', () => {
  refused(() => new Governor(CONFIGS, { slowWindow: 0 }), 'slowWindow', /whole number from 1/);
  refused(() => new Governor(CONFIGS, { downAfter: 0 }), 'downAfter', /whole number from 1/);
  refused(() => new Governor(CONFIGS, { window: 2.5 }), 'window', /whole number from 1/);
  refused(() => new Governor(CONFIGS, { tailQuantile: 2 }), 'tailQuantile', /above 0 and at most 1/);
  refused(() => new Governor(CONFIGS, { quantile: 0 }), 'quantile', /above 0/);
  refused(() => new Governor(CONFIGS, { lowBattery: 2 }), 'lowBattery', /from 0 to 1/);
  refused(() => new Governor(CONFIGS, { fasterBy: 0.5 }), 'fasterBy', /at least 1/);
  refused(() => new Governor(CONFIGS, { upFit: 0.9 }), 'upFit', /must not exceed fit \(0\.8\)/);
  refused(() => new Governor(CONFIGS, { criticalBattery: 0.3 }), 'criticalBattery', /must not exceed lowBattery \(0\.2\)/);
  refused(() => new Governor(CONFIGS, { backoff: [200, 100] }), 'backoff', /first ≤ longest/);
  refused(() => new Governor(CONFIGS, [1, 2]), 'params', /not an array$/);
  // 0 stays "off" where the docs say so, and every default passes.
  new Governor(CONFIGS, { tightWindow: 0, minGap: 0 });
  new Governor(CONFIGS, { ...DEFAULTS });
});

test('pressureCaps given for one pressure keeps the other\'s default cap', () => {
  const trace = [{ frames: 40, pressure: 'critical' }];
  const both = run(trace), partial = run(trace, { params: { pressureCaps: { serious: 0.3 } } });
  const last = (r) => r.frames.at(-1);
  assert.equal(last(partial).config, last(both).config);
  assert.match(partial.events[0].reason, /^CPU pressure critical: compute capped at 25 % of the MACs/);
});

test('a discharging battery falling from 100 % to 5 % never moves the governor to more MACs', () => {
  let before = Infinity;
  for (const level of [1, 0.8, 0.6, 0.4, 0.3, 0.25, 0.21, 0.2, 0.15, 0.11, 0.1, 0.05]) {
    const g = new Governor(SHIPPED);
    let config = g.configIndex;
    for (let i = 0; i < 100; i++) // a fast device, a generous budget: only the battery limits it
      config = g.update({ budgetMs: 100, battery: { level, charging: false }, sample: { config, ms: 0.5, macs: SHIPPED[config].meanMacs } }).configIndex;
    const macs = SHIPPED[config].meanMacs;
    assert.ok(macs <= before, `${level * 100} %: ${SHIPPED[config].name} spends ${macs} MACs, more than ${before} at a higher charge`);
    before = macs;
  }
});

test('a hidden page changes nothing, the thread count included', () => {
  const g = new Governor(CONFIGS);
  let out = g.update({ budgetMs: 16, maxThreads: 2 });
  const { configIndex, threads } = out;
  const events = [];
  g.addEventListener('change', (e) => events.push(e.detail));
  out = g.update({ budgetMs: 16, hidden: true }); // a page's hidden update may carry no maxThreads
  assert.deepEqual([out.configIndex, out.threads, out.changed, out.paused], [configIndex, threads, false, true]);
  out = g.update({ budgetMs: 16, maxThreads: 2 });
  assert.deepEqual([out.configIndex, out.threads, out.changed], [configIndex, threads, false]);
  assert.deepEqual(events, []);
});

test('energyTolerance checks the level and the parameters; watchDevice its options', () => {
  assert.ok(Math.abs(energyTolerance(0.6) - 0.006) < 1e-12);
  refused(() => energyTolerance(NaN), 'level', /finite number from 0 to 1/);
  refused(() => energyTolerance(0.5, { energy: { full: '0.1', low: 0.02 } }), 'energy.full', /finite number/);
  refused(() => energyTolerance(0.5, { bogus: 1 }), 'params', /no option "bogus"/);
  // before it looks for a page (under Node there is none)
  refused(() => watchDevice(() => {}, { use: ['batery'] }), 'use', /among battery, pressure, not \["batery"\]/);
  refused(() => watchDevice(() => {}, { uses: ['battery'] }), 'options', /takes \{ use: \['battery', 'pressure'\] \}, not \{ uses \}/);
  assert.throws(() => watchDevice(() => {}, { use: ['battery'] }), (e) => e.code === 'DYCE_UNSUPPORTED');
});
