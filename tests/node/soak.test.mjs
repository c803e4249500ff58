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
