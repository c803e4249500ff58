// Shared pieces of the browser tests: Debian's Chromium driven by
// playwright-core (never a downloaded browser), a fresh profile, the demo
// served by scripts/serve.mjs on 127.0.0.1, helpers to read the page, and
// a fake Battery Status API.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { startServer } from '../../scripts/serve.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const artifacts = path.join(root, 'test-results');
const CHROMIUM = '/usr/bin/chromium';

// Headless, offline and quiet: no sandbox (containers), no GPU, no QUIC,
// no first-run UI, no background traffic, component updates or sync.
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * The page's URL options: `options` (an object), plus `model` from the
 * environment's DYCE_TEST_MODEL when set (to try another package).
 */
export function pageQuery(options) {
  const all = { ...options, ...(process.env.DYCE_TEST_MODEL ? { model: process.env.DYCE_TEST_MODEL } : {}) };
  return '?' + new URLSearchParams(Object.entries(all).map(([k, v]) => [k, String(v)]));
}

/**
 * Serves the demo and opens it. Options: `query` (the page's URL options),
 * `initScript` (a function run before the page's scripts), `viewport`,
 * `mobile` (touch, phone user agent), `isolated` (false: served without
 * COOP/COEP, so the page is not cross-origin isolated and runs one thread).
 * → {page, context, errors, url, close()}
 */
export async function openDemo({ query = '', initScript, initArg, viewport = { width: 1280, height: 900 }, mobile = false, isolated = true } = {}) {
  const { server, url } = await startServer({ port: 0, isolated });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-chromium-'));
  let context;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM, headless: true, args: FLAGS, viewport,
      isMobile: mobile, hasTouch: mobile, deviceScaleFactor: mobile ? 2 : 1,
    });
  } catch (e) {
    server.close();
    fs.rmSync(profile, { recursive: true, force: true });
    throw e;
  }
  const page = context.pages()[0] ?? await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // The page probes for the shipped packages (float32, int8); before they exist those probes are 404s.
  const expected = (m) => /\/models\/fashion-mnist(-int8)?\.dyce$/.test(m.location().url) && /404/.test(m.text());
  page.on('console', (m) => m.type() === 'error' && !expected(m) && errors.push(`${m.text()} (${m.location().url})`));
  if (initScript) await context.addInitScript(initScript, initArg);
  await page.goto(url + query);
  await page.evaluate(() => window.demoReady);
  return {
    page, context, errors, url,
    async close() {
      await context.close();
      server.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}

/** The page's plain-data state (web/app.mjs `snapshot()`). */
export function snapshot(page) {
  return page.evaluate(() => window.demo.snapshot());
}

/**
 * Polls the page's snapshot (every 100 ms) until `predicate(s)` holds;
 * returns it, or throws after `timeoutMs`. Waits are for states, never
 * fixed sleeps: a loaded machine only makes them take longer.
 */
export async function waitForState(page, predicate, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const s = await snapshot(page);
    if (predicate(s)) return s;
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; now at ${s.configName} on ${s.threads} of ${s.maxThreads} threads (${s.reason}; caps: ${s.caps.map((c) => c.kind).join(', ') || 'none'})`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Waits until element `#id`'s text matches `pattern` (the page renders at most every 200 ms); returns the text. */
export async function waitForText(page, id, pattern, timeoutMs = 5000) {
  try {
    await page.waitForFunction(({ id, source, flags }) => new RegExp(source, flags).test(document.getElementById(id).textContent),
      { id, source: pattern.source, flags: pattern.flags }, { timeout: timeoutMs, polling: 50 });
  } catch (e) {
    throw new Error(`#${id} did not come to match ${pattern} in ${timeoutMs} ms: it says '${await page.textContent(`#${id}`)}'`, { cause: e });
  }
  return page.textContent(`#${id}`);
}

/**
 * Saves a screenshot under test-results/ (untracked: no test writes a
 * tracked file; docs/demo.png is refreshed by hand from test-results/demo.png).
 */
export async function screenshot(page, name, options = {}) {
  fs.mkdirSync(artifacts, { recursive: true });
  const file = path.join(artifacts, name);
  await page.screenshot({ path: file, ...options });
  return file;
}

/** Frames after time `since` (page ms): count, share within budget, configurations used. */
export function framesSince(s, since) {
  const frames = s.frames.filter((f) => f.t >= since);
  const within = frames.filter((f) => !f.over).length;
  const configs = {};
  for (const f of frames) configs[f.config] = (configs[f.config] ?? 0) + 1;
  return { count: frames.length, within, share: frames.length ? within / frames.length : null, configs };
}

/**
 * An init script (openDemo's `initScript`; `initArg`: {level, charging}):
 * a BatteryManager look-alike the test drives with
 * `window.setFakeBattery({level?, charging?})`, which fires the events a
 * real one would (Chromium's own reports a desktop on mains power).
 */
export function fakeBattery(initial) {
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
