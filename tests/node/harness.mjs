// Shared pieces of the Node tests: paths, the three dyce builds behind one
// interface, the cached test models, and output comparison.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { readNpy } from './npy.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const nativeCli = path.join(root, 'build/native/dyce');
export const wasiCli = path.join(root, 'wasm/dyce-wasi.mjs');
export const modelDir = path.join(root, 'build/testmodels');
export const python = '/usr/bin/python3';

/** Runs a CLI: `native` or `wasi`. Returns {status, signal, stdout, stderr}. */
export function runCli(kind, args, options = {}) {
  const [cmd, argv] = kind === 'native' ? [nativeCli, args] : [process.execPath, [wasiCli, ...args]];
  // The CLIs are not test files: without this, a Node child started under
  // `node --test` inherits NODE_TEST_CONTEXT and crashes at exit (Node 20).
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: options.cwd ?? root, env, timeout: 300_000 });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

/** Exports the test models once (cached in build/testmodels). */
export function ensureTestModels() {
  const r = spawnSync(python, [path.join(root, 'tests/models/export_models.py'), modelDir], {
    encoding: 'utf8', cwd: root, timeout: 900_000,
  });
  if (r.status !== 0) throw new Error(`exporting test models failed:\n${r.stderr}`);
  return fs.readdirSync(modelDir).filter((f) => f.endsWith('.onnx')).map((f) => f.slice(0, -5)).sort();
}

export function modelFiles(name) {
  const p = (ext) => path.join(modelDir, `${name}.${ext}`);
  return { onnx: p('onnx'), dyce: p('dyce'), input: p('input.npy'), torch: p('torch.npy') };
}

export const loadNpy = readNpy;

export function tempDir(prefix = 'dyce-test-') {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** NHWC (1,H,W,C) → NCHW, for comparing engine outputs with ONNX ones. */
export function nhwcToNchw(data, [, h, w, c]) {
  const out = new Float32Array(data.length);
  for (let i = 0; i < h * w; i++) for (let k = 0; k < c; k++) out[k * h * w + i] = data[i * c + k];
  return out;
}

/**
 * The tolerance: max |got − want| ≤ 1e-4 · max|want| + 1e-5.
 * Returns {ok, maxErr, bound}.
 */
export function compareOutputs(got, want) {
  if (got.length !== want.length) return { ok: false, maxErr: Infinity, bound: 0, why: `length ${got.length} != ${want.length}` };
  let maxErr = 0, maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    const e = Math.abs(got[i] - want[i]);
    maxErr = Number.isNaN(e) ? Infinity : Math.max(maxErr, e);
  }
  const bound = 1e-4 * maxAbs + 1e-5;
  return { ok: maxErr <= bound, maxErr, bound };
}
