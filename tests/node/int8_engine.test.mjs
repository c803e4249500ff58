// Int8 packages in the engine (docs/INT8.md): the shipped Fashion-MNIST
// package quantized by models/quantize.py runs in every wasm build (SIMD128,
// relaxed SIMD, no SIMD, the threaded build on two threads) and in the
// native and WASI CLIs, and every classifier graph's logits equal the
// Python int8 oracle's (models/converter/int8_ops.py) bit for bit on 64
// Fashion-MNIST test images; the cascade answers with the label its
// answering graph's oracle logits give; dtype and int8 stage outputs.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { detectVariant } from '../../wasm/variants.mjs';
import { load } from '../../wasm/node.mjs';
import { python, root, runCli, tempDir } from './harness.mjs';

const COUNT = 64;
const dir = tempDir('dyce-int8-engine-');
const pkg = path.join(dir, 'fashion-mnist-int8.dyce');
const quantized = spawnSync(python, [path.join(root, 'models/quantize.py'), path.join(root, 'models/fashion-mnist.dyce'),
  '-o', pkg, '--calibration', '/usr/share/datasets/fashion-mnist'], { encoding: 'utf8', cwd: root, timeout: 300_000 });
const oracleRun = quantized.status === 0 && spawnSync(python, [path.join(root, 'tests/node/int8_oracle.py'), pkg, dir,
  '--count', String(COUNT)], { encoding: 'utf8', cwd: root, timeout: 300_000 });
const ready = quantized.status === 0 && oracleRun.status === 0;
const oracle = ready ? JSON.parse(fs.readFileSync(path.join(dir, 'oracle.json'), 'utf8')) : {};
const inputs = ready ? new Float32Array(fs.readFileSync(path.join(dir, 'inputs.f32')).buffer.slice(0)) : null;

test('the package quantizes and the oracle runs', () => {
  assert.equal(quantized.status, 0, quantized.stderr);
  assert.equal(oracleRun.status, 0, oracleRun.stderr);
  assert.ok(Object.keys(oracle).length >= 28, 'savers, exits and head');
});

const builds = [['simd', 1], ['nosimd', 1], ['simd', 2]];
if (detectVariant() === 'relaxed') builds.push(['relaxed', 1]);

for (const [variant, threads] of builds) {
  test(`${variant} build, ${threads} thread(s): every classifier's logits equal the oracle's`, { skip: !ready }, async () => {
    // splitMinMacs 0: the cascade is a small model, split it all the same.
    const model = await load(pkg, { variant, threads, splitMinMacs: 0 });
    try {
      assert.equal(model.dtype, 'int8');
      assert.equal(model.threads, threads);
      // Two threads split the backbone's larger int8 convolutions.
      if (threads > 1) assert.ok(model.low.splitNodes > 0, 'no int8 node runs split');
      const low = model.low, size = 28 * 28;
      let compared = 0;
      for (const [name, want] of Object.entries(oracle)) {
        const g = low.graphs.findIndex((x) => x.name === name);
        assert.ok(g >= 0, name);
        for (let i = 0; i < COUNT; i++) {
          const y = low.run(inputs.subarray(i * size, (i + 1) * size), { graph: g, layout: 'nhwc' });
          for (let k = 0; k < y.length; k++)
            if (y[k] !== want[i][k]) assert.fail(`${name} image ${i} logit ${k}: ${y[k]} != oracle ${want[i][k]}`);
          compared += y.length;
        }
      }
      assert.ok(compared >= 28 * COUNT * 10);
      // A stage's output is int8; output() hands back its real values.
      const stage1 = low.graphs.findIndex((x) => x.name === 'stage1');
      assert.equal(low.graphs[stage1].outputType, 'int8');
      assert.ok(low.output(stage1) instanceof Float32Array);
    } finally {
      await model.dispose();
    }
  });
}

test('the cascade answers with its answering graph\'s oracle label', { skip: !ready }, async () => {
  const { readTestSet } = await import('./fmnist.mjs');
  const set = readTestSet();
  const model = await load(pkg, { threads: 1 });
  try {
    for (const config of [0, Math.floor(model.configs.length / 2), model.configs.length - 1]) {
      await model.setConfig(config);
      for (let i = 0; i < COUNT; i++) {
        const r = await model.classify({ data: set.pixels.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 });
        const logits = oracle[r.exit][i];
        const top = logits.indexOf(Math.max(...logits));
        assert.equal(r.index, top, `config ${config} image ${i}: ${r.exit} answered ${r.index}, oracle ${top}`);
      }
    }
  } finally {
    await model.dispose();
  }
});

test('native and WASI CLIs: the same accuracy and the same answers on 300 images', { skip: !ready }, () => {
  const args = (dump) => ['eval', pkg, '--data', '/usr/share/datasets/fashion-mnist', '--graph', 'head',
    '--limit', '300', '--json', '--dump', dump];
  const dumps = [path.join(dir, 'native.txt'), path.join(dir, 'wasi.txt')];
  const native = runCli('native', args(dumps[0])), wasi = runCli('wasi', args(dumps[1]));
  assert.equal(native.status, 0, native.stderr);
  assert.equal(wasi.status, 0, wasi.stderr);
  assert.equal(JSON.parse(native.stdout).accuracy, JSON.parse(wasi.stdout).accuracy);
  // Per sample: index, answer, MACs, confidence.
  const [a, b] = dumps.map((f) => fs.readFileSync(f, 'utf8').trim().split('\n'));
  assert.equal(a.length, 300);
  assert.deepEqual(a, b);
  const info = runCli('native', ['info', pkg, '--json']);
  const graphs = JSON.parse(info.stdout).graphs;
  assert.ok(graphs.every((g) => g.int8_nodes > 0), 'every graph runs int8 nodes');
});
