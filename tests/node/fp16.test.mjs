// Weight-only float16 (models/fp16.py, docs/INT8.md): the shipped
// Fashion-MNIST package at half the bytes, version 2; its answers in the
// wasm engine equal the native CLI's, and its head's test accuracy stays
// within 0.1 pp of the float32 package's on 2 000 test images.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { load } from '../../wasm/node.mjs';
import { python, root, runCli, tempDir } from './harness.mjs';
import { readTestSet } from './fmnist.mjs';

const dir = tempDir('dyce-fp16-');
const float32 = path.join(root, 'models/fashion-mnist.dyce');
const half = path.join(dir, 'fashion-mnist-fp16.dyce');
const made = spawnSync(python, [path.join(root, 'models/fp16.py'), float32, '-o', half], { encoding: 'utf8', cwd: root });

test('models/fp16.py halves the package', () => {
  assert.equal(made.status, 0, made.stderr);
  const bytes = fs.readFileSync(half);
  assert.equal(bytes.readUInt32LE(4), 2, 'version 2');
  const ratio = bytes.length / fs.statSync(float32).size;
  assert.ok(ratio <= 0.51, `${ratio.toFixed(3)}x`);
});

test('the head\'s accuracy within 0.1 pp; wasm answers as the native CLI', { skip: made.status !== 0 }, async () => {
  const evalHead = (pkg, dump) => {
    const r = runCli('native', ['eval', pkg, '--data', '/usr/share/datasets/fashion-mnist', '--graph', 'head',
      '--limit', '2000', '--json', '--dump', dump]);
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout).accuracy;
  };
  const dump = path.join(dir, 'half.txt');
  const a16 = evalHead(half, dump), a32 = evalHead(float32, path.join(dir, 'float.txt'));
  assert.ok(Math.abs(a16 - a32) <= 0.001 + 1e-9, `float16 ${a16} vs float32 ${a32}`);
  const native = fs.readFileSync(dump, 'utf8').trim().split('\n').slice(0, 200).map((l) => +l.split(' ')[1]);
  const set = readTestSet();
  const model = await load(half, { threads: 1 });
  try {
    assert.equal(model.dtype, 'float32');
    const { pixelScale, mean, std } = model.input, low = model.low;
    for (let i = 0; i < 200; i++) {
      const x = Float32Array.from(set.pixels.subarray(i * 784, (i + 1) * 784), (p) => (p * pixelScale - mean[0]) / std[0]);
      const y = low.run(x, { graph: 'head', layout: 'nhwc' });
      assert.equal(y.indexOf(Math.max(...y)), native[i], `image ${i}`);
    }
  } finally {
    await model.dispose();
  }
});
