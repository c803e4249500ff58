// The warm-up (src/runtime/warm_up.c, Engine.warmUp, load() in
// wasm/index.mjs): while a package is still on its way, the engine runs
// its kernels on synthetic data so that V8 has optimised them by the first
// inference. Checked here: load() warms up while it waits (and only then),
// the answers are a load from bytes' to the bit, the buffer is freed, a
// source that fails meanwhile is still load()'s error, and the engine call
// itself refuses what it should.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { createEngine, Engine } from '../../wasm/engine.mjs';
import { DyceError, load } from '../../wasm/index.mjs';
import { readTestSet } from './fmnist.mjs';
import { root } from './harness.mjs';

const file = path.join(root, 'models/fashion-mnist.dyce');
const bytes = fs.readFileSync(file);
const set = readTestSet();
const image = (i) => ({ data: set.pixels.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 });

/**
 * Counts Engine.warmUp's rounds and the packages loaded while fn runs;
 * `warmed` settles after the first round.
 */
async function countingRounds(fn) {
  const { warmUp, loadModel } = Engine.prototype;
  let rounds = 0, loads = 0, firstRound;
  const warmed = new Promise((resolve) => { firstRound = resolve; });
  Engine.prototype.warmUp = function (n) {
    warmUp.call(this, n);
    rounds += n;
    firstRound();
  };
  Engine.prototype.loadModel = function (b) {
    loads++;
    return loadModel.call(this, b);
  };
  try {
    const result = await fn(warmed);
    return { result, rounds, loads };
  } finally {
    Object.assign(Engine.prototype, { warmUp, loadModel });
  }
}

/** A download still on its way: the body comes once `released` settles (or fails with `error`). */
function lateResponse(released, error) {
  return new Response(new ReadableStream({
    async pull(controller) {
      await released;
      if (error) controller.error(error);
      else {
        controller.enqueue(new Uint8Array(bytes));
        controller.close();
      }
    },
  }), { status: 200 });
}

test('load warms the kernels up while the package is on its way, and answers as a load from bytes', { timeout: 120_000 }, async () => {
  const { result: model, rounds, loads } = await countingRounds((warmed) => load(lateResponse(warmed), { threads: 1 }));
  const plain = await load(bytes, { threads: 1 });
  try {
    assert.ok(rounds >= 1 && rounds <= 4, `${rounds} rounds`);
    assert.equal(loads, 2, 'the tiny package (models/make_warm_up_package.py), then the real one');
    assert.equal(model.low.graphs.length, plain.low.graphs.length, 'the real package is the one kept');
    assert.equal(model.low.engine.warmBuffer, 0, 'the warm-up buffer is freed');
    for (let i = 0; i < 20; i++) {
      const [a, b] = [await model.classify(image(i)), await plain.classify(image(i))];
      assert.deepEqual([a.label, a.exit, a.score, a.macs], [b.label, b.exit, b.score, b.macs]);
    }
  } finally {
    model.dispose();
    plain.dispose();
  }
});

test('bytes already there: no warm-up, nothing to wait for', async () => {
  const { result: model, rounds, loads } = await countingRounds(() => load(bytes, { threads: 1 }));
  model.dispose();
  assert.deepEqual({ rounds, loads }, { rounds: 0, loads: 1 });
});

test('a download that fails while the engine warms up is load()\'s error', { timeout: 120_000 }, async () => {
  const { result: error } = await countingRounds((warmed) =>
    load(lateResponse(warmed, new Error('connection reset')), { threads: 1 }).then(() => null, (e) => e));
  assert.ok(error instanceof DyceError, String(error));
  assert.equal(error.code, 'DYCE_FETCH_FAILED');
  assert.match(error.message, /connection reset/);
});

test('the engine\'s warm-up: repeatable, and refuses a buffer too small', async () => {
  const engine = await createEngine({ threads: 1 });
  engine.warmUp(2);
  engine.warmUp(1);
  assert.ok(engine.warmBuffer > 0);
  engine.endWarmUp();
  assert.equal(engine.warmBuffer, 0);
  const m = engine.m, need = m._dyce_warm_up_bytes(), p = m._malloc(need);
  assert.throws(() => engine.call(m._dyce_warm_up, p, need - 1, 1),
    (e) => e instanceof DyceError && e.code === 'DYCE_INVALID_ARGUMENT' && e.message.includes(`${need} bytes`));
  m._free(p);
});

test('the committed warm-up package is what models/make_warm_up_package.py writes, and loads', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-warm-')), 'warm-up-package.mjs');
  const r = spawnSync('/usr/bin/python3', [path.join(root, 'models/make_warm_up_package.py'), out], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.readFileSync(out, 'utf8'), fs.readFileSync(path.join(root, 'wasm/warm-up-package.mjs'), 'utf8'));
  const { WARM_UP_PACKAGE } = await import('../../wasm/warm-up-package.mjs');
  const tiny = await load(Buffer.from(WARM_UP_PACKAGE, 'base64'), { threads: 1 });
  assert.deepEqual(tiny.low.graphs.map((g) => g.name), ['saver0', 'stage1', 'exit1_a', 'stage2', 'head']);
  tiny.dispose();
});
