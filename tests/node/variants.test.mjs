// The other two builds of the browser module (wasm/variants.mjs) give the
// same outputs as PyTorch on every test model: the no-SIMD fallback here,
// the relaxed-SIMD (FMA) build in a child Node with relaxed SIMD enabled.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { test } from 'node:test';

import { root } from './harness.mjs';
import { checkClock, checkVariant } from './variant_check.mjs';

function assertAllOk(results) {
  assert.ok(Object.keys(results).length > 0, 'no test models');
  for (const [name, r] of Object.entries(results))
    assert.ok(r.ok, `${name}: max error ${r.maxErr} > ${r.bound}`);
}

test('no-SIMD build matches PyTorch on every test model', async () => {
  assertAllOk(await checkVariant('nosimd'));
});

/** `call` (an expression over variant_check.mjs's exports) in a child Node with relaxed SIMD enabled → its JSON. */
function inRelaxedChild(call) {
  const check = path.join(root, 'tests/node/variant_check.mjs');
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // a plain child, not a nested test run
  const r = spawnSync(process.execPath, ['--experimental-wasm-relaxed-simd', '--input-type=module', '-e',
    `const check = await import(${JSON.stringify(check)});
     console.log(JSON.stringify(await check.${call}));`],
  { encoding: 'utf8', cwd: root, env, timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

test('relaxed-SIMD build matches PyTorch on every test model', () => {
  assertAllOk(inRelaxedChild("checkVariant('relaxed')"));
});

// The clang-built modules (relaxed, and every threaded build) ask the host
// for the time through WASI's clock_time_get (wasm/wasi-host.mjs); they
// once got ENOSYS, so `ms` was 0 and deadlines were ignored.
for (const [variant, threads] of [['nosimd', 1], ['simd', 1], ['simd', 2], ['relaxed', 1], ['relaxed', 2]]) {
  test(`${variant} build, ${threads} thread(s): classify's ms is a real time and deadlineMs stops the cascade`, async () => {
    const r = variant === 'relaxed' ? inRelaxedChild(`checkClock('relaxed', ${threads})`) : await checkClock(variant, threads);
    assert.ok(r.ms > 0 && r.ms < 60_000, `ms ${r.ms} with a 1 ns deadline`);
    assert.equal(r.stopped, true, 'a 1 ns deadline did not stop the cascade');
    assert.ok(r.fullMs > 0 && r.fullMs < 60_000, `ms ${r.fullMs}`);
    assert.equal(r.fullStopped, false, 'a 1000 s deadline stopped the cascade');
  });
}
