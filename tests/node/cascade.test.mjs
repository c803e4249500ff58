// The cascade end to end on the Fashion-MNIST packages: the smoke package
// of the training pipeline (always; `npm test` builds it) and the shipped
// models/fashion-mnist.dyce (when it carries configurations).
//  - `dyce search` writes the same package natively and under WASI;
//  - the cascade run by the engine reproduces the search's figures;
//  - the WASI CLI and the browser module give identical labels and exits,
//    and the native build agrees except where a confidence lies within
//    1e-5 of a threshold (such cases are listed).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { createEngine } from '../../wasm/engine.mjs';
import { readTestSet, sampleTensor } from './fmnist.mjs';
import { spawnSync } from 'node:child_process';

import { python, root, runCli, tempDir } from './harness.mjs';

const smoke = path.join(root, 'build/fmnist-smoke/fashion-mnist');
const shipped = path.join(root, 'models/fashion-mnist');
// The full records of the shipped package are a pipeline output, not in
// git; the tests read PyTorch's val/test predictions from the golden cut.
const recordsOf = (pkg) => (pkg === `${shipped}.dyce`
  ? path.join(root, 'tests/golden/fashion-mnist.golden.records')
  : pkg.replace(/\.dyce$/, '.records'));
const dir = tempDir();
const set = readTestSet();
const engine = await createEngine();

/** The search's JSON lines: the Pareto points, and (as `ranking`) TinySaver's saver ranking. */
function searchInto(kind, base, out) {
  const r = runCli(kind, ['search', `${base}.dyce`, '--records', `${base}.records`, '--lambda-step', '0.01', '-o', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const points = lines.filter((o) => o.config && !o.tinysaver);
  points.ranking = lines.find((o) => o.saver_ranking);
  return points;
}

/** `dyce eval --dump` lines: [sample, prediction, graph, confidence]. */
function evalDump(kind, pkg, config, limit, split = 'test') {
  const dump = path.join(dir, `${kind}-${config}-${split}.txt`);
  const r = runCli(kind, ['eval', pkg, '--data', set.dir, '--split', split, '--config', config,
    '--records', recordsOf(pkg), '--limit', String(limit), '--dump', dump, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const rows = fs.readFileSync(dump, 'utf8').trim().split('\n').map((l) => l.split(' ').map(Number));
  return { summary: JSON.parse(r.stdout), rows };
}

/** Threshold of the classifier that answered (or was passed) for a row. */
function thresholdsOf(model, configName) {
  const c = model.configs.find((x) => x.name === configName);
  const t = new Map();
  if (c.saver) t.set(c.saver, c.saverThreshold);
  c.exits.forEach((e, p) => e && t.set(e, c.thresholds[p]));
  return t;
}

/** The configurations to compare: all, or for large runs the cheapest,
 * the median and the last one before the backbone. */
function pick(configs, few) {
  if (!few || configs.length <= 3) return configs;
  return [configs[0], configs[configs.length >> 1], configs[configs.length - 2]];
}

function crossBuild(pkg, limit, few = false) {
  const model = engine.loadModel(fs.readFileSync(pkg));
  try {
    for (const cfg of pick(model.configs, few)) {
      const wasi = evalDump('wasi', pkg, cfg.name, limit);
      const native = evalDump('native', pkg, cfg.name, limit);
      model.useConfig(cfg.name);
      const near = [];
      const thresholds = thresholdsOf(model, cfg.name);
      wasi.rows.forEach(([sample, pred, graph, conf], i) => {
        const r = model.classify(sampleTensor(set, sample, model.inputSpec));
        assert.deepEqual([r.index, r.exit], [pred, model.graphs[graph].name],
          `${cfg.name}: browser and WASI differ on sample ${sample}`);
        const [, npred, ngraph, nconf] = native.rows[i];
        if (npred === pred && ngraph === graph) return;
        // Allowed only when a confidence sits at a threshold.
        const close = [...thresholds.values()].some((t) => Math.abs(conf - t) < 1e-5 || Math.abs(nconf - t) < 1e-5);
        near.push({ sample, wasi: [pred, graph, conf], native: [npred, ngraph, nconf], close });
      });
      if (near.length) console.log(`${cfg.name}: native differs on`, near);
      assert.ok(near.every((d) => d.close), `native differs away from a threshold: ${JSON.stringify(near)}`);
    }
  } finally {
    model.free();
  }
}

test('smoke package: search is the same natively and under WASI', () => {
  const a = path.join(dir, 'native.dyce'), b = path.join(dir, 'wasi.dyce');
  const pa = searchInto('native', smoke, a), pb = searchInto('wasi', smoke, b);
  assert.deepEqual(pa, pb);
  assert.ok(fs.readFileSync(a).equals(fs.readFileSync(b)), 'packages differ');
  assert.ok(pa.length >= 1);
  // The list is a Pareto list: MACs up, accuracy strictly up.
  for (let i = 1; i < pa.length; i++)
    assert.ok(pa[i].mean_macs >= pa[i - 1].mean_macs && pa[i].accuracy > pa[i - 1].accuracy);
  // After the list, TinySaver's own configuration (its best saver before
  // the head, at its threshold), measured, kept whether or not the list
  // has a point above it; then the backbone.
  const model = engine.loadModel(fs.readFileSync(a));
  try {
    const { best, saver_ranking: ranking } = pa.ranking;
    const pick = ranking.find((x) => x.graph === best);
    const names = model.configs.map((c) => c.name);
    const ts = model.configs.find((c) => c.name === 'tinysaver');
    // A TinySaver configuration is written unless the package already has
    // it (a threshold <= 0 accepts every sample: the saver alone, listed at -1).
    const same = (a, g, t) => g === a.graph && (Math.abs(t - a.threshold) < 1e-3 || (t <= 0 && a.threshold <= 0));
    const listed = (a) => pa.some((p) => p.classifiers.length === 1 && same(a, p.classifiers[0].graph, p.classifiers[0].threshold));
    const expected = [];
    if (pick.threshold < 1 && !listed(pick)) {
      expected.push('tinysaver');
      assert.equal(ts.saver, best);
      assert.ok(Math.abs(ts.saverThreshold - pick.threshold) < 1e-6, `${ts.saverThreshold} vs ${pick.threshold}`);
      assert.ok(ts.exits.every((e) => !e), 'the saver, then the head');
      assert.ok(ts.accuracy > 0 && ts.meanMacs > 0, 'measured on val');
    }
    // `tinysaver-val`: the same rule with the ranking on val (what a search
    // whose search split is val prints).
    const onVal = runCli('native', ['search', `${smoke}.dyce`, '--records', `${smoke}.records`, '--search-split', 'val', '--lambda-step', '0.1', '--json']);
    assert.equal(onVal.status, 0, onVal.stderr);
    const held = onVal.stdout.trim().split('\n').map((l) => JSON.parse(l)).find((o) => o.saver_ranking);
    const vpick = held.saver_ranking.find((x) => x.graph === held.best);
    const tsv = model.configs.find((c) => c.name === 'tinysaver-val');
    if (vpick.threshold < 1 && !listed(vpick) && !(expected.length && same(vpick, pick.graph, pick.threshold))) {
      expected.push('tinysaver-val');
      assert.equal(tsv.saver, vpick.graph);
      assert.ok(Math.abs(tsv.saverThreshold - vpick.threshold) < 1e-3, `${tsv.saverThreshold} vs ${vpick.threshold}`);
      assert.ok(tsv.exits.every((e) => !e) && tsv.accuracy > 0, 'the saver, then the head, measured on val');
    }
    assert.deepEqual(names.slice(pa.length), [...expected, 'backbone']);
  } finally {
    model.free();
  }
  fs.copyFileSync(a, `${smoke}-configs.dyce`);
  fs.copyFileSync(`${smoke}.records`, `${smoke}-configs.records`);
});

test('dyce info lists the configurations and the labels (native, WASI): what the API\'s model.configs gives', () => {
  const pkg = `${shipped}.dyce`;
  const model = engine.loadModel(fs.readFileSync(pkg));
  try {
    for (const kind of ['native', 'wasi']) {
      const j = runCli(kind, ['info', pkg, '--json']);
      assert.equal(j.status, 0, j.stderr);
      const info = JSON.parse(j.stdout);
      assert.deepEqual(info.configs.map((c) => c.name), model.configs.map((c) => c.name));
      info.configs.forEach((c, i) => {
        const want = model.configs[i];
        assert.ok(Math.abs(c.val_accuracy - want.accuracy) < 1e-5 && Math.abs(c.mean_macs - want.meanMacs) < 0.5, `${c.name}`);
        const graphs = [want.saver, ...want.exits].filter(Boolean);
        assert.deepEqual(c.classifiers.map((x) => x.graph), graphs, c.name);
      });
      const t = runCli(kind, ['info', pkg]);
      assert.equal(t.status, 0, t.stderr);
      assert.match(t.stdout, new RegExp(`^configurations: ${model.configs.length}$`, 'm'));
      assert.match(t.stdout, /^labels: 10: T-shirt\/top, Trouser, .*, Ankle boot$/m);
      assert.match(t.stdout, /^ {2}backbone \(not measured\): \(backbone\)$/m);
    }
  } finally {
    model.free();
  }
});

test('TinySaver ranked on train and on val: a head over-fitted on train gives two thresholds, and the search keeps both', () => {
  // tinysaver_fixture.py: the head right everywhere; saver2 right from
  // confidence 0.9 on train, from 0.5 on val and test.
  const records = path.join(dir, 'tinysaver.records');
  const fx = spawnSync(python, [path.join(root, 'tests/node/tinysaver_fixture.py'), `${smoke}.records`, records], { encoding: 'utf8' });
  assert.equal(fx.status, 0, fx.stderr);
  const out = path.join(dir, 'tinysaver.dyce');
  const r = runCli('native', ['search', `${smoke}.dyce`, '--records', records, '--lambda-step', '0.01', '-o', out, '--json']);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const byName = Object.fromEntries(lines.filter((o) => o.tinysaver).map((o) => [o.config, o]));
  const threshold = (o) => o.classifiers.find((c) => c.graph === 'saver2').threshold;
  assert.deepEqual(Object.keys(byName), ['tinysaver', 'tinysaver-val']);
  assert.ok(Math.abs(threshold(byName.tinysaver) - 0.9) < 0.005, `train: ${threshold(byName.tinysaver)}`);
  assert.ok(Math.abs(threshold(byName['tinysaver-val']) - 0.5) < 0.005, `val: ${threshold(byName['tinysaver-val'])}`);
  // Both measured on val, where the head and saver2 above 0.5 are right.
  for (const o of Object.values(byName)) assert.equal(o.accuracy, 1);
  assert.ok(byName['tinysaver-val'].mean_macs < byName.tinysaver.mean_macs);
  const model = engine.loadModel(fs.readFileSync(out));
  try {
    const names = model.configs.map((c) => c.name);
    assert.deepEqual(names.slice(-3), ['tinysaver', 'tinysaver-val', 'backbone']);
  } finally {
    model.free();
  }
});

function reproducesSearch(pkg, few) {
  const model = engine.loadModel(fs.readFileSync(pkg));
  const configs = pick(model.configs.filter((c) => c.accuracy >= 0), few);
  model.free();
  for (const c of configs) {
    const { summary } = evalDump('native', pkg, c.name, 100000, 'val');
    // Records are PyTorch's predictions; the engine matches them sample by
    // sample except for rare near-ties, so allow one sample of slack.
    assert.ok(Math.abs(summary.accuracy - c.accuracy) <= 1 / summary.n + 1e-9,
      `${c.name}: engine ${summary.accuracy} vs search ${c.accuracy}`);
    assert.ok(Math.abs(summary.mean_macs - c.meanMacs) <= 0.01 * c.meanMacs,
      `${c.name}: engine MACs ${summary.mean_macs} vs search ${c.meanMacs}`);
  }
}

test('smoke package: the engine reproduces the search figures on val', () => {
  reproducesSearch(`${smoke}-configs.dyce`, false);
});

test('smoke package: WASI, browser and native builds agree on labels and exits', () => {
  crossBuild(`${smoke}-configs.dyce`, 500);
});

const hasShipped = fs.existsSync(`${shipped}.dyce`) &&
  engine.loadModel(fs.readFileSync(`${shipped}.dyce`)).configs.length > 0;
test('shipped package: the engine reproduces the search figures on val', { skip: !hasShipped && 'models/fashion-mnist.dyce has no configurations yet' }, () => {
  reproducesSearch(`${shipped}.dyce`, true);
});

test('shipped package: the three builds agree on the whole test set', { skip: !hasShipped && 'models/fashion-mnist.dyce has no configurations yet' }, () => {
  crossBuild(`${shipped}.dyce`, set.count, true);
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
