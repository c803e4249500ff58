// What `dyce run` / `dyce eval` / `dyce search` do with the graphs and
// width levels a user names (native and WASI): a backbone stage is not a
// classifier, an exit of one width level runs at that level, an unknown
// level lists the package's, --no-savers makes no configuration with a
// saver, a --data that is not a folder says so, a tensor no normalised
// picture can be is noted, and dyce info shows the input's normalisation.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { root, runCli, tempDir } from './harness.mjs';
import { writeNpy } from './npy.mjs';

const reds = path.join(root, 'models/fashion-mnist-reds.dyce');
const fmnist = path.join(root, 'models/fashion-mnist.dyce');
const kinds = ['native', 'wasi'];

test('dyce run / eval: stages, exits of a width level, unknown levels, --data that is not a folder, unnormalised tensors', () => {
  const dir = tempDir('dyce-cli-graphs-');
  const x = path.join(dir, 'x.npy'), raw = path.join(dir, 'raw.npy');
  const zeros = new Float32Array(28 * 28).fill(-0.8);
  writeNpy(x, zeros, [1, 1, 28, 28]);
  writeNpy(raw, new Float32Array(28 * 28).fill(200), [1, 1, 28, 28]);
  for (const kind of kinds) {
    const run = (...args) => runCli(kind, ['run', reds, '--input', x, ...args]);
    // A stage's output is a feature map: its shape, no label.
    const stage = run('--graph', 'stage1');
    assert.equal(stage.status, 0, stage.stderr);
    const s = JSON.parse(stage.stdout);
    assert.deepEqual(Object.keys(s).sort(), ['graph', 'macs', 'ms', 'output_nhwc']);
    assert.equal(s.output_nhwc.length, 4);
    const evalStage = runCli(kind, ['eval', reds, '--data', '/usr/share/datasets/fashion-mnist', '--graph', 'stage1', '--limit', '5']);
    assert.equal(evalStage.status, 1, kind);
    assert.match(evalStage.stderr, /eval: 'stage1' is a backbone stage \(its output is a feature map, not class scores\)/);
    // exit1_a_w75 runs at w75 (fewer MACs than at full width), as eval runs it.
    const own = JSON.parse(run('--graph', 'exit1_a_w75').stdout), full = JSON.parse(run('--graph', 'exit1_a').stdout);
    assert.ok(own.macs < full.macs, `${own.macs} vs ${full.macs}`);
    assert.equal(JSON.parse(run('--graph', 'exit1_a_w75', '--level', 'w75').stdout).macs, own.macs);
    const other = run('--graph', 'exit1_a_w75', '--level', 'w50');
    assert.equal(other.status, 1, kind);
    assert.match(other.stderr, /run: 'exit1_a_w75' is an exit of width level w75, not w50/);
    const unknown = run('--level', 'w33');
    assert.equal(unknown.status, 1, kind);
    assert.match(unknown.stderr, /no width level 'w33'; the package's 4: w100, w75, w50, w25 \(or their indices 0\.\.3\)/);
    const none = runCli(kind, ['eval', fmnist, '--data', path.join(dir, 'missing')]);
    assert.equal(none.status, 1, kind);
    assert.match(none.stderr, /--data \S+missing: not a folder/);
    const r = runCli(kind, ['run', fmnist, '--input', raw]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /note: \S+raw\.npy: value 0 is 200, outside \[-0\.8109, 2\.0210\].*raw pixels\? \(run as given\)/);
    assert.equal(runCli(kind, ['run', fmnist, '--input', x]).stderr, '', 'a normalised tensor: no note');
    // dyce info shows the normalisation the package applies
    const info = JSON.parse(runCli(kind, ['info', fmnist, '--json']).stdout);
    assert.deepEqual([info.mean.length, info.std.length], [1, 1]);
    assert.ok(Math.abs(info.mean[0] - 0.286334) < 1e-6 && Math.abs(info.std[0] - 0.353121) < 1e-6, JSON.stringify(info.mean));
    assert.match(runCli(kind, ['info', fmnist]).stdout, /^input: 1x28x28x1 NHWC, pixel_scale 0\.00392157, mean \[0\.286334\], std \[0\.353121\]$/m);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('dyce search --no-savers: no configuration runs a saver (TinySaver ones included)', () => {
  const dir = tempDir('dyce-nosavers-');
  const out = path.join(dir, 'p.dyce');
  // the smoke build's package and its full records (scripts/test.sh makes them first)
  const smoke = path.join(root, 'build/fmnist-smoke/fashion-mnist');
  for (const [flags, withSaver] of [[[], true], [['--no-savers'], false]]) {
    const r = runCli('native', ['search', `${smoke}.dyce`, '--records', `${smoke}.records`, ...flags, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    const configs = JSON.parse(runCli('native', ['info', out, '--json']).stdout).configs;
    assert.ok(configs.length > 1);
    const savers = configs.filter((c) => c.classifiers.some((k) => k.graph.startsWith('saver')));
    assert.equal(savers.length > 0, withSaver, JSON.stringify(configs.map((c) => c.name)));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
