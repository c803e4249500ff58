// The runtimes of the benchmark behind one shape:
//   const r = await RUNTIMES[name].load(files, { threads }); await r.run(); r.threads(); r.free()
// `files`: { plan (the op list), dyce, onnx, tfjsBin (bytes), and when
// made dyceInt8, onnxInt8 }; RUNTIMES[name].file is the key a runtime
// loads. Each run feeds the same fixed input and reads the whole output
// back; r.runSeed(seed) runs another input of the same kind (the output
// agreement checks). Imports nothing Node-only, so a page runs it too
// (tests/bench/realms_page.mjs).
//
// dyce-int8 and ort-web-int8 run the int8 package (models/quantize.py) and
// its QDQ ONNX form (models/export_qdq.py: onnxruntime fuses it into
// QLinearConv, QGemm, QLinearAdd, ...): the same int8 network, fed the
// same float input as the float rows.
//
// onnxruntime-web and tfjs-backend-wasm fix their thread count when their
// wasm starts, once per realm (module instance, page): a realm holds one
// thread count of each, so threads.mjs gives every (runtime, threads) its
// own realm.
import { createEngine } from '../../wasm/engine.mjs';
import { buildTfjsModel } from './tfjs_plan.mjs';

/** A package's dist/ folder, with the trailing slash both peers need: a
 * path under Node (their Emscripten glue reads it with fs), a URL in pages. */
function distOf(pkg) {
  const url = new URL(`../../node_modules/${pkg}/dist/`, import.meta.url);
  return url.protocol === 'file:' ? decodeURIComponent(url.pathname) : url.href;
}

/** The same pseudo-random input for every runtime, uniform in [-1, 1]: x
 * is NCHW, xNhwc the same values transposed. seed 12345 is the timed one. */
function input(plan, seed = 12345) {
  const [, h, w, c] = plan.shapes[plan.input];
  const x = new Float32Array(h * w * c), xNhwc = new Float32Array(x.length);
  let s = seed;
  for (let i = 0; i < x.length; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    x[i] = (s / 2 ** 32) * 2 - 1;
  }
  for (let k = 0; k < c; k++)
    for (let i = 0; i < h * w; i++) xNhwc[i * c + k] = x[k * h * w + i];
  return { x, xNhwc, nchw: [1, c, h, w], nhwc: [1, h, w, c] };
}

let ort, ortThreads, tf, tfWasm, tfThreads;

/** The peers' thread count is set once per realm; a second one would be silently ignored. */
function sameThreads(name, started, threads) {
  if (started !== undefined && started !== threads)
    throw new Error(`${name} started with ${started} thread(s) in this realm; ${threads} needs another realm`);
}

/** dyce with one build of the browser module (see wasm/variants.mjs);
 * file: the package it loads (`dyce`, or `dyceInt8`). */
const dyce = (variant, file = 'dyce') => ({
  file,
  async load(files, { threads = 1, splitMinMacs } = {}) {
    // A fresh engine per model, so its wasm memory is that model's peak.
    // threads: 1 is the single-threaded build; more, the -mt build.
    const engine = await createEngine({ variant, threads });
    const model = engine.loadModel(files[file]);
    if (threads > 1 && model.threads !== threads && threads <= engine.maxThreads) model.setThreads(threads);
    if (splitMinMacs !== undefined && model.threads > 1) model.setSplitMinMacs(splitMinMacs);
    const { x } = input(files.plan);
    return {
      run: () => model.run(x),
      runSeed: (seed) => model.run(input(files.plan, seed).x),
      threads: () => model.threads ?? 1,
      // Why fewer threads than asked for, in dyce's words; else how many
      // convolutions it splits (small ones run whole on one thread).
      threadsNote: () => engine.threadsReason ??
        (model.threads > 1 && model.splitNodes !== undefined ? `${model.splitNodes} convolutions split` : null),
      // packageBytes: the .dyce file, its weights as trained plus a few KiB;
      // weightBytes: as packed (Winograd layers hold 16/9 of theirs).
      memory: () => ({ wasmBytes: engine.m.HEAPU8.length, weightBytes: model.weightBytes,
        packageBytes: files[file].length,
        arenaBytes: model.arenaBytes, variant: engine.variant }),
      free: () => { model.free(); engine.dispose?.(); },
    };
  },
});

/** onnxruntime-web's wasm backend on the ONNX file `file` (`onnx`, or
 * `onnxInt8`), all graph optimizations on. */
const ortWeb = (file) => ({
  file,
  async load(files, { threads = 1 } = {}) {
    sameThreads('onnxruntime-web', ortThreads, threads);
    if (!ort) {
      ort = await import('onnxruntime-web');
      ort.env.wasm.numThreads = threads;
      ort.env.wasm.wasmPaths = distOf('onnxruntime-web');
      ortThreads = threads;
    }
    const session = await ort.InferenceSession.create(files[file],
      { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
    const feedsOf = (seed) => {
      const { x, nchw } = input(files.plan, seed);
      return { [session.inputNames[0]]: new ort.Tensor('float32', x, nchw) };
    };
    const feeds = feedsOf();
    return {
      run: async () => (await session.run(feeds))[session.outputNames[0]].data,
      runSeed: async (seed) => (await session.run(feedsOf(seed)))[session.outputNames[0]].data,
      // ort sets numThreads back to 1 when the host has no threads (and warns).
      threads: () => ort.env.wasm.numThreads,
      threadsNote: () => null,
      free: () => session.release(),
    };
  },
});

// `dyce` is the plain SIMD128 build the targets are about; `dyce-relaxed`
// needs a host with relaxed SIMD (Node 20: --experimental-wasm-relaxed-simd).
// dyce-int8 runs the same build as `dyce`.
export const RUNTIMES = {
  dyce: dyce('simd'),
  'dyce-relaxed': dyce('relaxed'),
  'ort-web': ortWeb('onnx'),
  'dyce-int8': dyce('simd', 'dyceInt8'),
  'ort-web-int8': ortWeb('onnxInt8'),
  'tfjs-wasm': {
    file: 'tfjsBin',
    async load(files, { threads = 1 } = {}) {
      sameThreads('tfjs-backend-wasm', tfThreads, threads);
      if (!tf) {
        const core = await import('@tensorflow/tfjs-core');
        tfWasm = await import('@tensorflow/tfjs-backend-wasm');
        // One thread: the SIMD build without threads (what tfjs picks under
        // Node, where this flag's own test answers false); more: the
        // threaded SIMD build (what it picks in cross-origin-isolated pages).
        core.env().set('WASM_HAS_MULTITHREAD_SUPPORT', threads > 1);
        tfWasm.setWasmPaths(distOf('@tensorflow/tfjs-backend-wasm'));
        tfWasm.setThreadsCount(threads);
        // tfjs reports a failed start by console.warn and `false`: keep its reason for the error.
        const warnings = [], warn = console.warn;
        console.warn = (...a) => warnings.push(a.join(' '));
        let started;
        try {
          started = await core.setBackend('wasm');
        } finally {
          console.warn = warn;
        }
        if (!started) throw new Error(`tfjs-backend-wasm did not start: ${warnings.slice(-1)[0]?.split('\n')[0] ?? 'no reason given'}`);
        warnings.forEach((w) => warn(w));
        await core.ready();
        [tf, tfThreads] = [core, threads];
      }
      const model = buildTfjsModel(tf, files.plan, files.tfjsBin);
      const { xNhwc, nhwc } = input(files.plan);
      const xt = tf.tensor(xNhwc, nhwc); // its native layout, made once

      return {
        run: () => {
          const y = tf.tidy(() => model.forward(xt));
          const data = y.dataSync();
          y.dispose();
          return data;
        },
        threads: () => tfWasm.getThreadsCount(),
        threadsNote: () => null,
        free: () => { xt.dispose(); model.dispose(); },
      };
    },
  },
};
