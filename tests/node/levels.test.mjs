// Width levels (REDS nested subnetworks) end to end, on the REDS package of
// the training pipeline's smoke run (always; `npm test` builds it) and on
// the shipped models/fashion-mnist-reds.dyce when it exists:
//  - at every level the engine reproduces PyTorch's predictions (records
//    "head@<level>"), and the browser module agrees with the native CLI;
//  - `dyce search` finds one joint saver x exits x width list, byte for
//    byte the same natively and under WASI (on the shipped package only
//    where its full records, a pipeline output kept out of git, exist);
//  - switching levels on one input recomputes at the new width, with no
//    allocation and no memory growth; an exit of another level is refused.
//  - the shipped joint list, measured on the whole test set, is never
//    below the depth-only and width-only curves (docs/REDS.md).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { compareCurves, parseCurve, readCurve } from '../../scripts/reds-compare.mjs';
import { createEngine } from '../../wasm/engine.mjs';
import { readTestSet, sampleTensor } from './fmnist.mjs';
import { root, runCli, tempDir } from './harness.mjs';

const smokeBase = path.join(root, 'build/reds-smoke/fashion-mnist-reds');
const shippedBase = path.join(root, 'models/fashion-mnist-reds');
// `records`: PyTorch's test predictions of every level's head (for the
// shipped package its golden cut, models/golden_records.py); `search`:
// full records (train/val/test of every graph), or null.
const packages = [
  { name: 'smoke', base: smokeBase, limit: 300, records: `${smokeBase}.records`, search: `${smokeBase}.records` },
  { name: 'shipped', base: shippedBase, limit: 1000,
    records: path.join(root, 'tests/golden/fashion-mnist-reds.golden.records'),
    search: fs.existsSync(`${shippedBase}.records`) ? `${shippedBase}.records` : null },
].filter((p) => p.name === 'smoke' || fs.existsSync(`${p.base}.dyce`));
const set = readTestSet();
const engine = await createEngine();
const dir = tempDir();

for (const pkg of packages) {
  const file = `${pkg.base}.dyce`, { records } = pkg;

  test(`${pkg.name}: every width level matches PyTorch, and the module matches the CLI`, () => {
    const model = engine.loadModel(fs.readFileSync(file));
    try {
      assert.ok(model.levels.length >= 2, 'the package has width levels');
      const full = model.levels[0].macs.head;
      for (const [l, level] of model.levels.entries()) {
        const dump = path.join(dir, `${pkg.name}-${level.name}.txt`);
        const r = runCli('native', ['eval', file, '--data', set.dir, '--graph', 'head', '--level', level.name,
          '--records', records, '--limit', String(pkg.limit), '--dump', dump, '--json']);
        assert.equal(r.status, 0, r.stderr);
        const summary = JSON.parse(r.stdout);
        assert.equal(summary.level, level.name);
        assert.equal(summary.compared, pkg.limit, 'records hold head@<level>');
        assert.ok(summary.agreement >= 0.995, `${level.name}: agreement with PyTorch ${summary.agreement}`);
        if (l > 0) assert.ok(level.macs.head < full, `${level.name} costs less than the full head`);
        const cli = fs.readFileSync(dump, 'utf8').trim().split('\n').map((line) => Number(line.split(' ')[1]));
        model.setConfig({ level: level.name });
        for (let i = 0; i < 100; i++) {
          const y = model.run(sampleTensor(set, i, model.inputSpec), { graph: 'head' });
          assert.equal(y.indexOf(Math.max(...y)), cli[i], `${level.name} sample ${i}`);
        }
      }
    } finally {
      model.free();
    }
  });

  test(`${pkg.name}: one joint search over saver x exits x width, identical natively and under WASI`,
    { skip: !pkg.search && `no ${pkg.base}.records (run the REDS pipeline)` }, () => {
    const outs = {};
    for (const kind of ['native', 'wasi']) {
      const out = path.join(dir, `${pkg.name}-${kind}.dyce`);
      const r = runCli(kind, ['search', file, '--records', pkg.search, '--method', 'both', '--lambda-step', '0.02', '-o', out, '--json']);
      assert.equal(r.status, 0, r.stderr);
      outs[kind] = { bytes: fs.readFileSync(out), lines: r.stdout.trim().split('\n').map((l) => JSON.parse(l)).filter((o) => o.config && !o.tinysaver) };
    }
    assert.ok(outs.native.bytes.equals(outs.wasi.bytes), 'same package bytes');
    const points = outs.native.lines;
    for (let i = 1; i < points.length; i++) {
      assert.ok(points[i].mean_macs >= points[i - 1].mean_macs && points[i].accuracy > points[i - 1].accuracy, 'a Pareto list');
    }
    const model = engine.loadModel(outs.native.bytes);
    try {
      // The Pareto list, TinySaver's configurations (a saver before the
      // full-width head; ranked on train, then on val), then the backbone of
      // every level (fixed cost).
      const levels = model.levels.map((l) => l.name ?? l);
      const savers = model.configs.slice(points.length).filter((c) => c.name.startsWith('tinysaver'));
      const extra = savers.length;
      assert.ok(['', 'tinysaver', 'tinysaver-val', 'tinysaver,tinysaver-val'].includes(savers.map((c) => c.name).join()), savers.map((c) => c.name).join());
      assert.equal(model.configs.length, points.length + extra + levels.length);
      points.forEach((p, i) => assert.equal(model.configs[i].level, p.level));
      for (const ts of savers)
        assert.ok(ts.saver && ts.exits.every((e) => !e) && ts.level === levels[0], 'a saver, then the full head');
      model.configs.slice(points.length + extra).forEach((c, l) => {
        assert.equal(c.name, l ? `backbone-${levels[l]}` : 'backbone');
        assert.equal(c.level, levels[l]);
        assert.ok(c.saver === null && c.exits.every((e) => !e), `${c.name} runs the head alone`);
      });
      // Every configuration runs; its exits belong to its level.
      for (const c of model.configs) {
        for (const e of c.exits) if (e && /_w\d+$/.test(e)) assert.ok(e.endsWith(`_${c.level}`), `${c.name}: ${e} at ${c.level}`);
        model.useConfig(c.name);
        model.classify(sampleTensor(set, 0, model.inputSpec));
      }
    } finally {
      model.free();
    }
  });

  test(`${pkg.name}: switching levels recomputes at the new width and allocates nothing`, () => {
    const model = engine.loadModel(fs.readFileSync(file));
    const m = engine.m;
    try {
      const x = sampleTensor(set, 7, model.inputSpec);
      const fresh = model.levels.map((l) => {
        model.setConfig({ level: l.name });
        return Array.from(model.run(x, { graph: 'head' }));
      });
      assert.notDeepEqual(fresh[0], fresh.at(-1));
      // One input, levels switched back and forth through the cascade API.
      model.setInput(x, 'nchw');
      const memory = m.HEAPU8.buffer.byteLength, allocations = Number(m._dyce_allocation_count());
      for (let k = 0; k < 40; k++) {
        const l = (k * 3) % model.levels.length;
        model.setConfig({ level: l });
        const r = model.classify(x);
        const want = fresh[l].indexOf(Math.max(...fresh[l]));
        assert.equal(r.index, want, `level ${l}`);
        assert.equal(r.macs, ['stage1', 'stage2', 'stage3', 'head'].reduce((a, g) => a + model.levels[l].macs[g], 0));
      }
      assert.equal(m.HEAPU8.buffer.byteLength, memory, 'no wasm memory growth');
      // The engine's own allocation counter (the JS glue's scratch buffers
      // are not engine allocations).
      assert.equal(Number(m._dyce_allocation_count()), allocations, 'no engine allocation');
      // An exit trained for another level is refused with the reason.
      const other = model.graphs.map((g) => g.name).find((n) => /^exit1_.*_w\d+$/.test(n));
      assert.throws(() => model.setConfig({ level: 0, exits: [other], thresholds: [0.5] }),
        (e) => e.code === 'DYCE_INVALID_ARGUMENT' && /belongs to width level/.test(e.message));
      // A full-width exit at a level that has its own (exit1_a at w50, where
      // exit1_a_w50 is): refused, naming the level's (it ran, narrowed, and
      // answered worse than the level's own).
      const own = model.graphs.map((g) => g.name).find((n) => /^exit1_[ab]_w\d+$/.test(n));
      if (own) {
        const [, base, levelName] = own.match(/^(exit1_[ab])_(w\d+)$/);
        const level = model.levels.findIndex((lv) => lv.name === levelName);
        assert.throws(() => model.setConfig({ level, exits: [base], thresholds: [0.5] }),
          (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.message.includes(`exit '${base}' is the full width's; width level '${levelName}' has its own, '${own}'`));
        model.setConfig({ level, exits: [own], thresholds: [0.5] });
      }
      assert.throws(() => model.setConfig({ level: 99 }), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && /width level 99/.test(e.message));
      assert.throws(() => model.setConfig({ level: 'w7' }), (e) => e.code === 'DYCE_INVALID_ARGUMENT');
    } finally {
      model.free();
    }
  });
}

// docs/REDS.md's claim, re-measured: the shipped joint list on all 10 000
// test images (the engine, now) is the recorded curve, and it is never
// below the depth-only curve (recorded: it needs the full records to
// search again) nor the width-only one (measured now), and strictly above
// both somewhere.
const shippedFile = `${shippedBase}.dyce`;
test('shipped: the joint saver x exits x width curve on the test set is never below depth only or width only',
  { skip: !fs.existsSync(shippedFile) && 'no shipped REDS package' }, () => {
  const evalCurve = (args) => {
    const r = runCli('native', ['eval', shippedFile, '--data', set.dir, '--split', 'test', ...args, '--json']);
    assert.equal(r.status, 0, r.stderr);
    return parseCurve(r.stdout);
  };
  const measured = evalCurve(['--config', 'all']);
  const recorded = readCurve(path.join(root, 'docs/results/reds-joint-test.jsonl'));
  assert.deepEqual(measured.map((p) => [p.config, p.n, p.accuracy, p.mean_macs]),
    recorded.map((p) => [p.config, p.n, p.accuracy, p.mean_macs]), 'the engine reproduces docs/results/reds-joint-test.jsonl');
  const model = engine.loadModel(fs.readFileSync(shippedFile));
  const levels = model.levels.map((l) => l.name);
  model.free();
  const width = levels.flatMap((l) => evalCurve(['--graph', 'head', '--level', l]));
  const depth = readCurve(path.join(root, 'docs/results/reds-depth-test.jsonl'));
  const { against: [vsDepth, vsWidth] } = compareCurves(measured, [depth, width]);
  for (const [name, r] of [['depth only', vsDepth], ['width only', vsWidth]]) {
    assert.equal(r.costs_below, 0, `below ${name} at ${r.costs_below} costs (by ${r.largest_deficit_pp} pp at ${r.deficit_at_macs} MACs)`);
    assert.ok(r.costs_above > 0, `never strictly above ${name}`);
  }
});
