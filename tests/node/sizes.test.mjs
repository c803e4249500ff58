// Real-world sizes (issue 14): 1 000 classes at 224x224x3 and 65 535
// classes at 512x512x3, converted from PyTorch by models/convert.py, run by
// the native and WASI CLIs and by the browser module (wasm/engine.mjs and
// the load/classify API of wasm/index.mjs): logits as PyTorch's, labels
// read back for every class, the answer's index and label.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { createEngine } from '../../wasm/engine.mjs';
import { load } from '../../wasm/index.mjs';
import { compareOutputs, loadNpy, python, root, runCli, tempDir } from './harness.mjs';

const dir = tempDir('dyce-sizes-');
const fx = spawnSync(python, [path.join(root, 'tests/node/sizes_fixture.py'), dir], {
  encoding: 'utf8', cwd: root, timeout: 300_000,
});
const names = ['c1000-224', 'c65535-512'];
const file = (name, ext) => path.join(dir, `${name}.${ext}`);
const argmax = (y) => y.reduce((best, v, i) => (v > y[best] ? i : best), 0);

test('size fixtures are made', () => assert.equal(fx.status, 0, fx.stderr));

for (const name of names) {
  test(`${name}: the CLIs (native, WASI) give PyTorch's logits`, { skip: fx.status !== 0 }, () => {
    const want = loadNpy(file(name, 'torch.npy'));
    for (const kind of ['native', 'wasi']) {
      const out = file(name, `${kind}.npy`);
      const r = runCli(kind, ['run', file(name, 'dyce'), '--input', file(name, 'input.npy'), '--output', out]);
      assert.equal(r.status, 0, `${kind}: ${r.stderr}`);
      const got = loadNpy(out), cmp = compareOutputs(got.data, want.data);
      assert.ok(cmp.ok, `${kind}: max error ${cmp.maxErr} > ${cmp.bound}`);
      const line = JSON.parse(r.stdout), labels = fs.readFileSync(file(name, 'labels.txt'), 'utf8').trim().split('\n');
      assert.equal(line.index, argmax(want.data), kind);
      assert.equal(line.label, labels[line.index], kind);
    }
  });

  test(`${name}: the browser module gives PyTorch's logits, labels and answer`, { skip: fx.status !== 0 }, async () => {
    const want = loadNpy(file(name, 'torch.npy')), x = loadNpy(file(name, 'input.npy'));
    const labels = fs.readFileSync(file(name, 'labels.txt'), 'utf8').trim().split('\n');
    const engine = await createEngine();
    const m = engine.loadModel(fs.readFileSync(file(name, 'dyce')));
    try {
      assert.equal(m.labels.length, labels.length);
      assert.deepEqual(m.labels, labels);
      const cmp = compareOutputs(m.run(x.data), want.data);
      assert.ok(cmp.ok, `run: max error ${cmp.maxErr} > ${cmp.bound}`);
      const r = m.classify(x.data);
      assert.equal(r.index, argmax(want.data));
      assert.equal(r.label, labels[r.index]);
    } finally {
      m.free();
    }
    const model = await load(fs.readFileSync(file(name, 'dyce')));
    try {
      const r = await model.classify({ tensor: x.data, layout: 'nchw', normalized: true }, { topK: 5 });
      assert.equal(r.index, argmax(want.data));
      assert.equal(r.label, labels[r.index]);
      assert.equal(r.top.length, 5);
      assert.equal(r.top[0].index, r.index);
    } finally {
      await model.dispose();
    }
  });
}

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
