// Soak in the browser module: 100 000 inferences with a random
// configuration switch (and random budgets) before each. After warm-up the
// wasm memory does not grow and the engine makes no allocation. The model
// is the C tests' seven-graph cascade (tests/fuzz/seeds/load/cascade.dyce),
// small enough that the run takes seconds.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { createEngine } from '../../wasm/engine.mjs';
import { root } from './harness.mjs';

test('100 000 inferences with random switches: memory and allocations stay flat', async () => {
  const engine = await createEngine();
  const m = engine.m;
  const model = engine.loadModel(fs.readFileSync(path.join(root, 'tests/fuzz/seeds/load/cascade.dyce')));
  const { savers, exits } = model.cascade;
  let seed = 12345; // a fixed LCG, so every run soaks the same sequence
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const pick = (xs) => xs[Math.floor(random() * xs.length)];
  const x = new Float32Array(16);
  const step = (i) => {
    model.setConfig({
      saver: pick([null, ...savers]), saverThreshold: random(),
      exits: exits.map((choices) => pick([null, ...choices])),
      thresholds: exits.map(() => random()),
      confidence: pick(['max_softmax', 'margin', 'entropy']),
    });
    for (let k = 0; k < 16; k++) x[k] = Math.sin(i + k) * 3;
    return model.classify(x, { layout: 'nhwc', macBudget: i % 4 ? 0 : 40 });
  };
  for (let i = 0; i < 1000; i++) step(i); // warm-up
  const memory = m.HEAPU8.buffer.byteLength, allocations = Number(m._dyce_allocation_count());
  const answered = new Map();
  for (let i = 0; i < 100000; i++) {
    const r = step(i);
    answered.set(r.exit, (answered.get(r.exit) ?? 0) + 1);
  }
  assert.equal(m.HEAPU8.buffer.byteLength, memory, 'wasm memory grew');
  assert.equal(Number(m._dyce_allocation_count()), allocations, 'the engine allocated');
  assert.ok(answered.size >= 3, `answers came from ${[...answered.keys()]}`);
  model.free();
});

/** Threads of this process (Linux). */
const osThreads = () => Number(/Threads:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]);

test('threaded: 100 000 inferences of the shipped cascade with configuration and thread switches: memory, allocations and threads stay flat', async () => {
  const engine = await createEngine({ threads: 2 });
  assert.equal(engine.maxThreads, 2, String(engine.threadsReason));
  const m = engine.m;
  const model = engine.loadModel(fs.readFileSync(path.join(root, 'models/fashion-mnist.dyce')));
  // The cascade is a small model: split it all the same, so the pool works.
  model.setSplitMinMacs(0);
  assert.ok(model.splitNodes > 0, 'nothing split');
  const configs = model.configs.length;
  let seed = 777;
  const random = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const x = new Float32Array(784);
  const step = (i) => {
    model.useConfig(Math.floor(random() * configs));
    for (let k = 0; k < 784; k += 7) x[k] = Math.sin(i + k) * 2;
    return model.classify(x);
  };
  // Warm-up, including one switch each way (a switch replans the arena).
  for (const t of [1, 2]) {
    model.setThreads(t);
    for (let i = 0; i < 500; i++) step(i);
  }
  const memory = m.HEAPU8.buffer.byteLength, threads = osThreads();
  let allocations = Number(m._dyce_allocation_count());
  const perSwitch = (() => {
    model.setThreads(1);
    model.setThreads(2);
    const a = Number(m._dyce_allocation_count()) - allocations;
    allocations += a;
    return a / 2;
  })();
  const deep = new Set();
  let switches = 0;
  for (let i = 0; i < 100000; i++) {
    if (i % 10000 === 9999) {
      model.setThreads(model.threads === 2 ? 1 : 2);
      switches++;
    }
    deep.add(step(i).exit);
  }
  assert.equal(m.HEAPU8.buffer.byteLength, memory, 'wasm memory grew');
  assert.equal(Number(m._dyce_allocation_count()) - allocations, switches * perSwitch, 'the engine allocated outside thread switches');
  assert.equal(osThreads(), threads, 'the process gained or lost threads');
  assert.ok(deep.size >= 3, `answers came from ${[...deep]}`);
  model.free();
  engine.dispose();
});
