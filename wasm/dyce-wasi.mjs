#!/usr/bin/env node
// Runs the WASI build of the `dyce` CLI under node:wasi with the same
// arguments as the native one:  node wasm/dyce-wasi.mjs info model.dyce
// The current directory and the filesystem root are preopened, so relative
// and absolute paths both resolve. The exit status is the CLI's.
import fs from 'node:fs';

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
  env: {},
  preopens: { '.': process.cwd(), '/': '/' },
  returnOnExit: true,
});
const module = await WebAssembly.compile(fs.readFileSync(wasmPath));
const instance = await WebAssembly.instantiate(module, wasi.getImportObject());
process.exitCode = wasi.start(instance);
