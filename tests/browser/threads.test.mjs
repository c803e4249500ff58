// Threads in the demo (Chromium). Served cross-origin isolated (COOP/COEP,
// scripts/serve.mjs's default), the page runs the threaded build: in the
// default Worker setup its threads are workers started by that Worker
// (nested), on the main-thread runner workers of the page. The governor
// picks the count: plugged in, all of them; discharging, one while the
// frame budget is met. Served without isolation there is no
// SharedArrayBuffer: one thread, and the page says why.
// Answers on every thread count are the same (the split convolutions are
// bit-identical by design): the isolated tests compare one thread's
// answers with all threads', with ?splitMinMacs=0 so that the demo's small
// model is split at all (by default it runs whole on one thread).
import assert from 'node:assert/strict';
import test from 'node:test';

import { fakeBattery, openDemo, pageQuery, screenshot, waitForState, waitForText } from './harness.mjs';

const IMAGES = Array.from({ length: 60 }, (_, i) => i * 97);

/** The last `n` frames ran on `threads`, and the model is on that count now. */
const runsOn = (threads, n = 5) => (x) => x.threads === threads && x.frames.length >= n && x.frames.slice(-n).every((f) => f.threads === threads);

/** The most accurate configuration's answers on one thread and on `max`: the same, each on the count asked for. */
async function sameOnEveryCount(page, max) {
  const config = await page.evaluate(() => window.demo.snapshot().table.at(-1).config);
  const on = (threads) => page.evaluate((r) => window.demo.classifyForTest(r), { indices: IMAGES, config, threads });
  const one = await on(1), all = await on(max);
  assert.equal(one.threads, 1);
  assert.equal(all.threads, max);
  assert.equal(all.results.length, IMAGES.length);
  assert.deepEqual(all.results, one.results, `answers on ${max} threads differ from one thread's`);
}

test('isolated, in the Worker: all threads plugged in, one on battery (and the page says why), all again plugged in', async () => {
  const demo = await openDemo({ query: pageQuery({ signals: 'battery', fps: 10, splitMinMacs: 0 }), initScript: fakeBattery, initArg: { level: 0.8, charging: true } });
  try {
    const { page } = demo;
    assert.equal(await page.evaluate(() => crossOriginIsolated), true);
    let s = await waitForState(page, (x) => x.total >= 10 && runsOn(x.maxThreads)(x), 30_000, 'frames on every thread');
    assert.equal(s.runner, 'worker');
    assert.equal(await page.evaluate(() => window.demo.model.splitMinMacs), 0, 'the option reached the Worker');
    assert.ok(s.maxThreads >= 2, `maxThreads ${s.maxThreads} (${s.threadsReason})`);
    assert.equal(s.threadsReason, null);
    const max = s.maxThreads;
    // The engine's Worker started the threads' workers (nested).
    const urls = page.workers().map((w) => new URL(w.url()).pathname);
    assert.equal(urls.filter((u) => u === '/wasm/worker.mjs').length, 1);
    assert.equal(urls.filter((u) => u === '/wasm/thread-worker.mjs').length, max - 1, urls.join(', '));
    await waitForText(page, 'threads', new RegExp(`^${max} of ${max}$`));
    assert.ok(s.accuracy > 0.5, `live accuracy ${s.accuracy}`);
    await sameOnEveryCount(page, max);

    // Discharging at 80 %: one thread (the budget, 50 ms at 10 fps, is met on one).
    await page.evaluate(() => window.setFakeBattery({ charging: false }));
    s = await waitForState(page, runsOn(1), 15_000, 'frames on one thread after unplugging');
    const drop = s.events.find((e) => e.threads === 1);
    assert.match(drop.reason, /^on battery \(80 %, discharging\): one thread (until the frame budget needs more|meets the 50 ms budget)/);
    await waitForText(page, 'threads', new RegExp(`^1 of ${max} — on battery \\(80 %, discharging\\): one thread`));
    assert.match(await page.textContent('#events'), /on 1 thread: on battery \(80 %, discharging\): one thread/);
    await screenshot(page, 'threads-on-battery.png');

    // Plugged in again: every thread.
    await page.evaluate(() => window.setFakeBattery({ charging: true }));
    s = await waitForState(page, runsOn(max), 15_000, 'frames on every thread after plugging in');
    const back = s.events[s.events.findLastIndex((e) => e.threads !== max) + 1];
    // The energy cap (80 %, discharging) ends with it, and the reason says both.
    assert.match(back.reason, new RegExp(`^battery energy ended: automatic from pareto-\\d+; plugged in: all ${max} threads$`));
    await waitForText(page, 'threads', new RegExp(`^${max} of ${max} — battery energy ended: automatic from pareto-\\d+; plugged in: all ${max} threads$`));
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});

test('isolated, inference on the main thread: the threaded build too', async () => {
  const demo = await openDemo({ query: pageQuery({ signals: 'battery', fps: 10, runner: 'main', splitMinMacs: 0 }), initScript: fakeBattery, initArg: { level: 0.8, charging: true } });
  try {
    const { page } = demo;
    const s = await waitForState(page, (x) => x.total >= 10 && runsOn(x.maxThreads)(x), 30_000, 'frames on every thread');
    assert.equal(s.runner, 'main');
    assert.ok(s.maxThreads >= 2, `maxThreads ${s.maxThreads} (${s.threadsReason})`);
    assert.deepEqual(page.workers().map((w) => new URL(w.url()).pathname), Array(s.maxThreads - 1).fill('/wasm/thread-worker.mjs'));
    // Not vacuous: with ?splitMinMacs=0 this small model's convolutions
    // really are split.
    assert.equal(await page.evaluate(() => window.demo.model.splitMinMacs), 0);
    assert.ok(await page.evaluate(() => window.demo.model.low.splitNodes) > 0, 'convolutions split across threads');
    await sameOnEveryCount(page, s.maxThreads);
    await waitForText(page, 'threads', new RegExp(`^${s.maxThreads} of ${s.maxThreads}$`));
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});

test('not isolated: one thread, the page says why, and it still classifies', async () => {
  const demo = await openDemo({ isolated: false, query: pageQuery({ signals: 'battery', fps: 10 }), initScript: fakeBattery, initArg: { level: 0.8, charging: true } });
  try {
    const { page } = demo;
    assert.equal(await page.evaluate(() => crossOriginIsolated), false);
    const s = await waitForState(page, (x) => x.total >= 40, 30_000, '40 frames');
    assert.equal(s.runner, 'worker');
    assert.equal(s.maxThreads, 1);
    assert.equal(s.threads, 1);
    assert.match(s.threadsReason, /not cross-origin isolated/);
    assert.ok(s.frames.every((f) => f.threads === 1));
    assert.ok(s.accuracy > 0.5, `live accuracy ${s.accuracy}`);
    assert.deepEqual(page.workers().map((w) => new URL(w.url()).pathname), ['/wasm/worker.mjs'], 'no thread workers');
    await waitForText(page, 'threads', /^1 thread: .*not cross-origin isolated/);
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});
