// The WASI CLI under wasmtime, when wasmtime is installed (it is not a
// Debian package; skip with a message otherwise). Output must equal the
// node:wasi run bit for bit: same module, same input.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { ensureTestModels, modelFiles, root, runCli, tempDir } from './harness.mjs';

const which = spawnSync('sh', ['-c', 'command -v wasmtime'], { encoding: 'utf8' });
const wasmtime = which.status === 0 ? which.stdout.trim() : null;

test('WASI CLI under wasmtime matches node:wasi', { skip: wasmtime ? false : 'wasmtime is not installed; skipping' }, () => {
  const names = ensureTestModels();
  const dir = tempDir();
  try {
    for (const name of names) {
      const f = modelFiles(name);
      const viaNode = path.join(dir, `${name}.node.npy`), viaWasmtime = path.join(dir, `${name}.wt.npy`);
      assert.equal(runCli('wasi', ['run', f.dyce, '--input', f.input, '--output', viaNode]).status, 0);
      const r = spawnSync(wasmtime, ['run', '--dir=/', '--dir=.', path.join(root, 'wasm/dist/dyce-wasi.wasm'),
        'run', f.dyce, '--input', f.input, '--output', viaWasmtime], { encoding: 'utf8', cwd: root });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(fs.readFileSync(viaWasmtime), fs.readFileSync(viaNode));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
