// The demo's int8 package (docs/INT8.md) in Chromium: the package menu
// offers the float32 and the int8 Fashion-MNIST cascades with their
// download sizes; choosing int8 reloads the page on it, which then shows
// its type, size and time to the first answer, and answers test images
// in the Worker exactly as Node does with the same build and package.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { promisify } from 'node:util';

import { load } from '../../wasm/node.mjs';
import { openDemo, pageQuery, root, waitForState, waitForText } from './harness.mjs';

const INT8 = 'models/fashion-mnist-int8.dyce';
const IMAGES = Array.from({ length: 100 }, (_, i) => i * 97);
const present = fs.existsSync(path.join(root, INT8));

test('the package menu switches the demo to the int8 package', { skip: !present && `${INT8} is not built` }, async () => {
  // A configuration from the middle of the int8 package's own curve.
  const probe = await load(path.join(root, INT8), { threads: 1 });
  const config = probe.configs[Math.floor(probe.configs.length / 2)].name;
  await probe.dispose();
  const demo = await openDemo({ query: pageQuery({ signals: 'battery', test: '' }) });
  try {
    const { page } = demo;
    const options = await page.locator('#package option').allTextContents();
    assert.equal(options.length, 2, options.join(' | '));
    assert.match(options[0], /^float32 — \d+ KB$/);
    assert.match(options[1], /^int8 — \d+ KB$/);
    await Promise.all([page.waitForNavigation(), page.selectOption('#package', `../${INT8}`)]);
    await page.evaluate(() => window.demoReady);
    const s = await waitForState(page, (x) => x.total >= 10 && x.firstAnswerMs !== null, 30_000, 'int8 frames');
    assert.equal(s.dtype, 'int8');
    assert.equal(s.packageBytes, fs.statSync(path.join(root, INT8)).size);
    assert.ok(s.model.endsWith('/fashion-mnist-int8.dyce'));
    await waitForText(page, 'package-info', /^int8, \d+ KB; first answer \d+(\.\d)? ms after the page started$/);
    assert.equal(await page.inputValue('#package'), `../${INT8}`);

    const variant = s.variant;
    const flags = variant === 'relaxed' ? ['--experimental-wasm-relaxed-simd'] : [];
    const { stdout } = await promisify(execFile)(process.execPath,
      [...flags, path.join(root, 'tests/browser/node-classify.mjs'), path.join(root, INT8), variant, config, IMAGES.join(',')],
      { maxBuffer: 16 << 20 });
    const want = JSON.parse(stdout).results;
    const got = await page.evaluate((request) => window.dyceTest.classify(request), { indices: IMAGES, config });
    const key = (r) => `${r.index}: ${r.label} at ${r.exit} (${r.macs} MACs)`;
    assert.deepEqual(got.results.map(key), want.map(key));
    assert.deepEqual(demo.errors, []);
  } finally {
    await demo.close();
  }
});
