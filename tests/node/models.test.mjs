// Conformance: every test model (torchvision nets with random weights, a
// ResNet-20-style net for 28×28×1 and an op-coverage net) gives the same
// output in the native CLI, the WASI CLI and the browser module as
// onnxruntime-node on the same ONNX file.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import ort from 'onnxruntime-node';

import { createEngine } from '../../wasm/engine.mjs';
import {
  compareOutputs, ensureTestModels, loadNpy, modelFiles, nhwcToNchw, runCli, tempDir,
} from './harness.mjs';

const names = ensureTestModels();
const engine = await createEngine();
const scratch = tempDir();

async function referenceOutput(f, x) {
  const session = await ort.InferenceSession.create(f.onnx, { intraOpNumThreads: 1 });
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x.data, x.shape) };
  const out = (await session.run(feeds))[session.outputNames[0]];
  return { data: out.data, dims: out.dims };
}

function assertClose(got, want, what) {
  const r = compareOutputs(got, want);
  assert.ok(r.ok, `${what}: max error ${r.maxErr} exceeds ${r.bound}${r.why ? ` (${r.why})` : ''}`);
}

test('the test models were exported', () => {
  for (const required of ['mobilenet_v2', 'mobilenet_v3_small', 'efficientnet_b0', 'resnet18'])
    assert.ok(names.includes(required), `missing ${required} in ${names}`);
  assert.ok(names.length >= 6, `only ${names.length} models: ${names}`);
});

for (const name of names) {
  test(`${name}: native, WASI and browser module match onnxruntime-node`, async (t) => {
    const f = modelFiles(name);
    const x = loadNpy(f.input);
    const want = await referenceOutput(f, x);
    // PyTorch agrees with onnxruntime too: the exported ONNX is what we think.
    assertClose(loadNpy(f.torch).data, want.data, `${name} torch vs onnxruntime`);

    for (const kind of ['native', 'wasi']) {
      await t.test(kind, () => {
        const out = path.join(scratch, `${name}.${kind}.npy`);
        const r = runCli(kind, ['run', f.dyce, '--input', f.input, '--output', out]);
        assert.equal(r.status, 0, `${kind} CLI failed (signal ${r.signal}): ${r.stderr}`);
        const line = JSON.parse(r.stdout.trim());
        assert.ok(Number.isInteger(line.index) && typeof line.label === 'string');
        assert.ok(line.score > 0 && line.score <= 1 && line.ms >= 0, r.stdout);
        const got = loadNpy(out);
        assert.deepEqual(got.shape, want.dims.map(Number));
        assertClose(got.data, want.data, `${name} ${kind}`);
      });
    }

    await t.test('browser module', () => {
      const model = engine.loadModel(fs.readFileSync(f.dyce));
      try {
        let y = model.run(x.data);
        const g = model.graphs[model.graphIndex(model.graphs.some((q) => q.name === 'head') ? 'head' : model.graphs.at(-1).name)];
        if (g.outputDims[1] * g.outputDims[2] > 1) y = nhwcToNchw(y, g.outputDims);
        assertClose(y, want.data, `${name} emscripten`);
        assert.ok(model.arenaBytes > 0 && model.weightBytes > 0);
      } finally {
        model.free();
      }
    });
  });
}

test.after(() => fs.rmSync(scratch, { recursive: true, force: true }));
