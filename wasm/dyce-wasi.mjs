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

// Setting up the WASI host is this file's part: where the runtime cannot
// (no node:wasi, a sandbox refusing the preopened root: Deno without
// --allow-read --allow-write), say so in the CLI's one line and status 1,
// not with a stack trace.
let wasi, instance;
try {
  const { WASI } = await import('node:wasi');
  const wasmPath = new URL('./dist/dyce-wasi.wasm', import.meta.url);
  wasi = new WASI({
    version: 'preview1',
    args: ['dyce', ...process.argv.slice(2)],
    env: { PWD: process.cwd() },
    preopens: { '/': '/' },
    returnOnExit: true,
  });
  const module = await WebAssembly.compile(fs.readFileSync(wasmPath));
  // getImportObject() came with Node 19.8; Bun's node:wasi has only the
  // older wasiImport, which Node has too.
  const imports = wasi.getImportObject?.() ?? { wasi_snapshot_preview1: wasi.wasiImport };
  instance = await WebAssembly.instantiate(module, imports);
} catch (e) {
  const runtime = globalThis.Deno ? `Deno ${globalThis.Deno.version?.deno}` : globalThis.Bun ? `Bun ${globalThis.Bun.version}` : `Node ${process.version}`;
  const hint = globalThis.Deno ? ' (Deno: the CLI opens the file system root; run it with --allow-read --allow-write, or -A)' : '';
  process.stderr.write(`dyce: error: cannot start the WASI build under ${runtime}: ${String(e?.message ?? e).split('\n')[0]}${hint}\n`);
  process.exit(1);
}
process.exitCode = wasi.start(instance);
