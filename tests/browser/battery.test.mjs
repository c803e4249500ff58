// The Battery Status API, faked by an init script (Chromium's real one
// reports a desktop on mains power): low and discharging caps the
// governor to cheaper configurations and the page shows the cap; critical
// takes the cheapest; plugging in lifts the cap and lets it climb back.
// Above 20 %, discharging, the energy policy runs the cheapest
// configuration within a small accuracy tolerance; plugged in, it ends.
// Runs in the default Worker setup: the battery is read on the main
// thread, where the API exists.
//
// On a busy machine the governor may also move on frame time while a cap
// holds, and then the last move's reason names the frame time, not the
// battery: the test waits for states and checks what must hold — the cap
// in force (on the page too, next to the reason), and every configuration
// run since within it.
import assert from 'node:assert/strict';
import test from 'node:test';

import { fakeBattery, openDemo, pageQuery, screenshot, waitForState, waitForText } from './harness.mjs';

test('low battery while discharging caps compute to cheaper configurations and the page shows the cap', async () => {
  // 10 fps: a 50 ms budget, so that frame time rarely moves the governor here (this test is about the battery).
  const demo = await openDemo({ query: pageQuery({ signals: 'battery', fps: 10 }), initScript: fakeBattery, initArg: { level: 0.15, charging: false } });
  try {
    const { page } = demo;
    const top = (s) => s.table.at(-1);
    const within = (s) => s.rung !== null && (s.rung === 0 || s.table[s.rung].macs <= s.capMacs);
    const capped = (kind) => (s) => s.caps.some((c) => c.kind === kind);

    // The cap holds, and the configuration is within it.
    let s = await waitForState(page, (x) => x.total >= 10 && capped('battery low')(x) && within(x), 20_000, 'the battery-low cap in force');
    assert.equal(s.runner, 'worker');
    assert.deepEqual(s.device.battery, { level: 0.15, charging: false });
    // At most the battery-low cap; the energy rule (at its largest tolerance) may be stricter.
    assert.ok(s.capMacs <= 0.25 * top(s).macs, `cap ${s.capMacs} over 25 % of ${top(s).macs}`);
    assert.notEqual(s.config, top(s).config, 'left the most accurate configuration');
    // The page shows the cap, next to the last move's reason (whatever moved last).
    assert.match(await waitForText(page, 'caps', /^battery low \(15 %, discharging\): compute capped at 25 % of the MACs(; on battery \(15 %, discharging\): pareto-\d+, .* \(giving up at most 1\.00 pp at this charge\))?$/), /battery low/);
    assert.match(await page.textContent('#reason'), /\S/);
    assert.match(await page.textContent('#battery'), /^15 %, discharging/);
    // The move the cap made (unless frame times had already brought the governor within it) is logged with its reason.
    const capMove = s.events.find((e) => /^battery low \(15 %, discharging\)/.test(e.reason));
    assert.ok(capMove || s.events.length, `no change at all: ${JSON.stringify(s.events)}`);
    if (capMove) assert.match(await page.textContent('#events'), /battery low \(15 %, discharging\)/);

    // Every frame started from now on runs a configuration within the cap.
    const allowed = new Set(s.table.filter((l) => l.macs <= s.capMacs).map((l) => l.config).concat(s.table[0].config));
    const from = s.now;
    s = await waitForState(page, (x) => x.frames.filter((f) => f.t >= from).length >= 20, 20_000, '20 more frames');
    const outside = s.frames.filter((f) => f.t >= from && !allowed.has(f.config));
    assert.deepEqual(outside, [], 'only configurations under the cap run');
    assert.ok(capped('battery low')(s));
    await screenshot(page, 'battery-low.png');

    // Critical: only the cheapest configuration.
    await page.evaluate(() => window.setFakeBattery({ level: 0.05 }));
    s = await waitForState(page, (x) => capped('battery critical')(x) && x.capMacs === x.table[0].macs && x.rung === 0, 10_000, 'the battery-critical cap and the cheapest configuration');
    await waitForText(page, 'caps', /^battery critical \(5 %, discharging\): the cheapest configuration$/);
    const criticalAt = s.now;

    // Plugged in: no cap any more, and with frame-time headroom the governor climbs.
    await page.evaluate(() => window.setFakeBattery({ charging: true }));
    s = await waitForState(page, (x) => x.caps.length === 0 && x.capMacs === null, 10_000, 'no cap after plugging in');
    await waitForText(page, 'caps', /^none$/);
    assert.match(await page.textContent('#battery'), /^5 %, charging/);
    s = await waitForState(page, (x) => x.rung > 0, 30_000, 'a step up after plugging in');
    const up = s.events.find((e) => e.t > criticalAt && e.to !== s.table[0].config);
    assert.match(up.reason, /^headroom/);
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});

test('energy policy: discharging at 80 %, the cheapest configuration within 0.4 pp of the most accurate; plugged in, the most accurate', async () => {
  const demo = await openDemo({ query: pageQuery({ signals: 'battery', fps: 10 }), initScript: fakeBattery, initArg: { level: 0.8, charging: false } });
  try {
    const { page } = demo;
    const energy = (x) => x.caps.find((c) => c.kind === 'battery energy');
    let s = await waitForState(page, (x) => x.total >= 10 && energy(x) && x.rung !== null && x.table[x.rung].macs <= x.capMacs, 20_000, 'the energy cap in force, the configuration within it');
    // The tolerance at 80 %: 0.2 pp at full charge growing to 1 pp at 20 % (GOVERNOR.md).
    const top = s.table.at(-1), tolerance = 0.002 + 0.008 * (1 - 0.8) / (1 - 0.2);
    // (The accuracies are float32: 0.4 pp apart reads back as 0.40000081 pp, still within 0.4 pp.)
    const expected = s.table.find((r) => r.accuracy >= top.accuracy - tolerance - 1e-6);
    assert.equal(expected.name, 'pareto-31', 'the configuration GOVERNOR.md names');
    assert.notEqual(expected, top, 'the shipped package has a cheaper configuration within 0.4 pp');
    assert.equal(energy(s).macs, expected.macs);
    assert.equal(s.capMacs, expected.macs);
    assert.match(await waitForText(page, 'caps', /^on battery \(80 %, discharging\): /), new RegExp(`^on battery \\(80 %, discharging\\): ${expected.name}, [0-9.]+ pp below ${top.name} for \\d+ % of its MACs \\(giving up at most 0.40 pp at this charge\\)$`));

    // Plugged in: no cap, and the governor climbs above the energy cap's configuration.
    const capRung = s.table.indexOf(s.table.find((r) => r.macs === expected.macs));
    await page.evaluate(() => window.setFakeBattery({ charging: true }));
    s = await waitForState(page, (x) => x.caps.length === 0 && x.capMacs === null, 10_000, 'no cap after plugging in');
    s = await waitForState(page, (x) => x.rung > capRung, 30_000, 'above the energy cap after plugging in');
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
    const s = await waitForState(page, (x) => x.total >= 40, 20_000, '40 frames');
    assert.equal(s.device.battery, null);
    assert.deepEqual(s.caps, []);
    assert.match(await page.textContent('#battery'), /^unknown/);
    await waitForText(page, 'caps', /^none$/);
    assert.ok(s.events.every((e) => !/battery/.test(e.reason)), JSON.stringify(s.events));
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});
