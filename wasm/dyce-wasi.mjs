#!/usr/bin/env node
// Runs the WASI build of the `dyce` CLI under node:wasi with the same
// arguments as the native one:  node wasm/dyce-wasi.mjs info model.dyce
// The filesystem root is preopened and PWD passed, so the CLI can chdir to
// the caller's directory: relative and absolute paths both resolve. The
// exit status is the CLI's.
import fs from 'node:fs';
import v8 from 'node:v8';

// Node 20's WASI functions crash intermittently (SIGSEGV) when V8 turns them
// into "fast API calls" (nodejs/node#53087); switch that optimisation off
// before any WASI call is compiled.
v8.setFlagsFromString('--no-turbo-fast-api-calls');

// node:wasi prints an ExperimentalWarning when loaded; the CLI's stderr is
// part of its contract (one line per error), so keep it clean.
process.removeAllListeners('warning');
process.on('warning', (w) => {
  if (w.name !== 'ExperimentalWarning') console.warn(w);
});
const { WASI } = await import('node:wasi');

const wasmPath = new URL('./dist/dyce-wasi.wasm', import.meta.url);
const wasi = new WASI({
  version: 'preview1',
  args: ['dyce', ...process.argv.slice(2)],
  env: { PWD: process.cwd() },
  preopens: { '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(fs.readFileSync(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
