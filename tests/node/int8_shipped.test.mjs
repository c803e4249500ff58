// The shipped int8 packages (models/*-int8.dyce, issue 15; docs/MODELS.md
// "Int8 packages"): each loads in the engine (native CLI), is version 2 with
// a QTEN section and int8 tensors, is at most 0.3x its float package's
// bytes, carries configurations searched on the int8 graphs' records, and
// two of them (the pareto entry a third down the list and the one before the
// last) measured by the engine
// on the validation split give the accuracy and mean MACs recorded in CONF
// (the records were the int8 oracle's predictions, bit-identical to the
// engine). Regenerating the REDS ResNet package gives every section but the
// searched CONF byte for byte. tests/node/int8_shipped_check.py does the work.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { python, root, tempDir } from './harness.mjs';

const names = ['fashion-mnist', 'fashion-mnist-reds', 'fashion-mnist-reds-resnet'];
const present = names.every((n) => fs.existsSync(path.join(root, 'models', `${n}-int8.dyce`)));
const dir = tempDir('dyce-int8-shipped-');
const run = present ? spawnSync(python, [path.join(root, 'tests/node/int8_shipped_check.py'), dir], {
  encoding: 'utf8', cwd: root, timeout: 300_000,
}) : null;
const report = run && run.status === 0 ? JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) : null;
const skip = !present ? 'no shipped int8 packages' : report === null;

test('int8 shipped checks ran', { skip: !present && 'no shipped int8 packages' }, () => {
  assert.equal(run.status, 0, run.stderr);
});

for (const name of names) {
  test(`${name}-int8.dyce: loads, version 2, <= 0.3x bytes, searched CONF matches the engine on val`, { skip }, () => {
    const r = report[name];
    assert.equal(r.info_status, 0, r.info_stderr);
    assert.equal(r.version, 2);
    assert.ok(r.sections.includes('QTEN') && r.sections.includes('CONF'), r.sections.join(' '));
    assert.ok(r.int8_tensors > 0);
    assert.ok(r.bytes <= 0.3 * r.float_bytes, `${r.bytes} > 0.3 x ${r.float_bytes}`);
    const searched = r.configs.filter((c) => c.name.startsWith('pareto-'));
    assert.ok(searched.length >= 3, `${searched.length} searched configurations`);
    assert.ok(r.configs.some((c) => c.name.startsWith('backbone')));
    assert.equal(r.checked.length, 2);
    for (const c of r.checked) {
      console.log(`${name} ${c.config}: recorded ${c.recorded.toFixed(4)} / ${c.recorded_macs.toFixed(0)} MACs, ` +
        `engine ${c.measured.toFixed(4)} / ${c.measured_macs.toFixed(0)} MACs on ${c.n} val images`);
      assert.equal(c.n, 5000);
      // Bit-identical predictions: equal up to a confidence within float
      // rounding of a threshold (softmax in PyTorch vs the engine), at most
      // one image.
      assert.ok(Math.abs(c.measured - c.recorded) <= 1 / 5000 + 1e-6, `${c.config}: ${c.measured} vs ${c.recorded}`);
      assert.ok(Math.abs(c.measured_macs - c.recorded_macs) <= 1e-3 * c.recorded_macs + 1,
        `${c.config}: ${c.measured_macs} vs ${c.recorded_macs} MACs`);
    }
  });
}

test('regenerating fashion-mnist-reds-resnet-int8 gives the same sections (CONF aside)', { skip }, () => {
  const g = report.regenerated;
  assert.deepEqual(g.differ, [], `differ: ${g.differ.join(' ')}`);
  assert.ok(g.same.includes('WGHT') && g.same.includes('QTEN'));
});
