// One small driver interface over three browser engines, so that one test
// body runs on all of them (docs: ../../../shared/BROWSERS.md has what was
// found to work here; never a downloaded browser):
//   chromium  Debian's Chromium through playwright-core
//   firefox   Debian's Firefox ESR through puppeteer-core (WebDriver BiDi)
//   webkit    WebKitGTK's MiniBrowser through WebKitWebDriver and
//             selenium-webdriver, on an Xvfb display started here
//             (MiniBrowser has no headless mode)
//
// launchEngine(name) → {
//   name, version,
//   goto(url),                 navigates (may return before module scripts ran)
//   evaluate(fn, arg),         runs fn(arg) in the page (fn may be async); its JSON result
//   waitFor(fn, arg, {timeoutMs, what}),  polls evaluate(fn, arg) until it is truthy; returns it
//   errors(),                  the page's recorded errors (web/errors.js, with ?test)
//   close(),
// }
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const ENGINES = ['chromium', 'firefox', 'webkit'];

const CHROMIUM = '/usr/bin/chromium';
const FIREFOX = '/usr/bin/firefox-esr';
const WEBKIT_DRIVER = '/usr/bin/WebKitWebDriver';
const MINIBROWSER = '/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser';
const CHROMIUM_FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** The engines whose browser is installed here: {name: null | 'why not'}. */
export function missingEngines() {
  const need = { chromium: [CHROMIUM], firefox: [FIREFOX], webkit: [WEBKIT_DRIVER, MINIBROWSER, '/usr/bin/Xvfb'] };
  return Object.fromEntries(Object.entries(need).map(([name, files]) => {
    const absent = files.filter((f) => !fs.existsSync(f));
    return [name, absent.length ? `not installed: ${absent.join(', ')} (scripts/bootstrap.sh installs it)` : null];
  }));
}

/** Polls `probe()` until it returns something truthy; throws after `timeoutMs`. */
async function poll(probe, { timeoutMs = 30_000, intervalMs = 100, what = 'a condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Common methods over `evaluate`. */
function withHelpers(driver) {
  return Object.assign(driver, {
    waitFor(fn, arg, { timeoutMs = 30_000, what = 'the page' } = {}) {
      return poll(() => driver.evaluate(fn, arg), { timeoutMs, intervalMs: 150, what: `${what} in ${driver.name}` });
    },
    errors() {
      return driver.evaluate(() => window.pageErrors ?? ['window.pageErrors missing: was ?test in the URL?']);
    },
  });
}

async function launchChromium() {
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_FLAGS });
  const page = await browser.newPage();
  return withHelpers({
    name: 'chromium', version: browser.version(), page,
    goto: (url) => page.goto(url),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    close: () => browser.close(),
  });
}

async function launchFirefox() {
  const { default: puppeteer } = await import('puppeteer-core');
  const browser = await puppeteer.launch({
    browser: 'firefox', protocol: 'webDriverBiDi', executablePath: FIREFOX, headless: true,
    // Offline and quiet: no updates, telemetry or remote settings.
    extraPrefsFirefox: { 'app.update.enabled': false, 'datareporting.policy.dataSubmissionEnabled': false, 'toolkit.telemetry.enabled': false },
  });
  const page = (await browser.pages())[0] ?? await browser.newPage();
  return withHelpers({
    name: 'firefox', version: await browser.version(), page,
    goto: (url) => page.goto(url),
    evaluate: (fn, arg) => page.evaluate(fn, arg),
    close: () => browser.close(),
  });
}

/** Starts a process; resolves once `ready(stdoutOrStderrSoFar)` matches, rejects if it exits first. */
function startProcess(file, args, { env, ready, timeoutMs = 15_000, stdio }) {
  const child = spawn(file, args, { env: { ...process.env, ...env }, stdio: stdio ?? ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${path.basename(file)} did not start in ${timeoutMs} ms: ${output.slice(-500)}`)), timeoutMs);
    const fail = (e) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    const onData = (d) => {
      output += d;
      const found = ready(output);
      if (found) {
        clearTimeout(timer);
        resolve({ child, found });
      }
    };
    for (const stream of [child.stdout, child.stderr, child.stdio[3]]) stream?.on('data', onData);
    child.once('exit', (code, signal) => fail(new Error(`${path.basename(file)} exited (${code ?? signal}): ${output.slice(-500)}`)));
    child.once('error', fail);
  });
}

function stopProcess(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function launchWebKit() {
  const started = [];
  try {
    // A display of its own: Xvfb picks a free number and writes it to fd 3.
    const xvfb = await startProcess('/usr/bin/Xvfb', ['-displayfd', '3', '-nolisten', 'tcp', '-screen', '0', '1280x1024x24'], {
      stdio: ['ignore', 'ignore', 'pipe', 'pipe'], ready: (out) => /^(\d+)\n/.exec(out)?.[1],
    });
    started.push(xvfb.child);
    const display = `:${xvfb.found}`;
    const port = await freePort();
    const driver = spawn(WEBKIT_DRIVER, [`--port=${port}`, '--host=127.0.0.1'], { env: { ...process.env, DISPLAY: display }, stdio: 'ignore' });
    started.push(driver);
    const serverUrl = `http://127.0.0.1:${port}`;
    // It prints nothing when ready: wait until it answers.
    await poll(async () => {
      if (driver.exitCode !== null) throw new Error(`WebKitWebDriver exited (${driver.exitCode})`);
      try {
        return (await fetch(`${serverUrl}/status`)).ok;
      } catch {
        return false;
      }
    }, { timeoutMs: 10_000, what: 'WebKitWebDriver' });
    const { Builder } = await import('selenium-webdriver');
    const session = await new Builder().usingServer(serverUrl).withCapabilities({
      browserName: 'MiniBrowser',
      'webkitgtk:browserOptions': { binary: MINIBROWSER, args: ['--automation'] },
    }).build();
    await session.manage().setTimeouts({ script: 120_000, pageLoad: 60_000 });
    const caps = await session.getCapabilities();
    // Runs fn(arg) (sync or async) and hands back {value} or {error}: a
    // rejected promise becomes a thrown Error here, as in the other drivers.
    const evaluate = async (fn, arg) => {
      const script = `const done = arguments[arguments.length - 1];
        Promise.resolve().then(() => (${fn.toString()})(arguments[0]))
          .then((value) => done({ value: value === undefined ? null : value }), (e) => done({ error: String(e && e.stack || e) }));`;
      const out = await session.executeAsyncScript(script, arg ?? null);
      if (out.error !== undefined) throw new Error(`in the page: ${out.error}`);
      return out.value;
    };
    return withHelpers({
      name: 'webkit', version: `${caps.get('browserName')} ${caps.get('browserVersion')}`, session,
      goto: (url) => session.get(url),
      evaluate,
      async close() {
        try {
          await session.quit();
        } finally {
          for (const child of started.reverse()) await stopProcess(child);
        }
      },
    });
  } catch (e) {
    for (const child of started.reverse()) await stopProcess(child);
    throw e;
  }
}

/** Launches `name` (one of ENGINES) with a fresh profile. */
export function launchEngine(name) {
  switch (name) {
    case 'chromium': return launchChromium();
    case 'firefox': return launchFirefox();
    case 'webkit': return launchWebKit();
    default: throw new Error(`unknown engine '${name}': one of ${ENGINES.join(', ')}`);
  }
}
