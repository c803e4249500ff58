// Configuration switching in the browser module (WASM): the cost of a
// switch made before every inference of a 10 000-input run, and proof that
// the run allocates nothing (the engine's allocation counter and the wasm
// memory size stay flat). With a package of several width levels (REDS)
// the switches alternate between levels: a width switch is the same
// table swap (plus forgetting the outputs computed at the old width).
//
//   node tests/bench/switch.mjs [PACKAGE]   (default: models/fashion-mnist.dyce,
//                                           else the smoke package with configs)
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createEngine } from '../../wasm/engine.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const candidates = [process.argv[2], path.join(ROOT, 'models/fashion-mnist.dyce'),
  path.join(ROOT, 'build/fmnist-smoke/fashion-mnist-configs.dyce')].filter(Boolean);

const engine = await createEngine();
let model;
for (const file of candidates) {
  if (!fs.existsSync(file)) continue;
  model = engine.loadModel(fs.readFileSync(file));
  if (model.configs.length >= 2) { console.log(`package: ${path.relative(ROOT, file)}`); break; }
  model.free();
  model = null;
}
if (!model) throw new Error(`no package with >= 2 configurations among ${candidates.join(', ')}`);

const m = engine.m, session = model.session, configs = model.configs.length;
// Configurations ordered so that consecutive ones differ in width level
// where the package has levels (every switch then changes the width).
const levelOf = (i) => model.configs[i].level;
const order = [...model.configs.keys()].sort((a, b) => levelOf(a).localeCompare(levelOf(b)) || a - b);
const byLevel = new Map();
for (const i of order) byLevel.set(levelOf(i), [...(byLevel.get(levelOf(i)) ?? []), i]);
const levels = [...byLevel.values()], cycle = [];
for (let k = 0; cycle.length < configs; k++)
  for (const group of levels) if (k < group.length) cycle.push(group[k]);
const levelChanges = cycle.filter((c, i) => levelOf(c) !== levelOf(cycle[(i + 1) % cycle.length])).length;
const err = m._malloc(engine.errorBytes);
const input = new Float32Array(model.inputDims.slice(1).reduce((a, b) => a * b, 1));
const median = (xs) => xs.sort((a, b) => a - b)[xs.length >> 1];
const ns = () => Number(process.hrtime.bigint());

// 1. Raw switch cost: batches of 1000 table swaps, median per swap.
const perSwap = [];
for (let b = 0; b < 300; b++) {
  const t0 = ns();
  for (let i = 0; i < 1000; i++) m._dyce_session_use_config(session, cycle[i % configs], err);
  perSwap.push((ns() - t0) / 1000);
}

// 2. A 10 000-input run with a switch before every inference, each switch
//    timed alone (includes the timer's own ~50-100 ns).
const memoryBefore = m.HEAPU8.buffer.byteLength;
model.classify(input); // warm-up: the first run may touch fresh arena pages
const allocationsBefore = Number(m._dyce_allocation_count());
const single = [];
for (let i = 0; i < 10000; i++) {
  for (let k = 0; k < input.length; k++) input[k] = Math.sin(i * 0.37 + k);
  const t0 = ns();
  const status = m._dyce_session_use_config(session, cycle[i % configs], err);
  single.push(ns() - t0);
  if (status !== 0) throw new Error(`switch failed with status ${status}`);
  model.classify(input);
}
const allocations = Number(m._dyce_allocation_count()) - allocationsBefore;
const memoryGrowth = m.HEAPU8.buffer.byteLength - memoryBefore;

const result = {
  configs,
  width_levels: byLevel.size,
  switches_changing_level: `${levelChanges}/${configs}`,
  switch_ns_median_batched: +median(perSwap).toFixed(1),
  switch_ns_median_single: median(single),
  engine_allocations_during_run: allocations,
  wasm_memory_growth_bytes: memoryGrowth,
};
console.log(JSON.stringify(result));
m._free(err);
model.free();
if (allocations !== 0 || memoryGrowth !== 0) process.exitCode = 1;
