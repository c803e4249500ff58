// Blocks from papers that users write into their own backbone files
// (tests/build/user_blocks.py): each network built by models/build.py in
// smoke mode on 32x32 RGB images of six classes (real Fashion-MNIST
// images, upsampled and tinted: make_data.py colour), every graph of the
// package compared with PyTorch in the engine by the build's own check.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PY = '/usr/bin/python3';
const BLOCKS = path.join(root, 'tests/build/user_blocks.py');
let tmp;

function run(args) {
  const r = spawnSync(PY, args, { cwd: tmp, encoding: 'utf8', maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

before(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-blocks-'));
  assert.equal(run([path.join(root, 'tests/build/make_data.py'), 'colour', 'data', '6', '4']).code, 0);
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('hand-written blocks of other papers build and match PyTorch', () => {
  for (const [fn, what] of [
    ['mobilevit', 'MobileViT (patches unfolded, a transformer on the batch of patch positions, folded back)'],
    ['coord_nonlocal', "coordinate attention (pooled maps joined along H and split), a non-local block, GCNet's global context (a map times a column of weights)"],
    ['resnest', "ResNeSt's split attention (radix groups, their sum, a radix softmax)"],
    ['sknet', "SKNet's selective kernel (branches stacked, a softmax across them)"],
    ['convnext_v2', "ConvNeXt V2's global response normalisation (a channels-last map's L2 norm over H and W) and GhostNetV2's DFC attention"],
    ['levit', "LeViT's attention (each head's features split into q, k, v of unequal sizes, a gathered attention bias)"],
    ['coordconv', 'CoordConv (constant coordinate maps concatenated with the computed map)'],
    ['circular', "circular padding (ParC's wrapped convolution, padding_mode='circular': PyTorch 1.13 exports it wrongly, the build writes it as slices) and a fixed Sobel filter"],
    ['statistics', 'SimAM, SRM (x.std), triplet attention (permuted maps) and an instance norm written with var'],
  ]) {
    test(what, () => {
      const r = run([path.join(root, 'models/build.py'), '--smoke', '--threads', '1', '--data', 'data',
        '--backbone', `${BLOCKS}:${fn}`, '--out', `${fn}.dyce`]);
      assert.equal(r.code, 0, `build failed:\n${r.err.slice(-3000)}\n${r.out.slice(-1500)}`);
      const m = r.out.match(/engine check: (\d+) graphs match PyTorch \(max relative error ([0-9.e+-]+), \d+ test images?\)/);
      assert.ok(m, r.out.slice(-1500));
      assert.ok(Number(m[1]) >= 4 && Number(m[2]) < 1e-4, m[0]);
    });
  }
});
