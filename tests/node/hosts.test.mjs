// What Bun and Deno showed, reproduced under Node (tried by hand on
// 2026-12-05 with Bun 1.4.5 and Deno 2.9.6 from npm): both have a Web
// Worker global and a file system, so loadInWorker runs there; Bun's
// node:wasi has no getImportObject(); Deno's refuses the CLI's preopened
// root without --allow-read --allow-write.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import test from 'node:test';

import { root, wasiCli } from './harness.mjs';

const model = path.join(root, 'models/fashion-mnist.dyce');

/**
 * A Worker as Bun's (ref/unref, no page URL) that answers every request
 * at once: `load` and `classify` with plain data, `dispose` with nothing.
 */
function stubWorker(log) {
  return class {
    constructor(url) {
      log.push(['new', String(url)]);
    }
    postMessage(message) {
      log.push(['post', message.op, message.args]);
      const value = { load: { config: 'c', configs: [], labels: [], input: { width: 28, height: 28, channels: 1 } }, classify: { label: 'x', config: 'c' } }[message.op];
      setTimeout(() => this.onmessage({ data: { id: message.id, ok: true, value } }), 1);
    }
    ref() { log.push(['ref']); }
    unref() { log.push(['unref']); }
    terminate() { log.push(['terminate']); }
  };
}

test('loadInWorker where there is a Worker but no page (Bun, Deno): paths stay paths, an idle worker holds no process', async (t) => {
  const log = [];
  globalThis.Worker = stubWorker(log);
  t.after(() => delete globalThis.Worker);
  const { loadInWorker } = await import('../../wasm/worker-client.mjs');
  // Was a TypeError (Invalid URL): a path resolved against a page URL that is not there.
  const m = await loadInWorker(model, { wasmPaths: 'node_modules/dyce/wasm/dist', threads: 1 });
  const [source, options] = log.find((e) => e[0] === 'post' && e[1] === 'load')[2];
  assert.equal(source, model);
  assert.equal(options.wasmPaths, 'node_modules/dyce/wasm/dist/');
  await m.classify({ data: new Uint8Array(784), width: 28, height: 28, channels: 1 });
  // Held while a call waits, let go in between (Bun's Worker, like Node's, would else keep the process alive).
  assert.deepEqual(log.filter((e) => e[0] === 'ref' || e[0] === 'unref').map((e) => e[0]), ['ref', 'unref', 'ref', 'unref']);
  await m.dispose();
  assert.equal(log.at(-1)[0], 'terminate');
  // A relative URL with nothing to resolve it against is an argument error naming the option.
  await assert.rejects(loadInWorker(model, { wasmUrl: 'https:' }), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === 'wasmUrl');
});

/** The CLI with `setup` run first (a module given to --import, as a host whose node:wasi differs). */
function cli(setup, args) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(process.execPath, ['--no-warnings', '--import', `data:text/javascript,${encodeURIComponent(setup)}`, wasiCli, ...args],
    { encoding: 'utf8', env, timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('the CLI under a node:wasi without getImportObject (Bun\'s), and one that cannot start: one line, status 1', () => {
  const bun = cli('import { WASI } from "node:wasi"; delete WASI.prototype.getImportObject;', ['info', model]);
  assert.equal(bun.status, 0, bun.stderr);
  assert.match(bun.stdout, /^input: 1x28x28x1/);
  const broken = cli('import { WASI } from "node:wasi"; WASI.prototype.getImportObject = () => { throw new Error("no preopen"); };', ['info', model]);
  assert.equal(broken.status, 1);
  assert.equal(broken.stderr, `dyce: error: cannot start the WASI build under Node ${process.version}: no preopen\n`);
});

test('dyce/browser under Node (no navigator.hardwareConcurrency): one thread, and threadsReason says why and what to import', () => {
  // A child process: this one has loaded the Node entry, which tells the
  // shared thread code the core count.
  const code = `
    const { load } = await import(${JSON.stringify(path.join(root, 'wasm/dist/dyce.browser.mjs'))});
    const m = await load(${JSON.stringify(model)});
    console.log(JSON.stringify({ has: typeof navigator !== 'undefined' && navigator.hardwareConcurrency, threads: m.threads, maxThreads: m.maxThreads, reason: m.threadsReason }));
    await m.dispose();`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', code], { encoding: 'utf8', env: { ...process.env, NODE_TEST_CONTEXT: '' } });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1));
  if (out.has) return; // a Node with navigator (21+) says its cores
  assert.deepEqual([out.threads, out.maxThreads], [1, 1]);
  assert.match(out.reason, /does not say how many cores it has .*import 'dyce', not 'dyce\/browser'/);
});
