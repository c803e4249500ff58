// The Chromium host of threads.mjs: one cross-origin-isolated page
// (isolated_server.mjs) in Debian's Chromium, headless, and in it one
// iframe per (runtime, threads) — a realm of its own, as the peers need
// (runtimes.mjs) — all on the page's one main thread, as a site's would
// be. CPU time is read from /proc for the browser's processes
// (proc_cpu.mjs), since a page cannot see it. Any request that leaves the
// local server fails the run: nothing is downloaded.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { treeCpuMs } from './proc_cpu.mjs';
import { realmApi } from './realm_api.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function startServer() {
  const server = spawn(process.execPath, [fileURLToPath(new URL('./isolated_server.mjs', import.meta.url)), ROOT],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    server.once('exit', (code) => reject(new Error(`the benchmark's server exited (${code})`)));
  });
  return { server, port };
}

/** A realm = the iframe with id `realm${i}`; its runner's methods called through the page. */
function pageRealm(page, i, runtime, threads) {
  const call = (cmd, ...args) => page.evaluate(async ([id, c, a]) =>
    document.getElementById(id).contentWindow.runner[c](...a), [`realm${i}`, cmd, args]);
  return realmApi(call, runtime, threads);
}

export async function openPageRealms(configs) {
  const { server, port } = startServer();
  const origin = `http://127.0.0.1:${await port}`;
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const close = async () => {
    await browser.close();
    server.kill();
  };
  try {
    const page = await browser.newPage();
    const outside = [];
    page.on('request', (r) => { if (!/^(blob|data):/.test(r.url()) && !r.url().startsWith(origin)) outside.push(r.url()); });
    page.on('console', (m) => { if (m.type() === 'error') console.log(`  [chromium] ${m.text()}`); });
    page.on('pageerror', (e) => console.log(`  [chromium] ${e.message}`));
    await page.goto(`${origin}/`);
    const realms = [];
    for (const [i, { runtime, threads, splitMinMacs }] of configs.entries()) {
      await page.evaluate(([id, src]) => {
        const frame = Object.assign(document.createElement('iframe'), { id, src, width: 16, height: 16 });
        document.body.append(frame);
      }, [`realm${i}`, `/frame?runtime=${runtime}&threads=${threads}${splitMinMacs === undefined ? '' : `&splitMinMacs=${splitMinMacs}`}`]);
      await page.waitForFunction((id) => document.getElementById(id).contentWindow?.runner, `realm${i}`, { timeout: 60_000 });
      realms.push(pageRealm(page, i, runtime, threads));
    }
    const env = await page.evaluate(() => ({
      isolated: crossOriginIsolated,
      framesIsolated: [...document.querySelectorAll('iframe')].every((f) => f.contentWindow.crossOriginIsolated),
      cores: navigator.hardwareConcurrency,
    }));
    if (!env.isolated || !env.framesIsolated) throw new Error('the page is not cross-origin isolated: no threads for anyone');
    return {
      host: 'chromium',
      about: `Chromium ${browser.version()} headless, crossOriginIsolated ${env.isolated} (and every iframe), ` +
        `hardwareConcurrency ${env.cores}; one page, an iframe per runtime and thread count`,
      realms,
      /** `ms` of one realm's runs back to back → CPU time of all the browser's processes / wall time, ms per run. */
      async alone(realm, ms) {
        const c0 = treeCpuMs(), t0 = performance.now();
        const b = await realm.batch(ms);
        const wall = performance.now() - t0, c1 = treeCpuMs();
        return { cpuOverWall: c0 === null ? null : (c1 - c0) / wall, msPerRun: b.wallMs / b.runs };
      },
      async close() {
        await close();
        if (outside.length) throw new Error(`the page requested ${outside.length} URL(s) off the local server: ${outside.slice(0, 3).join(', ')}`);
      },
    };
  } catch (e) {
    await close();
    throw e;
  }
}
