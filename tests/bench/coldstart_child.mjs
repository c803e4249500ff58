// One cold start, in a fresh Node process (run by tests/bench/coldstart.mjs):
//   node tests/bench/coldstart_child.mjs RUNTIME MODEL_BASE
// Times, from this module's first statement: importing the runtime,
// loading the model (dyce: load(); onnxruntime-web: InferenceSession.create;
// tfjs-wasm: setBackend + building the model), the first inference, and
// the median of 30 later ones. Prints one JSON line.
const t0 = performance.now();
const [runtime, base] = process.argv.slice(2);
const lap = () => performance.now();

/** A real Fashion-MNIST test image (28×28 gray) or, for other inputs, a fixed pattern. */
async function image(h, w, c) {
  const { readTestSet } = await import('../node/fmnist.mjs');
  const set = readTestSet();
  const data = new Uint8Array(h * w * c);
  for (let i = 0; i < data.length; i++) data[i] = h === 28 && c === 1 ? set.pixels[i] : (i * 37) % 256;
  return data;
}

async function dyce() {
  // The package entry, as users import it (under Node: one file, wasm/dist/dyce.node.mjs).
  const { load } = await import('dyce');
  const tImport = lap();
  const model = await load(`${base}.dyce`);
  const tLoad = lap();
  const { height, width, channels } = model.input;
  // Built after the load (not timed): the image is the user's, not dyce's.
  const data = await image(height, width, channels);
  const t1 = lap();
  const first = await model.classify({ data, width, height, channels });
  return { tImport, tLoad, skip: t1 - tLoad, first, run: () => model.classify({ data, width, height, channels }), variant: model.variant };
}

async function ortWeb() {
  const ort = await import('onnxruntime-web');
  const tImport = lap();
  const path = await import('node:path');
  const fs = await import('node:fs');
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = path.resolve(import.meta.dirname ?? new URL('.', import.meta.url).pathname, '../../node_modules/onnxruntime-web/dist') + '/';
  const session = await ort.InferenceSession.create(fs.readFileSync(`${base}.onnx`), { executionProviders: ['wasm'], graphOptimizationLevel: 'all' });
  const tLoad = lap();
  const plan = JSON.parse(fs.readFileSync(`${base}.tfjs.json`, 'utf8'));
  const [, h, w, c] = plan.shapes[plan.input];
  const px = await image(h, w, c), x = new Float32Array(px.length);
  for (let i = 0; i < x.length; i++) x[i] = px[i] / 255;
  const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', x, [1, c, h, w]) };
  const t1 = lap();
  const run = async () => (await session.run(feeds))[session.outputNames[0]].data;
  await run();
  return { tImport, tLoad, skip: t1 - tLoad, run };
}

async function tfjsWasm() {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const tImport = lap();
  const path = await import('node:path');
  const fs = await import('node:fs');
  const { buildTfjsModel } = await import('./tfjs_plan.mjs');
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setWasmPaths(path.resolve(new URL('.', import.meta.url).pathname, '../../node_modules/@tensorflow/tfjs-backend-wasm/dist') + '/');
  wasm.setThreadsCount(1);
  await tf.setBackend('wasm');
  await tf.ready();
  const plan = JSON.parse(fs.readFileSync(`${base}.tfjs.json`, 'utf8'));
  const model = buildTfjsModel(tf, plan, fs.readFileSync(`${base}.tfjs.bin`));
  const tLoad = lap();
  const [, h, w, c] = plan.shapes[plan.input];
  const px = await image(h, w, c);
  const xt = tf.tensor(Float32Array.from(px, (v) => v / 255), [1, h, w, c]);
  const t1 = lap();
  const run = () => {
    const y = tf.tidy(() => model.forward(xt));
    const data = y.dataSync();
    y.dispose();
    return data;
  };
  run();
  return { tImport, tLoad, skip: t1 - tLoad, run };
}

const r = await { dyce, 'ort-web': ortWeb, 'tfjs-wasm': tfjsWasm }[runtime]();
const tFirst = lap() - r.skip;
const times = [];
for (let i = 0; i < 30; i++) {
  const s = lap();
  await r.run();
  times.push(lap() - s);
}
times.sort((a, b) => a - b);
console.log(JSON.stringify({
  runtime, model: base.split('/').pop(), variant: r.variant,
  importMs: r.tImport - t0, loadMs: r.tLoad - r.tImport, firstMs: tFirst - r.tLoad, totalMs: tFirst - t0,
  steadyMs: (times[14] + times[15]) / 2, sinceProcessStartMs: tFirst,
}));
