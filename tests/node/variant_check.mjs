// Runs every test model through one build of the browser module and
// compares with PyTorch (used by variants.test.mjs, also from a child Node
// started with relaxed SIMD enabled).
import fs from 'node:fs';

import { createEngine } from '../../wasm/engine.mjs';
import { compareOutputs, ensureTestModels, loadNpy, modelFiles, nhwcToNchw } from './harness.mjs';

/** {model name: compareOutputs result} for build `variant`. */
export async function checkVariant(variant) {
  const engine = await createEngine({ variant });
  if (engine.variant !== variant) throw new Error(`got ${engine.variant}, not ${variant}`);
  const results = {};
  for (const name of ensureTestModels()) {
    const f = modelFiles(name);
    const input = loadNpy(f.input), want = loadNpy(f.torch);
    const model = engine.loadModel(fs.readFileSync(f.dyce));
    try {
      const dims = model.graphs.at(-1).outputDims;
      const got = model.run(input.data);
      results[name] = compareOutputs(dims[1] * dims[2] > 1 ? nhwcToNchw(got, dims) : got, want.data);
    } finally {
      model.free();
    }
  }
  return results;
}
