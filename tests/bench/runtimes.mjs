// The three runtimes of the benchmark behind one shape:
//   const r = await RUNTIMES[name].load(files); await r.run(); r.free()
// Each run feeds the same fixed input and reads the whole output back.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createEngine } from '../../wasm/engine.mjs';
import { buildTfjsModel } from './tfjs_plan.mjs';

// Absolute dist/ folder of a package, with the trailing slash both need.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const distOf = (pkg) => path.join(ROOT, 'node_modules', pkg, 'dist') + '/';

/** The same pseudo-random input for every runtime: x is NCHW, xNhwc the
 * same values transposed. */
function input(plan) {
  const [, h, w, c] = plan.shapes[plan.input];
  const x = new Float32Array(h * w * c), xNhwc = new Float32Array(x.length);
  let s = 12345;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 2 - 1;
  }
  for (let k = 0; k < c; k++)
    for (let i = 0; i < h * w; i++) xNhwc[i * c + k] = x[k * h * w + i];
  return { x, xNhwc, nchw: [1, c, h, w], nhwc: [1, h, w, c] };
}

let ort, tf;

/** dyce with one build of the browser module (see wasm/variants.mjs). */
const dyce = (variant) => ({
  async load(files) {
    // A fresh engine per model, so its wasm memory is that model's peak.
    const engine = await createEngine({ variant });
    const model = engine.loadModel(fs.readFileSync(files.dyce));
    const { x } = input(files.plan);
    return {
      run: () => model.run(x),
      // packageBytes: the .dyce file, its weights as trained plus a few KiB;
      // weightBytes: as packed (Winograd layers hold 16/9 of theirs).
      memory: () => ({ wasmBytes: engine.m.HEAPU8.length, weightBytes: model.weightBytes,
        packageBytes: fs.statSync(files.dyce).size,
        arenaBytes: model.arenaBytes, variant: engine.variant }),
      free: () => model.free(),
    };
  },
});

// `dyce` is the plain SIMD128 build the targets are about; `dyce-relaxed`
// needs a host with relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd).
export const RUNTIMES = {
  dyce: dyce('simd'),
  'dyce-relaxed': dyce('relaxed'),
  'ort-web': {
    async load(files) {
      if (!ort) {
        ort = await import('onnxruntime-web');
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.wasmPaths = distOf('onnxruntime-web');
      }
      const session = await ort.InferenceSession.create(fs.readFileSync(files.onnx),
        { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
      const { x, nchw } = input(files.plan);
      const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, nchw) };
      return {
        run: async () => (await session.run(feeds))[session.outputNames[0]].data,
        free: () => session.release(),
      };
    },
  },
  'tfjs-wasm': {
    async load(files) {
      if (!tf) {
        tf = await import('@tensorflow/tfjs-core');
        const wasm = await import('@tensorflow/tfjs-backend-wasm');
        tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
        wasm.setWasmPaths(distOf('@tensorflow/tfjs-backend-wasm'));
        wasm.setThreadsCount(1);
        await tf.setBackend('wasm');
        await tf.ready();
      }
      const model = buildTfjsModel(tf, files.plan, fs.readFileSync(files.tfjsBin));
      const { xNhwc, nhwc } = input(files.plan);
      const xt = tf.tensor(xNhwc, nhwc); // its native layout, made once

      return {
        run: () => {
          const y = tf.tidy(() => model.forward(xt));
          const data = y.dataSync();
          y.dispose();
          return data;
        },
        free: () => { xt.dispose(); model.dispose(); },
      };
    },
  },
};
