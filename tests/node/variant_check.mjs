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

/**
 * The engine's clock on build `variant` with `threads`: classify's `ms` is
 * a real time and deadlineMs stops the cascade ({ms, stopped, fullMs,
 * fullStopped}: a deadline of 1 ns, then one of 1000 s).
 */
export async function checkClock(variant, threads = 1) {
  const engine = await createEngine({ variant, threads });
  if (engine.variant !== variant) throw new Error(`got ${engine.variant}, not ${variant}`);
  const model = engine.loadModel(fs.readFileSync(new URL('../../models/fashion-mnist.dyce', import.meta.url)));
  try {
    if (model.threads !== threads) throw new Error(`on ${model.threads} threads, not ${threads}`);
    // A configuration with a saver and exits: places the deadline can stop at.
    model.useConfig(model.configs.findLastIndex((c) => c.saver !== null && c.exits.some((e) => e !== null)));
    const x = new Float32Array(model.inputCount).fill(0.2);
    const stopped = model.classify(x, { deadlineMs: 1e-6 });
    const full = model.classify(x, { deadlineMs: 1e6 });
    return { ms: stopped.ms, stopped: stopped.budgetExhausted, fullMs: full.ms, fullStopped: full.budgetExhausted };
  } finally {
    model.free();
    engine.dispose();
  }
}
