// dyce as a new web developer gets it: the `npm pack` tarball installed in
// a fresh app, a ten-line page, built with Vite (`vite build`, no config),
// webpack 5 (no config at all), Parcel 2 (`parcel build index.html`, no
// config), esbuild and Rollup (the README's recipes) and no bundler at all (an import map naming the one-file `dyce/browser`), served
// on 127.0.0.1 and opened in Debian's Chromium; and the same page under
// Vite's dev server (no config, no optimizeDeps.exclude). Each build classifies real
// Fashion-MNIST test images on the main thread and in the Worker, and
// must give the labels Node's API gives for the same images. The pages
// are served cross-origin isolated (COOP + COEP), so each bundle must
// also have emitted the threaded build and its worker script: every model
// runs on two threads, with both started. webpack must not warn; esbuild's
// default format (iife, no import.meta) must give a DyceError saying so.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { chromium } from 'playwright-core';
import { createServer as viteDevServer } from 'vite';

import { imagesAndLabels, packedApp, root } from './app.mjs';

const SAMPLES = [0, 1, 2, 3, 4];
const MODEL = path.join(root, 'models/fashion-mnist.dyce');

// The page: load the model both ways, classify the test images, publish the labels.
const PAGE = `import { load } from 'dyce';
import { loadInWorker } from 'dyce/worker';
const get = async (url) => new Uint8Array(await (await fetch(url)).arrayBuffer());
const [pixels, n] = [await get('/images.bin'), 784];
const images = Array.from({ length: pixels.length / n }, (_, i) => ({ data: pixels.subarray(i * n, (i + 1) * n), width: 28, height: 28, channels: 1 }));
const run = async (model) => ({ variant: model.variant, threads: model.threads, started: await model.threadsReady, reason: model.threadsReason,
  labels: await Promise.all(images.map(async (im) => (await model.classify(im)).label)) });
const [main, worker] = await Promise.all([load('/fashion-mnist.dyce'), loadInWorker('/fashion-mnist.dyce')]);
window.dyceResult = { main: await run(main), worker: await run(worker) };
`;
// No top-level await for webpack's default (script) output.
const ENTRY = `(async () => {\n${PAGE.replace(/^import .*$/gm, '')}})().catch((e) => { window.dyceResult = { error: \`\${e.code ?? e.name}: \${e.message}\` }; });\n`;
const IMPORTS = PAGE.match(/^import .*$/gm).join('\n');
const HTML = (script, type = 'module') => `<!doctype html><title>dyce</title><link rel="icon" href="data:,"><script type="${type}" src="${script}"></script>\n`;

const bin = (pkg, file) => path.join(root, 'node_modules', pkg, file);

function run(cmd, args, cwd) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 120_000, env: { ...process.env, NODE_TEST_CONTEXT: '' } });
  assert.equal(r.status, 0, `${path.basename(args[0] ?? cmd)} failed:\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The page with the .wasm files in wasm-files/, named relative to the
 * page: the Worker (in js/) must resolve them against the page, not
 * against its own script. */
function withWasmPaths(page) {
  const out = page.replace("load('/fashion-mnist.dyce')", "load('/fashion-mnist.dyce', { wasmPaths: new URL('wasm-files/', location.href) })")
    .replace("loadInWorker('/fashion-mnist.dyce')", "loadInWorker('/fashion-mnist.dyce', { wasmPaths: 'wasm-files/' })");
  assert.notEqual(out, page);
  return out;
}

function copyWasm(dir, out) {
  fs.mkdirSync(path.join(out, 'wasm-files'), { recursive: true });
  for (const f of fs.readdirSync(path.join(dir, 'node_modules/dyce/wasm/dist')).filter((x) => x.endsWith('.wasm')))
    fs.copyFileSync(path.join(dir, 'node_modules/dyce/wasm/dist', f), path.join(out, 'wasm-files', f));
}

/** Each bundler: how it builds the app in `dir` → the folder to serve. */
const BUNDLERS = {
  // `vite build` with no config file: index.html is the entry.
  vite(dir) {
    run(process.execPath, [bin('vite', 'bin/vite.js'), 'build', '--logLevel', 'warn'], dir);
    return path.join(dir, 'dist');
  },
  // `webpack` with no config and no arguments: src/index.js → dist/main.js.
  webpack(dir) {
    const { stdout, stderr } = run(process.execPath, [bin('webpack-cli', 'bin/cli.js')], dir);
    // No warning about dyce's code (a CI may treat warnings as errors);
    // webpack's own about the missing mode and the .wasm sizes stay.
    assert.doesNotMatch(stdout + stderr, /WARNING in \S*dyce|Critical dependency/, `webpack warned:\n${stdout}\n${stderr}`);
    fs.writeFileSync(path.join(dir, 'dist/index.html'), HTML('main.js', 'text/javascript'));
    return path.join(dir, 'dist');
  },
  // esbuild follows imports, not new URL(…): the README's recipe bundles
  // the worker as a second entry next to the app and puts the .wasm files
  // where `wasmPaths` says. Here the bundles are in js/ and the .wasm in
  // wasm-files/, named relative to the page: the Worker (in js/) must
  // resolve it against the page, not against its own script.
  esbuild(dir) {
    const esbuild = bin('esbuild', 'bin/esbuild'), out = path.join(dir, 'out');
    fs.writeFileSync(path.join(dir, 'main-paths.js'), withWasmPaths(PAGE));
    run(esbuild, ['main-paths.js', '--bundle', '--format=esm', '--outfile=out/js/main.js', '--log-level=warning'], dir);
    run(esbuild, ['node_modules/dyce/wasm/worker.mjs', '--bundle', '--format=esm', '--outfile=out/js/worker.mjs', '--log-level=warning'], dir);
    run(esbuild, ['node_modules/dyce/wasm/thread-worker.mjs', '--bundle', '--format=esm', '--outfile=out/js/thread-worker.mjs', '--log-level=warning'], dir);
    copyWasm(dir, out);
    fs.writeFileSync(path.join(out, 'index.html'), HTML('js/main.js'));
    return out;
  },
  // `parcel build index.html` with no config: Parcel does not read
  // package.json "exports" unless the app opts in, so it finds dyce by the
  // legacy fields ("browser", and dyce/worker/package.json for subpaths).
  parcel(dir) {
    run(process.execPath, [bin('parcel', 'lib/bin.js'), 'build', 'index.html', '--dist-dir', 'dist',
      '--no-source-maps', '--no-cache', '--log-level', 'warn'], dir);
    return path.join(dir, 'dist');
  },
  // Rollup, the README's recipe: node-resolve for the bare imports, the
  // workers as further inputs written next to the app's bundle, the .wasm
  // files where `wasmPaths` says (as for esbuild).
  rollup(dir) {
    const out = path.join(dir, 'out');
    fs.writeFileSync(path.join(dir, 'main-paths.js'), withWasmPaths(PAGE));
    run(process.execPath, [bin('rollup', 'dist/bin/rollup'), 'main-paths.js', 'node_modules/dyce/wasm/worker.mjs',
      'node_modules/dyce/wasm/thread-worker.mjs', '--format', 'es', '--dir', 'out/js', '--entryFileNames', '[name].mjs',
      '--plugin', 'node-resolve', '--silent'], dir);
    copyWasm(dir, out);
    fs.writeFileSync(path.join(out, 'index.html'), HTML('js/main-paths.mjs'));
    return out;
  },
  // No bundler: the app folder served as it is, the page's import map
  // naming the one-file entry (`dyce/browser`) and the Worker's client.
  none(dir) {
    const imports = { dyce: `/${NO_BUNDLER_ENTRY}`, 'dyce/worker': '/node_modules/dyce/wasm/worker-client.mjs' };
    fs.writeFileSync(path.join(dir, 'index.html'),
      HTML('./main.js').replace('<script', `<script type="importmap">${JSON.stringify({ imports })}</script><script`));
    return dir;
  },
};
const NO_BUNDLER_ENTRY = 'node_modules/dyce/wasm/dist/dyce.browser.mjs';

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.mjs': 'text/javascript', '.wasm': 'application/wasm' };
// What makes a page cross-origin isolated (SharedArrayBuffer: threads).
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

/** Serves folder `base` at the root (Vite's default base is "/"), plus the model and the test images. */
function serve(base, extra) {
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    if (extra[pathname]) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', ...ISOLATION });
      return res.end(extra[pathname]);
    }
    const file = path.join(base, decodeURIComponent(pathname));
    if (!file.startsWith(base) || !fs.existsSync(file) || fs.statSync(file).isDirectory()) {
      res.writeHead(404, ISOLATION);
      return res.end();
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream', ...ISOLATION });
    fs.createReadStream(file).pipe(res);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

/**
 * esbuild without the recipe's --format=esm (its default is iife, and it
 * says nothing about import.meta inside node_modules): dyce cannot locate
 * its files, and must say so, not fail with "Invalid URL".
 */
async function checkIife(app, context, extra, servers) {
  const iife = path.join(app.tmp, 'esbuild-iife');
  fs.cpSync(app.dir, iife, { recursive: true });
  run(bin('esbuild', 'bin/esbuild'), ['src/index.js', '--bundle', '--outfile=out/main.js', '--log-level=error'], iife);
  fs.writeFileSync(path.join(iife, 'out/index.html'), HTML('main.js', 'text/javascript'));
  const server = await serve(path.join(iife, 'out'), extra);
  servers.push(server);
  const page = await context.newPage();
  await page.goto(`http://127.0.0.1:${server.address().port}/index.html`);
  await page.waitForFunction(() => window.dyceResult, null, { timeout: 60_000 });
  const { error } = await page.evaluate(() => window.dyceResult);
  assert.match(error ?? '', /^DYCE_UNSUPPORTED: cannot locate dyce's .*no import\.meta\.url.*--format=esm/, `esbuild iife: ${error}`);
  await page.close();
}

test('Vite (build and dev server), webpack, Parcel, esbuild, Rollup and unbundled (import map) apps classify in Chromium, on the main thread and in the Worker, as Node does', { timeout: 240_000 }, async (t) => {
  const { pixels, want } = await imagesAndLabels(MODEL, SAMPLES);

  const app = packedApp('bundlers', {
    'index.html': HTML('./main.js'), 'main.js': PAGE, 'src/index.js': `${IMPORTS}\n${ENTRY}`,
  });
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-chromium-'));
  const servers = [];
  let context, dev;
  t.after(async () => {
    await dev?.close();
    await context?.close();
    for (const server of servers) server.close();
    fs.rmSync(profile, { recursive: true, force: true });
    app.remove();
  });
  // Each bundler builds in a copy of the app, so outputs never mix.
  const folders = {};
  for (const [name, build] of Object.entries(BUNDLERS)) {
    const dir = path.join(app.tmp, name);
    fs.cpSync(app.dir, dir, { recursive: true });
    folders[name] = build(dir);
    // Nothing Node-only reached the browser bundle.
    const code = name === 'none' ? [NO_BUNDLER_ENTRY] // the rest of node_modules is not the page's
      : fs.readdirSync(folders[name], { recursive: true }).filter((f) => /\.m?js$/.test(f));
    assert.ok(code.length > 0, `${name} emitted no script`);
    const nodeImport = /\bfrom\s*["'`]node:|\b(import|require)\(\s*["'`]node:/;
    for (const f of code) assert.ok(!nodeImport.test(fs.readFileSync(path.join(folders[name], f), 'utf8')), `${name}: ${f} imports a node: module`);
  }
  const extra = { '/fashion-mnist.dyce': fs.readFileSync(MODEL), '/images.bin': pixels };
  context = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Vite's dev server serves the app itself (the model and images from public/).
  const devDir = path.join(app.tmp, 'vite-dev');
  fs.cpSync(app.dir, devDir, { recursive: true });
  fs.mkdirSync(path.join(devDir, 'public'));
  for (const [url, bytes] of Object.entries(extra)) fs.writeFileSync(path.join(devDir, 'public', url), bytes);
  dev = await viteDevServer({ root: devDir, configFile: false, logLevel: 'warn', server: { host: '127.0.0.1', port: 0, headers: ISOLATION } });
  await dev.listen();
  const origins = { 'vite dev': dev.resolvedUrls.local[0].replace(/\/$/, '') };
  for (const name of Object.keys(BUNDLERS)) {
    const server = await serve(folders[name], extra);
    servers.push(server);
    origins[name] = `http://127.0.0.1:${server.address().port}`;
  }
  for (const name of Object.keys(origins)) {
    const page = await context.newPage(), errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(`${m.text()} ${m.location().url}`));
    await page.goto(`${origins[name]}/index.html`);
    // The answer, or the first page error (an uncaught one would never answer).
    const failed = new Promise((_, reject) => page.on('pageerror', (e) => reject(new Error(`${name}: ${e.message}`))));
    await Promise.race([failed, page.waitForFunction(() => window.dyceResult, null, { timeout: 60_000 })
      .catch((e) => { throw new Error(`${name}: no answer (${e.message}); console errors: ${errors.join('; ')}`); })]);
    const result = await page.evaluate(() => window.dyceResult);
    assert.equal(result.error, undefined, `${name}: ${result.error}`);
    assert.deepEqual(result.main.labels, want, `${name}, main thread`);
    assert.deepEqual(result.worker.labels, want, `${name}, Worker`);
    assert.equal(result.worker.variant, result.main.variant, `${name}: the Worker picks the build the page does`);
    assert.match(result.main.variant, /^(relaxed|simd)$/);
    for (const where of ['main', 'worker']) { // this machine has 2 cores: threads 'auto' is 2
      const r = result[where];
      assert.deepEqual([r.threads, r.started, r.reason], [2, 1, null], `${name}, ${where}: threads`);
    }
    assert.deepEqual(errors, [], `${name}: page errors`);
    t.diagnostic(`${name}: ${result.main.variant} build on ${result.main.threads} threads, labels ${result.main.labels.join(', ')} (main thread and Worker)`);
    await page.close();
  }

  await checkIife(app, context, extra, servers);
});
