// The governor's thread count (wasm/thread-policy.mjs) on the synthetic
// device of governor_fixtures.mjs, where two threads run a frame 1.8×
// faster: plugged in it uses every thread; discharging or under the saver
// it runs one while the budget is met, adds threads when one misses it
// (before giving up accuracy), and goes back to one when one fits again.
import assert from 'node:assert/strict';
import test from 'node:test';

import { govern, governorTable, initialState } from '../../wasm/governor.mjs';

import { CONFIGS, run, TOP } from './governor_fixtures.mjs';

const charging = { level: 0.8, charging: true }, discharging = { level: 0.8, charging: false };
const threadsOf = (frames) => [...new Set(frames.map((f) => f.threads))];

test('plugged in, or with no battery reading: every thread', () => {
  for (const battery of [charging, null]) {
    const { frames, events } = run([{ frames: 300, speed: 1, battery, maxThreads: 2 }]);
    assert.deepEqual(threadsOf(frames), [2], `battery ${JSON.stringify(battery)}`);
    assert.deepEqual(events, []);
  }
});

test('discharging with headroom: one thread from the start, and it stays', () => {
  const { frames, events } = run([{ frames: 300, speed: 1, battery: discharging, maxThreads: 2 }]);
  assert.deepEqual(threadsOf(frames), [1]);
  assert.equal(events.length, 1);
  assert.equal(events[0].threads, 1);
  assert.match(events[0].reason, /on battery \(80 %, discharging\): one thread/);
  assert.ok(frames.every((f) => f.config === TOP), 'no accuracy given up: the top configuration fits on one thread');
});

test('discharging, one thread misses the budget: two threads before any accuracy is given up; one again when it fits', () => {
  // Speed 3.6: the top configuration's deep frames (its p95) take ~20 ms
  // on one thread (budget 16), ~11 ms on two.
  const trace = [{ frames: 400, speed: 3.6, battery: discharging, maxThreads: 2 }, { frames: 300, speed: 1 }];
  const { frames, events } = run(trace);
  const up = events.find((e) => e.threads === 2);
  assert.ok(up && up.frame < 20, `two threads within 20 frames (${up?.frame})`);
  assert.match(up.reason, /budget needs 2 threads/);
  const slow = frames.slice(60, 400);
  assert.ok(slow.every((f) => f.threads === 2), 'stays on two threads while one would miss');
  assert.ok(slow.filter((f) => f.config === TOP).length > 0.9 * slow.length, 'keeps the top configuration');
  assert.ok(events.filter((e) => e.frame < 400).length <= 3, `${events.length} changes: no flapping`);
  const back = events.find((e) => e.frame >= 400 && e.threads === 1);
  assert.ok(back && back.frame < 460, `one thread within 60 frames of the speed-up (${back?.frame})`);
  assert.match(back.reason, /one thread meets the 16 ms budget/);
});

test('plugging in takes every thread back; the saver switch counts as discharging', () => {
  const { frames } = run([
    { frames: 100, speed: 1, battery: discharging, maxThreads: 4 },
    { frames: 100, battery: charging },
    { frames: 100, saver: true },
  ]);
  assert.deepEqual(threadsOf(frames.slice(0, 100)), [1]);
  assert.deepEqual(threadsOf(frames.slice(100, 200)), [4]);
  assert.deepEqual(threadsOf(frames.slice(200)), [1]);
});

test('without threads (maxThreads 1 or absent) the thread count is 1 and never changes', () => {
  const table = governorTable(CONFIGS);
  const out = govern({ budgetMs: 16, battery: charging }, initialState(table), table);
  assert.equal(out.threads, 1);
  assert.equal(out.changed, false);
});

test('a frame measured on another thread count does not count for this one', () => {
  const table = governorTable(CONFIGS);
  let out = govern({ budgetMs: 16, battery: discharging, maxThreads: 2 }, initialState(table), table);
  assert.equal(out.threads, 1);
  for (let i = 0; i < 10; i++) // in flight from before the switch: slow, on 2 threads
    out = govern({ budgetMs: 16, battery: discharging, maxThreads: 2, sample: { config: table[TOP].config, ms: 40, macs: 14e6, threads: 2 } }, out.state, table);
  assert.equal(out.threads, 1);
  assert.equal(out.state.samples.length, 0);
});

test('a critical battery moves to the cheapest configuration on its first step, whatever the thread count', () => {
  for (const maxThreads of [1, 2, 4]) {
    const table = governorTable(CONFIGS);
    const out = govern({ budgetMs: 16, battery: { level: 0.05, charging: false }, maxThreads }, initialState(table), table);
    assert.equal(out.configIndex, table[0].config, `maxThreads ${maxThreads}`);
    assert.match(out.reason, /battery critical \(5 %, discharging\)/);
    // Then one thread, the budget being met.
    const next = govern({ budgetMs: 16, battery: { level: 0.05, charging: false }, maxThreads,
      sample: { config: out.configIndex, ms: 1, macs: 1e5, threads: out.threads } }, out.state, table);
    assert.deepEqual([next.configIndex, next.threads], [table[0].config, 1], `maxThreads ${maxThreads}`);
  }
});
