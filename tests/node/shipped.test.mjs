// The shipped Fashion-MNIST package, checked by the engine against the
// records (PyTorch's predictions) on the whole test set: ≥ 99.9 % top-1
// agreement, every disagreement a near tie (top-2 logits within 1e-4),
// and the backbone at ≥ 93.5 % top-1.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { root, runCli } from './harness.mjs';

const pkg = path.join(root, 'models/fashion-mnist.dyce');
// PyTorch's predictions of these graphs (models/golden_records.py).
const golden = path.join(root, 'tests/golden/fashion-mnist.golden.records');
const data = '/usr/share/datasets/fashion-mnist';

for (const graph of ['head', 'saver0', 'saver2']) {
  test(`shipped ${graph} reproduces PyTorch on the test set`, { skip: !fs.existsSync(pkg) && 'no shipped package' }, () => {
    const r = runCli('native', ['eval', pkg, '--data', data, '--split', 'test', '--graph', graph, '--records', golden, '--json']);
    assert.equal(r.status, 0, r.stderr);
    const e = JSON.parse(r.stdout);
    assert.equal(e.n, 10000);
    assert.ok(e.agreement >= 0.999, `agreement ${e.agreement}`);
    for (const d of e.disagreements) assert.ok(d.gap < 1e-4, `sample ${d.sample}: gap ${d.gap}`);
    if (graph === 'head') assert.ok(e.accuracy >= 0.935, `backbone accuracy ${e.accuracy}`);
  });
}
