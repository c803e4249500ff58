// Threads: every test model and every shipped package gives the same bits
// on 1, 2 and 3 threads in every graph; load() picks the threaded build
// and says when it cannot; setThreads validates; workers end on dispose.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { createEngine } from '../../wasm/engine.mjs';
import { load } from '../../wasm/index.mjs';
import { host } from '../../wasm/io.mjs';
import { ensureTestModels, modelFiles, root, tempDir } from './harness.mjs';

const shipped = fs.readdirSync(path.join(root, 'models')).filter((f) => f.endsWith('.dyce'))
  .map((f) => path.join(root, 'models', f));
const packages = [...ensureTestModels().map((n) => modelFiles(n).dyce), ...shipped];

/** Every graph's output for one input, on `threads` threads. */
function allOutputs(model, x, threads) {
  model.setThreads(threads);
  assert.equal(model.threads, threads);
  model.run(x, { graph: model.graphs.length - 1 });
  // Graphs the last one does not need (other exits, savers) run too.
  return model.graphs.map((g, i) => model.run(x, { graph: i }));
}

/** Every graph's output on each of `counts` threads is, bit for bit, one thread's. */
function sameBitsAsOne(model, x, counts) {
  const one = allOutputs(model, x, 1);
  for (const threads of counts) {
    const many = allOutputs(model, x, threads);
    one.forEach((want, g) => {
      const got = many[g];
      const differ = want.findIndex((v, i) => !Object.is(v, got[i]));
      assert.equal(differ, -1, `graph ${model.graphs[g].name} on ${threads} threads: output ${differ} is ${got[differ]}, one thread gave ${want[differ]}`);
    });
  }
}

const engine = await createEngine({ threads: 3 });

test('the threaded build runs under Node with its workers', () => {
  assert.equal(engine.threaded, true);
  assert.equal(engine.maxThreads, 3, String(engine.threadsReason));
  assert.equal(engine.threadsReason, null);
});

for (const file of packages) {
  test(`${path.basename(file)}: 2 and 3 threads give the bits of 1`, () => {
    const model = engine.loadModel(fs.readFileSync(file));
    try {
      // Small models too: the split nodes are what this compares.
      model.setSplitMinMacs(0);
      const x = new Float32Array(model.inputCount).map((_, i) => Math.sin(i * 0.37) * 1.5);
      sameBitsAsOne(model, x, [2, 3]);
      // Every package with a graph of a few M MACs has convolutions large
      // enough to split (tiny test models and savers may have none).
      if (model.graphs.some((g) => g.macs > 3e6)) assert.ok(model.splitNodes > 0, 'no convolution split');
      // Inverted residual blocks chain their 1x1 convolutions and adds to
      // the depthwise layer before them (src/runtime/chains.c): the bits
      // above were compared with chained nodes running.
      if (/mobilenet|efficientnet/.test(path.basename(file))) assert.ok(model.chainedNodes > 0, 'no node chained');
    } finally {
      model.free();
    }
  });
}

// Each thread first takes its own range of a node's parts, then steals
// (src/core/pool_wasm.c): with five threads, ten parts split 2+2+2+2+2
// and a 7-row layer's few bands leave some threads no range at all.
test('five threads, own ranges and stealing: the bits of one thread', async () => {
  const five = await createEngine({ threads: 5 });
  try {
    assert.equal(five.maxThreads, 5, String(five.threadsReason));
    for (const file of [modelFiles('efficientnet_b0').dyce, path.join(root, 'models/fashion-mnist.dyce')]) {
      const model = five.loadModel(fs.readFileSync(file));
      try {
        model.setSplitMinMacs(0);
        const x = new Float32Array(model.inputCount).map((_, i) => Math.cos(i * 0.11) * 2);
        sameBitsAsOne(model, x, [5]);
        assert.ok(model.splitNodes > 0, `${path.basename(file)}: no node split`);
      } finally {
        model.free();
      }
    }
  } finally {
    five.dispose();
  }
});

test('a small model splits nothing unless asked to; a large one splits under the default floor', async () => {
  const small = path.join(root, 'models/fashion-mnist.dyce'); // 31 M MACs at most
  const large = modelFiles('resnet18').dyce; // 1.8 G
  const byDefault = await load(small, { threads: 2 });
  assert.equal(byDefault.splitMinMacs, 100e6);
  assert.equal(byDefault.low.splitNodes, 0);
  await byDefault.dispose();
  const forced = await load(small, { threads: 2, splitMinMacs: 0 });
  assert.equal(forced.splitMinMacs, 0);
  assert.ok(forced.low.splitNodes > 0);
  await forced.dispose();
  const big = await load(large, { threads: 2 });
  assert.ok(big.low.splitNodes > 0, 'resnet18 splits nothing');
  // Above its own cost, not even ResNet-18 splits.
  big.low.setSplitMinMacs(2e9);
  assert.equal(big.low.splitNodes, 0);
  await big.dispose();
  for (const bad of [-1, NaN, Infinity, '0', null])
    await assert.rejects(load(small, { threads: 2, splitMinMacs: bad }),
      (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === 'splitMinMacs' && /finite number of MACs/.test(e.message));
});

test('setThreads refuses what the engine cannot do', () => {
  const model = engine.loadModel(fs.readFileSync(shipped[0]));
  try {
    assert.equal(model.threads, 3); // a model starts on every thread of its engine
    for (const bad of [0, 4, 1.5, '2'])
      assert.throws(() => model.setThreads(bad), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && /from 1 to 3/.test(e.message));
    assert.equal(model.threads, 3);
  } finally {
    model.free();
  }
});

test('load(): threads by option, one thread with a reason where there can be no more', async () => {
  const pkg = path.join(root, 'models/fashion-mnist.dyce');
  const two = await load(pkg, { threads: 2 });
  assert.equal(two.threads, 2);
  assert.equal(two.maxThreads, 2);
  await two.setThreads(1);
  assert.equal(two.threads, 1);
  await two.dispose();
  assert.equal(two.threads, 0);

  const one = await load(pkg, { threads: 1 });
  assert.deepEqual([one.threads, one.maxThreads, one.threadsReason], [1, 1, null]);
  await one.dispose();

  const nosimd = await load(pkg, { threads: 2, variant: 'nosimd' });
  assert.equal(nosimd.maxThreads, 1);
  assert.match(nosimd.threadsReason, /no-SIMD build has no threads/);
  await nosimd.dispose();

  await assert.rejects(load(pkg, { threads: 0 }), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === 'threads');
  await assert.rejects(load(pkg, { threads: 'many' }), (e) => e.code === 'DYCE_INVALID_ARGUMENT');
});

test('workers that cannot start: the model says it runs on one thread, and why, and answers as on one', async () => {
  // What a server bundle did to Node's Worker (a URL class of its own):
  // starting the thread throws.
  const pkg = path.join(root, 'models/fashion-mnist.dyce');
  const saved = host.startThread;
  host.startThread = () => { throw new TypeError('The "filename" argument must be of type string or an instance of URL'); };
  try {
    const model = await load(pkg, { threads: 2, splitMinMacs: 0 });
    assert.equal(await model.threadsReady, 0);
    assert.deepEqual([model.threads, model.maxThreads], [1, 1]);
    assert.match(model.threadsReason, /^cannot start a worker: The "filename" argument/);
    const pixels = { data: new Uint8Array(784).fill(90), width: 28, height: 28, channels: 1 };
    const got = await model.classify(pixels);
    await model.dispose();
    const one = await load(pkg, { threads: 1 });
    const want = await one.classify(pixels);
    await one.dispose();
    assert.deepEqual([got.label, got.score, got.exit], [want.label, want.score, want.exit]);
  } finally {
    host.startThread = saved;
  }
});

test('a wasmPaths folder without the threaded builds still loads, on one thread', async () => {
  const dir = tempDir();
  for (const f of ['dyce.wasm', 'dyce-nosimd.wasm', 'dyce-relaxed.wasm'])
    fs.copyFileSync(path.join(root, 'wasm/dist', f), path.join(dir, f));
  const model = await load(path.join(root, 'models/fashion-mnist.dyce'), { threads: 2, wasmPaths: dir });
  assert.equal(model.maxThreads, 1);
  assert.match(model.threadsReason, /dyce(-relaxed)?-mt\.wasm/);
  await model.dispose();
  const table = await load(path.join(root, 'models/fashion-mnist.dyce'), { threads: 2, wasmPaths: { 'dyce.wasm': path.join(dir, 'dyce.wasm'), 'dyce-relaxed.wasm': path.join(dir, 'dyce-relaxed.wasm') } });
  assert.equal(table.maxThreads, 1);
  assert.match(table.threadsReason, /wasmPaths has no entry for 'dyce(-relaxed)?-mt\.wasm'/);
  await table.dispose();
});

test('wasmUrl naming the threaded build runs it', async () => {
  const model = await load(path.join(root, 'models/fashion-mnist.dyce'), { threads: 2, wasmUrl: path.join(root, 'wasm/dist/dyce-mt.wasm') });
  assert.equal(model.variant, 'simd');
  assert.equal(model.threads, 2);
  await model.dispose();
});

/** Threads of this process (Linux). */
const osThreads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);

test('disposing a model ends its workers', async () => {
  const before = osThreads();
  for (let i = 0; i < 5; i++) {
    const model = await load(path.join(root, 'models/fashion-mnist.dyce'), { threads: 3 });
    await model.classify({ data: new Uint8Array(784), width: 28, height: 28, channels: 1 });
    await model.dispose();
  }
  // Termination is asynchronous: wait for the count to come back (the
  // test runner's timeout bounds the wait).
  while (osThreads() > before + 2) await new Promise((r) => setTimeout(r, 20));
  assert.ok(osThreads() <= before + 2);
});
