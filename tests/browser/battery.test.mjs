// The Battery Status API, faked by an init script (Chromium's real one
// reports a desktop on mains power): low and discharging moves the
// governor to cheaper configurations and the page says why; plugging in
// lets it climb back. Runs in the default Worker setup: the battery is
// read on the main thread, where the API exists.
import assert from 'node:assert/strict';
import test from 'node:test';

import { openDemo, pageQuery, screenshot, snapshot, waitForState } from './harness.mjs';

/** Runs in the page before its scripts: a BatteryManager look-alike the test can drive. */
function fakeBattery(initial) {
  const battery = new EventTarget();
  Object.assign(battery, initial, { chargingTime: Infinity, dischargingTime: 3600 });
  window.setFakeBattery = (next) => {
    for (const [key, type] of [['level', 'levelchange'], ['charging', 'chargingchange']]) {
      if (key in next && next[key] !== battery[key]) {
        battery[key] = next[key];
        battery.dispatchEvent(new Event(type));
      }
    }
  };
  Object.defineProperty(Navigator.prototype, 'getBattery', { value: () => Promise.resolve(battery), configurable: true });
}

test('low battery while discharging moves to cheaper configurations and says why', async () => {
  const demo = await openDemo({ query: pageQuery({ signals: 'battery' }), initScript: fakeBattery, initArg: { level: 0.15, charging: false } });
  try {
    const { page } = demo;
    const s = await waitForState(page, (x) => x.frames.length >= 30 && x.events.length >= 1, 20_000, 'a governor event');
    const top = s.table.length - 1;
    assert.equal(s.runner, 'worker');
    assert.deepEqual(s.device.battery, { level: 0.15, charging: false });
    const [first] = s.events;
    assert.equal(first.reason, 'battery low (15 %, discharging): compute capped at 25 % of the MACs');
    assert.ok(first.to !== s.table[top].config, 'left the most accurate configuration');
    // Every frame since then ran a configuration under the cap.
    const cap = 0.25 * s.table[top].macs;
    const capped = new Set(s.table.filter((l) => l.macs <= cap).map((l) => l.config));
    if (capped.size === 0) capped.add(s.table[0].config);
    assert.ok(s.frames.filter((f) => f.t > first.t + 100).every((f) => capped.has(f.config)), 'only configurations under the cap run');
    // The page tells the user.
    assert.match(await page.textContent('#reason'), /^battery low \(15 %, discharging\)/);
    assert.match(await page.textContent('#battery'), /^15 %, discharging/);
    assert.match(await page.textContent('#events'), /battery low \(15 %, discharging\)/);
    await screenshot(page, 'battery-low.png');

    // Critical: the cheapest one (if the cap had not already come down to it).
    const wasAbove = (await snapshot(page)).level > 0;
    await page.evaluate(() => window.setFakeBattery({ level: 0.05 }));
    const critical = await waitForState(page, (x) => x.level === 0, 5000, 'the cheapest configuration');
    if (wasAbove) assert.match(critical.reason, /^battery critical \(5 %, discharging\)/);

    // Plugged in: the cap goes, and with frame-time headroom the governor climbs.
    await page.evaluate(() => window.setFakeBattery({ charging: true }));
    const charged = await waitForState(page, (x) => x.level > 0 && x.events.at(-1).t > critical.now - 500, 20_000, 'a step up after plugging in');
    assert.match(charged.events.at(-1).reason, /^headroom/);
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});

test('without the Battery API the battery is unknown, never low', async () => {
  const hide = () => Object.defineProperty(Navigator.prototype, 'getBattery', { value: undefined, configurable: true });
  const demo = await openDemo({ query: pageQuery({ signals: 'battery' }), initScript: hide });
  try {
    const { page } = demo;
    const s = await waitForState(page, (x) => x.frames.length >= 40, 20_000, '40 frames');
    assert.equal(s.device.battery, null);
    assert.match(await page.textContent('#battery'), /^unknown/);
    assert.ok(s.events.every((e) => !/battery/.test(e.reason)), JSON.stringify(s.events));
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});
