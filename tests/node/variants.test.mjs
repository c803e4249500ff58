// The other two builds of the browser module (wasm/variants.mjs) give the
// same outputs as PyTorch on every test model: the no-SIMD fallback here,
// the relaxed-SIMD (FMA) build in a child Node with relaxed SIMD enabled.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { root } from './harness.mjs';
import { checkVariant } from './variant_check.mjs';

function assertAllOk(results) {
  assert.ok(Object.keys(results).length > 0, 'no test models');
  for (const [name, r] of Object.entries(results))
    assert.ok(r.ok, `${name}: max error ${r.maxErr} > ${r.bound}`);
}

test('no-SIMD build matches PyTorch on every test model', async () => {
  assertAllOk(await checkVariant('nosimd'));
});

test('relaxed-SIMD build matches PyTorch on every test model', () => {
  const check = path.join(root, 'tests/node/variant_check.mjs');
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a plain child, not a nested test run
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e',
    `const { checkVariant } = await import(${JSON.stringify(check)});
     console.log(JSON.stringify(await checkVariant('relaxed')));`],
  { encoding: 'utf8', cwd: root, env, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  assertAllOk(JSON.parse(r.stdout.trim().split('\n').at(-1)));
});
