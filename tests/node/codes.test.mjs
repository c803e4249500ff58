// The shared codes (spec/codes.json) and their generated C, Python and JS
// forms: regenerated into a temporary folder (never over the tracked files)
// and compared byte for byte, so a table edit without `python3
// spec/generate.py` fails here. Also checks what is still written by hand
// next to the generated files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { python, root } from './harness.mjs';
import { CONFIDENCE_KINDS } from '../../wasm/codes.mjs';

const table = JSON.parse(fs.readFileSync(path.join(root, 'spec/codes.json'), 'utf8'));

test('generated files are up to date with spec/codes.json', (t) => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-codes-'));
  t.after(() => fs.rmSync(out, { recursive: true, force: true }));
  const r = spawnSync(python, [path.join(root, 'spec/generate.py'), '--out', out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const files = r.stdout.trim().split('\n');
  assert.ok(files.length >= 4, `generator listed ${files}`);
  for (const rel of files) {
    const fresh = fs.readFileSync(path.join(out, rel), 'utf8');
    const tracked = fs.readFileSync(path.join(root, rel), 'utf8');
    assert.ok(fresh === tracked, `${rel} is stale: run python3 spec/generate.py`);
  }
});

test('dyce.h declares dyce_confidence as the table numbers it', () => {
  const header = fs.readFileSync(path.join(root, 'src/dyce.h'), 'utf8');
  const declared = Object.fromEntries(
    [...header.matchAll(/\bDYCE_CONFIDENCE_(\w+) = (\d+)/g)].map((m) => [m[1], Number(m[2])]));
  const expected = Object.fromEntries(table.confidence.values.map((v) => [v.name, v.code]));
  assert.deepEqual(declared, expected);
  assert.deepEqual(CONFIDENCE_KINDS, table.confidence.values.map((v) => v.text));
});

test('the npm package ships the generated files its sources include', () => {
  const files = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')).files;
  assert.ok(files.includes('src/dyce_status.h'), 'dyce.h includes dyce_status.h: ship it next to dyce.h');
  assert.ok(files.includes('wasm/*.mjs'), 'engine.mjs imports wasm/codes.mjs');
});
