// dyce's cold start in Debian's Chromium: a page whose module script,
// from its first statement, imports wasm/index.mjs (the modules, three
// levels of imports) or wasm/dist/dyce.browser.mjs (`dyce/browser`, the
// same as one file; scripts/bundle.mjs), loads the shipped
// package (wasm compiled by streaming: served as application/wasm) and
// classifies a Fashion-MNIST test image, then 30 more for the steady
// time. A fresh browser context per run, so no cache helps. The files are
// served by a child process (`node coldstart_page.mjs --serve ROOT`), not
// by the process driving the browser, whose event loop is busy then.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromium } from 'playwright-core';

import { readTestSet } from '../node/fmnist.mjs';

const ENTRIES = { dyce: '/wasm/index.mjs', 'dyce/browser': '/wasm/dist/dyce.browser.mjs' };
const PAGE = `<!doctype html><link rel="icon" href="data:,"><script type="module">
window.addEventListener('unhandledrejection', (e) => { window.result = { error: String(e.reason?.message ?? e.reason) }; });
const gray = new Uint8Array(await (await fetch('/image.bin')).arrayBuffer()); // the user's, not timed
const pixels = new Uint8ClampedArray(4 * gray.length).map((_, i) => (i % 4 === 3 ? 255 : gray[i >> 2]));
const t0 = performance.now();
const { load } = await import(new URLSearchParams(location.search).get('entry'));
const tImport = performance.now();
const model = await load('/models/fashion-mnist.dyce');
const tLoad = performance.now();
const image = new ImageData(pixels, 28, 28);
await model.classify(image);
const tFirst = performance.now(), times = [];
for (let i = 0; i < 30; i++) {
  const s = performance.now();
  await model.classify(image);
  times.push(performance.now() - s);
}
times.sort((a, b) => a - b);
window.result = { variant: model.variant, importMs: tImport - t0, loadMs: tLoad - tImport, firstMs: tFirst - tLoad,
  totalMs: tFirst - t0, steadyMs: (times[14] + times[15]) / 2 };
</script>`;

const TYPES = { '.mjs': 'text/javascript', '.wasm': 'application/wasm', '.dyce': 'application/octet-stream' };

function serve(root) {
  const image = readTestSet().pixels.subarray(0, 784);
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (pathname === '/') return res.writeHead(200, { 'content-type': 'text/html' }).end(PAGE);
    if (pathname === '/image.bin') return res.writeHead(200).end(image);
    const file = path.join(root, pathname);
    const allowed = (pathname.startsWith('/wasm/') || pathname === '/models/fashion-mnist.dyce') && file.startsWith(root);
    if (!allowed || !fs.existsSync(file)) return res.writeHead(404).end();
    // With its length, as static servers send files (load() then streams the package into wasm memory).
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', 'cache-control': 'max-age=3600',
      'content-length': fs.statSync(file).size });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function summary(host, runtime, rs) {
  const row = { host, runtime, model: 'fashion-mnist', variant: rs[0].variant, runs: rs.length };
  for (const key of ['importMs', 'loadMs', 'firstMs', 'totalMs', 'steadyMs']) {
    row[key] = median(rs.map((r) => r[key]));
    row[`${key}Min`] = Math.min(...rs.map((r) => r[key]));
  }
  row.firstOverSteady = row.firstMs / row.steadyMs;
  return row;
}

/**
 * `runs` cold starts of dyce in Chromium, each in a fresh browser context,
 * then a second visit of the page in the same context (the HTTP cache,
 * and V8's code cache for the streamed .wasm where Chromium kept one)
 * → two rows shaped as coldstart.mjs's per entry (modules, one file), the
 * entries taking turns.
 */
export async function chromiumColdStarts(root, runs) {
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve', root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise((resolve, reject) => {
    server.stdout.once('data', (d) => resolve(Number(String(d).trim())));
    server.once('exit', (code) => reject(new Error(`the cold-start server exited (${code})`)));
  });
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const names = Object.keys(ENTRIES), cold = {}, repeat = {};
  for (const name of names) [cold[name], repeat[name]] = [[], []];
  const visit = async (page, name) => {
    await page.goto(`http://127.0.0.1:${port}/?entry=${encodeURIComponent(ENTRIES[name])}`);
    await page.waitForFunction(() => window.result, null, { timeout: 60_000 });
    const r = await page.evaluate(() => window.result);
    if (r.error) throw new Error(`the cold-start page (${name}) failed: ${r.error}`);
    return r;
  };
  try {
    for (let i = 0; i < runs; i++)
      for (let j = 0; j < names.length; j++) { // the entries take turns going first
        const name = names[(i + j) % names.length], context = await browser.newContext();
        cold[name].push(await visit(await context.newPage(), name));
        repeat[name].push(await visit(await context.newPage(), name));
        await context.close();
      }
  } finally {
    await browser.close();
    server.kill();
  }
  return names.flatMap((name) => [summary('chromium', name, cold[name]), summary('chromium, repeat visit', name, repeat[name])]);
}

if (process.argv[2] === '--serve') {
  const server = await serve(path.resolve(process.argv[3]));
  console.log(server.address().port);
}
