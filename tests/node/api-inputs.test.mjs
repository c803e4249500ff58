// The JS API (wasm/index.mjs) used as a web developer might, beyond
// tests/node/api.test.mjs: packages from a Blob, a File or a fetch
// Response; options with typos or wrong types refused with the field
// involved, never ignored; byte images of every typed array, gray + alpha,
// non-square and off-size pictures; calls in flight while the
// configuration changes or the model is disposed; two packages at once.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import test from 'node:test';

import { DyceError, load } from '../../wasm/node.mjs';
import { readTestSet } from './fmnist.mjs';
import { root } from './harness.mjs';

const MODEL = path.join(root, 'models/fashion-mnist.dyce');
const OTHERS = ['fashion-mnist-int8.dyce', 'fashion-mnist-reds.dyce'].map((f) => path.join(root, 'models', f)).filter((f) => fs.existsSync(f));
const bytes = fs.readFileSync(MODEL);
const set = readTestSet();
const model = await load(bytes);
test.after(() => model.dispose());

/** Test image i as gray bytes {data, width, height, channels: 1}. */
const gray = (i, Type = Uint8Array) => ({ data: Type.from(set.pixels.subarray(i * 784, (i + 1) * 784)), width: 28, height: 28, channels: 1 });
const answer = (r) => [r.index, r.exit, r.macs, r.config];

/** Rejects with a DyceError of `code` whose `field` (and `url`) are as given, and whose message matches. */
async function refused(promise, code, { field, url, message } = {}) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof DyceError, `a DyceError, got ${e?.stack ?? e}`);
    assert.equal(e.code, code, e.message);
    if (field !== undefined) assert.equal(e.field, field, e.message);
    if (url !== undefined) assert.equal(e.url, url, e.message);
    if (message) assert.match(e.message, message);
    return true;
  });
}

/** A local HTTP server: /model.dyce is the package, /text a text file, anything else 404. */
async function serve() {
  const server = http.createServer((req, res) => {
    if (req.url === '/model.dyce') res.end(bytes);
    else if (req.url === '/text') res.end('not a package');
    else {
      res.statusCode = 404;
      res.end('no');
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

test('load takes a Blob, a File and a fetch Response, with the same model as from bytes', async () => {
  const want = await model.classify(gray(0));
  const { server, base } = await serve();
  try {
    for (const source of [new Blob([bytes]), new File([bytes], 'fashion-mnist.dyce'), await fetch(`${base}/model.dyce`)]) {
      const m = await load(source);
      try {
        assert.equal(m.configs.length, model.configs.length);
        assert.deepEqual(answer(await m.classify(gray(0))), answer(want), source.constructor.name);
      } finally {
        await m.dispose();
      }
    }
    // What fetch answers is checked as a URL load() fetched itself would be.
    await refused(load(await fetch(`${base}/missing.dyce`)), 'DYCE_FETCH_FAILED', { url: `${base}/missing.dyce`, message: /HTTP 404/ });
    await refused(load(await fetch(`${base}/text`)), 'DYCE_BAD_FORMAT', { url: `${base}/text` });
    const used = await fetch(`${base}/model.dyce`);
    await used.arrayBuffer();
    await refused(load(used), 'DYCE_INVALID_ARGUMENT', { field: 'source', message: /already read/ });
    await refused(load(new File([bytes.subarray(0, 50)], 'cut.dyce')), 'DYCE_BAD_FORMAT', { field: 'source' });
    await refused(load(new Response('no', { status: 500 })), 'DYCE_FETCH_FAILED', { message: /HTTP 500/ });
    await refused(load(42), 'DYCE_INVALID_ARGUMENT', { field: 'source', message: /Blob or File, a fetch Response/ });
  } finally {
    server.close();
  }
});

test('load options: a typo or a wrong value is refused with the field, never ignored', async () => {
  await refused(load(bytes, { thread: 2 }), 'DYCE_INVALID_ARGUMENT', { field: 'thread', message: /did you mean 'threads'/ });
  await refused(load(bytes, { varient: 'nosimd' }), 'DYCE_INVALID_ARGUMENT', { field: 'varient', message: /did you mean 'variant'/ });
  await refused(load(bytes, { wasmPath: 'x/' }), 'DYCE_INVALID_ARGUMENT', { field: 'wasmPath', message: /did you mean 'wasmPaths'/ });
  await refused(load(bytes, 'nosimd'), 'DYCE_INVALID_ARGUMENT', { field: 'options' });
  for (const threads of [0, -1, 1.5, 'many', '2'])
    await refused(load(bytes, { threads }), 'DYCE_INVALID_ARGUMENT', { field: 'threads' });
  await refused(load(bytes, { variant: 'bogus' }), 'DYCE_INVALID_ARGUMENT', { field: 'variant', message: /relaxed, simd, nosimd/ });
  // A wrong configuration names the ones there are.
  for (const config of ['pareto-99', -1, 1.5, model.configs.length])
    await refused(load(bytes, { config }), 'DYCE_NOT_FOUND', { field: 'config', message: /the package has pareto-00, .*or an index 0–/ });
  await refused(load(bytes, { splitMinMacs: -1 }), 'DYCE_INVALID_ARGUMENT', { field: 'splitMinMacs' });
  // Checked before anything is read or compiled (a missing file is not what it says).
  await refused(load('/no/such/model.dyce', { splitMinMacs: '0' }), 'DYCE_INVALID_ARGUMENT', { field: 'splitMinMacs', message: /not "0"/ });
  // null options are no options; a wasmPaths folder without its trailing slash is still the folder.
  const plain = await load(bytes, null);
  const folder = await load(bytes, { wasmPaths: path.join(root, 'wasm/dist') });
  try {
    assert.equal(folder.variant, plain.variant);
    assert.deepEqual(answer(await folder.classify(gray(1))), answer(await plain.classify(gray(1))));
  } finally {
    await plain.dispose();
    await folder.dispose();
  }
});

test('classify options: a typo or a wrong type is refused, not taken as the default', async () => {
  const x = gray(2);
  await refused(model.classify(x, { confg: 0 }), 'DYCE_INVALID_ARGUMENT', { field: 'confg', message: /did you mean 'config'/ });
  await refused(model.classify(x, { deadline: 5 }), 'DYCE_INVALID_ARGUMENT', { field: 'deadline', message: /did you mean 'deadlineMs'/ });
  // The string 'false' is truthy: it would have inverted the picture.
  await refused(model.classify(x, { invert: 'false' }), 'DYCE_INVALID_ARGUMENT', { field: 'invert' });
  await refused(model.classify(x, { topK: 'x' }), 'DYCE_INVALID_ARGUMENT', { field: 'topK' });
  await refused(model.classify(x, { deadlineMs: '5' }), 'DYCE_INVALID_ARGUMENT', { field: 'deadlineMs' });
  await refused(model.classify(x, { macBudget: NaN }), 'DYCE_INVALID_ARGUMENT', { field: 'macBudget' });
  await refused(model.classify(x, { config: 'nope' }), 'DYCE_NOT_FOUND', { field: 'config' });
  await refused(model.setConfig(NaN), 'DYCE_NOT_FOUND', { field: 'config', message: /no configuration NaN/ });
  await refused(model.setConfig(undefined), 'DYCE_INVALID_ARGUMENT', { field: 'config' });
  assert.equal((await model.classify(x, { topK: 0 })).top.length, 0);
  assert.ok((await model.classify(x, null)).label);
});

test('byte images: Uint8Array, Uint8ClampedArray and Buffer alike; gray + alpha; other arrays refused', async () => {
  for (const i of [0, 7]) {
    const want = answer(await model.classify(gray(i)));
    assert.deepEqual(answer(await model.classify(gray(i, Uint8ClampedArray))), want);
    assert.deepEqual(answer(await model.classify({ ...gray(i), data: Buffer.from(gray(i).data) })), want);
    const ga = new Uint8Array(784 * 2);
    gray(i).data.forEach((v, k) => { ga[2 * k] = v; ga[2 * k + 1] = 255; });
    assert.deepEqual(answer(await model.classify({ data: ga, width: 28, height: 28, channels: 2 })), want);
    // Transparent parts lie over black, as a browser draws them: a third
    // of the pixels transparent (their bytes white) answers as the gray
    // picture with those pixels black; half-transparent ones as v·a/255
    // rounded. RGBA alike (preprocess.mjs overBlack).
    const cut = gray(i), rgba = new Uint8Array(784 * 4);
    gray(i).data.forEach((v, k) => {
      const a = k % 3 ? (k % 5 ? 255 : 128) : 0;
      ga[2 * k] = a ? v : 255;
      ga[2 * k + 1] = a;
      rgba.set([ga[2 * k], ga[2 * k], ga[2 * k], a], 4 * k);
      cut.data[k] = Math.floor((ga[2 * k] * a + 127) / 255);
    });
    const over = answer(await model.classify(cut));
    assert.deepEqual(answer(await model.classify({ data: ga, width: 28, height: 28, channels: 2 })), over);
    assert.deepEqual(answer(await model.classify({ data: rgba, width: 28, height: 28 })), over);
    // Two bytes a pixel could be 16-bit gray: gray + alpha must be named.
    await refused(model.classify({ data: ga, width: 28, height: 28 }), 'DYCE_INVALID_ARGUMENT', { field: 'input.data', message: /channels: 2/ });
  }
  for (const data of [new Uint16Array(784), Array(784).fill(0), new Float32Array(784), 'pixels'])
    await refused(model.classify({ data, width: 28, height: 28 }), 'DYCE_INVALID_ARGUMENT', { field: 'input.data', message: /Uint8Array/ });
  for (const [width, field] of [[28.5, 'input.width'], ['28', 'input.width'], [0, 'input.width']])
    await refused(model.classify({ data: new Uint8Array(784), width, height: 28 }), 'DYCE_INVALID_ARGUMENT', { field });
  await refused(model.classify({ data: new Uint8Array(784), width: 28, height: -28 }), 'DYCE_INVALID_ARGUMENT', { field: 'input.height' });
  await refused(model.classify({ data: new Uint8Array(700), width: 28, height: 28 }), 'DYCE_INVALID_ARGUMENT', { field: 'input.data', message: /700 bytes/ });
  await refused(model.classify({ data: new Uint8Array(784), width: 28, height: 28, channels: 3 }), 'DYCE_INVALID_ARGUMENT', { field: 'input.data' });
  // A file's bytes (fs.readFileSync of a PNG or JPEG, an upload): the
  // message says how to decode them under Node (it sent users to a Blob,
  // which Node cannot decode either).
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
  for (const [bytes, kind] of [[png, 'PNG'], [new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0, 16]), 'JPEG'], [png.buffer.slice(png.byteOffset, png.byteOffset + png.length), 'PNG']])
    await refused(model.classify(bytes), 'DYCE_INVALID_ARGUMENT', { field: 'input',
      message: new RegExp(`it holds an encoded ${kind} file; Node has no image decoder here: decode it first .*pass \\{data, width: info\\.width`) });
});

test('off-size pictures are center-cropped and resized as documented', async () => {
  for (const i of [3, 11]) {
    const want = answer(await model.classify(gray(i)));
    // 40×28 with the picture in the middle: the crop is the picture.
    const wide = new Uint8Array(40 * 28).fill(200);
    for (let y = 0; y < 28; y++) wide.set(gray(i).data.subarray(y * 28, y * 28 + 28), y * 40 + 6);
    assert.deepEqual(answer(await model.classify({ data: wide, width: 40, height: 28 })), want);
    // 84×84, each pixel a 3×3 block: resized back down, the same picture.
    const big = new Uint8Array(84 * 84);
    for (let k = 0; k < big.length; k++) big[k] = gray(i).data[Math.floor(Math.floor(k / 84) / 3) * 28 + Math.floor((k % 84) / 3)];
    assert.deepEqual(answer(await model.classify({ data: big, width: 84, height: 84 })), want);
  }
  // Smaller pictures are scaled up (each output pixel averages what it covers).
  const small = new Uint8Array(14 * 14);
  for (let k = 0; k < small.length; k++) small[k] = gray(5).data[Math.floor(k / 14) * 2 * 28 + (k % 14) * 2];
  assert.ok((await model.classify({ data: small, width: 14, height: 14 })).label);
});

test('calls take effect in the order they were made, in flight or not', async () => {
  const names = model.configs.map((c) => c.name);
  await model.setConfig(names[0]);
  const first = model.classify(gray(4));
  const switched = model.setConfig(names.at(-1));
  const second = model.classify(gray(4));
  assert.equal((await first).config, names[0]);
  await switched;
  assert.equal((await second).config, names.at(-1));
  assert.equal(model.config, names.at(-1));
  // A decoding failure in the queue does not stop the calls after it.
  const failing = model.classify(new Blob([new Uint8Array(8)], { type: 'image/png' }));
  const after = model.classify(gray(4), { config: names[0] });
  await refused(failing, 'DYCE_UNSUPPORTED', { field: 'input', message: /createImageBitmap/ });
  assert.equal((await after).config, names[0]);
});

test('dispose: after the calls before it, twice at once, and every getter safe after', async () => {
  const m = await load(bytes);
  const pending = m.classify(gray(6));
  const [a, b] = [m.dispose(), m.dispose()];
  assert.ok((await pending).label, 'a classify made before dispose answers');
  await Promise.all([a, b]);
  assert.equal(m.disposed, true);
  await refused(m.classify(gray(6)), 'DYCE_BAD_STATE', { message: /disposed/ });
  await refused(m.setThreads(1), 'DYCE_BAD_STATE');
  assert.equal(m.threads, 0);
  assert.equal(m.splitMinMacs, model.splitMinMacs, 'read before the session was freed');
  // Disposed before its worker threads started: threadsReady still settles.
  const quick = await load(bytes, { threads: 2 });
  await quick.dispose();
  assert.ok([0, 1].includes(await quick.threadsReady));
});

test('the same package twice and other packages in one process answer as each does alone', async () => {
  const files = [MODEL, MODEL, ...OTHERS];
  const alone = [];
  for (const f of files) {
    const m = await load(f);
    alone.push(await Promise.all([0, 1, 2].map((i) => m.classify(gray(i)).then(answer))));
    await m.dispose();
  }
  const models = await Promise.all(files.map((f) => load(f)));
  try {
    const together = await Promise.all(models.map((m) => Promise.all([0, 1, 2].map((i) => m.classify(gray(i)).then(answer)))));
    assert.deepEqual(together, alone);
  } finally {
    await Promise.all(models.map((m) => m.dispose()));
  }
});

// Node loads its fetch implementation (undici) the first time anything
// reads the global Response or fetch: 8-20 ms of a cold start that a
// package read from a path does not need.
test('load from a path and classify never look at fetch or Response', async () => {
  const looked = [];
  const saved = ['Response', 'fetch'].map((name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)]);
  for (const [name, desc] of saved)
    Object.defineProperty(globalThis, name, { configurable: true, get() { looked.push(name); return desc.get ? desc.get.call(globalThis) : desc.value; } });
  try {
    const model = await load(path.join(root, 'models/fashion-mnist.dyce'));
    await model.classify({ data: new Uint8Array(784).fill(90), width: 28, height: 28, channels: 1 });
    await model.dispose();
  } finally {
    for (const [name, desc] of saved) Object.defineProperty(globalThis, name, desc);
  }
  assert.deepEqual(looked, []);
});
