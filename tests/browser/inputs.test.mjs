// What a web page hands dyce, in Chromium, on the main thread (dyce's
// modules) and in the Worker (dyce/worker): packages from a Blob, a File
// and a fetch Response; pictures as an encoded Blob or File, an <img> that
// is still loading, one whose width attribute is not its natural size;
// and the clear errors for a broken image, an undecodable Blob, a 0×0
// canvas and a cross-origin (tainted) image; a transparent picture answers
// the same after any other; a picture changed right after the call answers
// as it was. Calls in flight keep their
// order; dispose twice at once is fine. The page is a blank one on the
// server's origin (not isolated, so that an image of another origin loads
// at all and only taints; that origin is played by Playwright's routing,
// as Chromium keeps pages from reaching a second loopback server);
// pictures are Fashion-MNIST test images encoded to PNG in the page.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'node:test';

import { chromium } from 'playwright-core';

import { startServer } from '../../scripts/serve.mjs';
import { root } from './harness.mjs';
import { readTestSet } from '../node/fmnist.mjs';

const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const INDICES = [0, 1, 2, 3];
const set = readTestSet();
const images = INDICES.map((i) => Array.from(set.pixels.subarray(i * 784, (i + 1) * 784)));

const FOREIGN = 'http://images.example/demo.png';
let context, page, server, origin, profile;

test.before(async () => {
  let url;
  ({ server, url } = await startServer({ port: 0, isolated: false }));
  origin = new URL(url).origin;
  profile = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-chromium-'));
  context = await chromium.launchPersistentContext(profile, { executablePath: '/usr/bin/chromium', headless: true, args: FLAGS });
  page = context.pages()[0] ?? await context.newPage();
  await page.route(`${origin}/blank.html`, (r) => r.fulfill({ contentType: 'text/html', body: '<!doctype html><title>dyce inputs</title>' }));
  await page.route(FOREIGN, (r) => r.fulfill({ contentType: 'image/png', body: fs.readFileSync(path.join(root, 'docs/demo.png')) }));
  await page.goto(`${origin}/blank.html`);
  // Helpers in the page: PNG Blobs of the test images, errors as plain data.
  await page.evaluate(async (pixels) => {
    const canvasOf = (gray, scale = 1) => {
      const c = new OffscreenCanvas(28 * scale, 28 * scale), ctx = c.getContext('2d');
      const img = new ImageData(28, 28);
      gray.forEach((v, k) => img.data.set([v, v, v, 255], 4 * k));
      ctx.putImageData(img, 0, 0);
      if (scale > 1) {
        ctx.imageSmoothingEnabled = false;
        ctx.drawImage(c, 0, 0, 28, 28, 0, 0, 28 * scale, 28 * scale);
      }
      return { canvas: c, imageData: img };
    };
    window.t = {
      imageData: pixels.map((g) => canvasOf(g).imageData),
      png: await Promise.all(pixels.map((g) => canvasOf(g).canvas.convertToBlob({ type: 'image/png' }))),
      pngX2: await Promise.all(pixels.map((g) => canvasOf(g, 2).canvas.convertToBlob({ type: 'image/png' }))),
      brief: (r) => [r.index, r.exit, r.macs],
      error: (e) => ({ name: e?.name, code: e?.code, field: e?.field, url: e?.url, status: e?.status, message: e?.message }),
      main: await import('/wasm/index.mjs'),
      worker: await import('/wasm/worker-client.mjs'),
    };
    window.t.loadWith = (runner, source, options) => (runner === 'main' ? window.t.main.load : window.t.worker.loadInWorker)(source, options);
  }, images);
});

test.after(async () => {
  await context?.close();
  server?.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
});

for (const runner of ['main', 'worker']) {
  test(`${runner}: load takes a Blob, a File, a Response and wasmPaths without a slash; a 404 Response and a typo in the options are DyceErrors`, async () => {
    const out = await page.evaluate(async (runner) => {
      const { t } = window;
      const bytes = await (await fetch('/models/fashion-mnist.dyce')).arrayBuffer();
      const answers = [];
      for (const source of [bytes, new Blob([bytes]), new File([bytes], 'fashion-mnist.dyce'), await fetch('/models/fashion-mnist.dyce')]) {
        const m = await t.loadWith(runner, source);
        answers.push(t.brief(await m.classify(t.imageData[0], { config: 0 })));
        await m.dispose();
      }
      // A wasmPaths folder without its trailing slash, relative to the page.
      const m = await t.loadWith(runner, bytes, { wasmPaths: '/wasm/dist' });
      answers.push(t.brief(await m.classify(t.imageData[0], { config: 0 })));
      await m.dispose();
      const errors = [];
      for (const [source, options] of [[await fetch('/models/missing.dyce')], [bytes, { thread: 2 }], [new Blob(['not a package'])], ['/models/missing.dyce'],
        [bytes, { wasmUrl: 'wasm/dist/missing.wasm' }]])
        errors.push(await t.loadWith(runner, source, options).then(() => null, t.error));
      return { answers, errors };
    }, runner);
    for (const a of out.answers) assert.deepEqual(a, out.answers[0]);
    const [missing, typo, notPackage, missingByPath, missingWasm] = out.errors;
    assert.deepEqual([missing.code, missing.url, missing.status], ['DYCE_FETCH_FAILED', `${origin}/models/missing.dyce`, 404]);
    // A relative URL: the error names it as fetched, on the main thread as in the Worker.
    assert.deepEqual([missingByPath.code, missingByPath.url, missingByPath.status], ['DYCE_FETCH_FAILED', `${origin}/models/missing.dyce`, 404]);
    assert.deepEqual([missingWasm.code, missingWasm.url, missingWasm.status], ['DYCE_FETCH_FAILED', `${origin}/wasm/dist/missing.wasm`, 404], missingWasm.message);
    assert.deepEqual([typo.code, typo.field], ['DYCE_INVALID_ARGUMENT', 'thread'], typo.message);
    assert.match(typo.message, /did you mean 'threads'/);
    assert.deepEqual([notPackage.code, notPackage.field], ['DYCE_BAD_FORMAT', 'source']);
  });

  test(`${runner}: an encoded Blob or File, an <img> still loading and one sized by attributes answer as its pixels do`, async () => {
    const out = await page.evaluate(async (runner) => {
      const { t } = window;
      const m = await t.loadWith(runner, '/models/fashion-mnist.dyce', { config: 0 });
      const rows = [];
      for (let i = 0; i < t.imageData.length; i++) {
        const img = new Image();
        img.src = URL.createObjectURL(t.png[i]); // not awaited: classify waits for it
        const sized = new Image(10, 7); // width/height attributes, not its natural 56×56
        sized.src = URL.createObjectURL(t.pngX2[i]);
        await sized.decode();
        // Lazy ones the browser would not fetch yet: one not in the page,
        // one in it far below the fold; and one with only a srcset.
        const lazy = new Image();
        lazy.loading = 'lazy';
        lazy.src = URL.createObjectURL(t.png[i]);
        const below = new Image();
        below.loading = 'lazy';
        below.style.marginTop = '20000px';
        document.body.append(below);
        below.src = URL.createObjectURL(t.png[i]);
        const srcset = new Image();
        srcset.srcset = `${URL.createObjectURL(t.png[i])} 1x`;
        const inputs = [t.imageData[i], t.png[i], new File([t.png[i]], `${i}.png`, { type: 'image/png' }), img, sized, lazy, below, srcset];
        // A hang fails the test in seconds, not at the runner's timeout.
        const answer = (x) => Promise.race([m.classify(x).then(t.brief, (e) => t.error(e).message),
          new Promise((resolve) => setTimeout(() => resolve('no answer in 20 s'), 20_000))]);
        rows.push(await Promise.all(inputs.map(answer)));
        below.remove();
      }
      await m.dispose();
      return rows;
    }, runner);
    for (const [i, [want, ...got]] of out.entries())
      for (const [k, g] of got.entries()) assert.deepEqual(g, want, `image ${INDICES[i]}, input ${['Blob', 'File', 'loading <img>', 'sized <img>', 'lazy <img> not in the page', 'lazy <img> below the fold', 'srcset-only <img>'][k]}`);
  });

  test(`${runner}: a picture with transparent parts answers the same whatever was classified before`, async () => {
    const out = await page.evaluate(async (runner) => {
      const { t } = window;
      const m = await t.loadWith(runner, '/models/fashion-mnist.dyce', { config: 0 });
      // Transparent everywhere, and a translucent white square on transparency.
      const blank = () => new OffscreenCanvas(28, 28);
      const veiled = () => {
        const c = new OffscreenCanvas(28, 28), ctx = c.getContext('2d');
        ctx.fillStyle = 'rgba(255, 255, 255, 0.5)';
        ctx.fillRect(6, 6, 16, 16);
        return c;
      };
      const fresh = [await m.classify(blank()), await m.classify(veiled())].map(t.brief);
      const after = [];
      for (const picture of t.png) {
        await m.classify(picture); // an opaque picture, drawn on the same scratch canvas
        after.push([await m.classify(blank()), await m.classify(veiled())].map(t.brief));
      }
      await m.dispose();
      return { fresh, after };
    }, runner);
    for (const [i, got] of out.after.entries())
      assert.deepEqual(got, out.fresh, `after image ${INDICES[i]}`);
  });

  test(`${runner}: a picture the page changes right after classify() answers as it was at the call, also behind a call still decoding`, async () => {
    const out = await page.evaluate(async (runner) => {
      const { t } = window;
      const m = await t.loadWith(runner, '/models/fashion-mnist.dyce', { config: 0 });
      const want = t.brief(await m.classify(t.imageData[0]));
      const rows = [];
      for (const behind of [false, true]) {
        // A Blob still decoding holds the later calls back (main thread),
        // or they wait for the calls posted before them (Worker).
        const before = behind ? m.classify(t.png[3]) : null;
        const canvas = document.createElement('canvas');
        canvas.width = canvas.height = 28;
        const ctx = canvas.getContext('2d');
        ctx.putImageData(t.imageData[0], 0, 0);
        const fromCanvas = m.classify(canvas);
        ctx.putImageData(t.imageData[1], 0, 0);
        const gray = t.imageData[0].data.filter((_, i) => i % 4 === 0);
        const fromBytes = m.classify({ data: gray, width: 28, height: 28, channels: 1 });
        gray.set(t.imageData[1].data.filter((_, i) => i % 4 === 0));
        const image = new ImageData(new Uint8ClampedArray(t.imageData[0].data), 28, 28);
        const fromImageData = m.classify(image);
        image.data.set(t.imageData[1].data);
        await before;
        rows.push((await Promise.all([fromCanvas, fromBytes, fromImageData])).map(t.brief));
      }
      const other = t.brief(await m.classify(t.imageData[1]));
      await m.dispose();
      return { want, other, rows };
    }, runner);
    assert.notDeepEqual(out.other, out.want, 'images 0 and 1 answer differently');
    for (const [r, row] of out.rows.entries())
      for (const [k, got] of row.entries())
        assert.deepEqual(got, out.want, `${['canvas', 'bytes', 'ImageData'][k]}${r ? ', behind a decoding call' : ''}`);
  });

  test(`${runner}: a closed VideoFrame or ImageBitmap is a DyceError that says it was closed`, async () => {
    const out = await page.evaluate(async (runner) => {
      const { t } = window;
      const m = await t.loadWith(runner, '/models/fashion-mnist.dyce', { config: 0 });
      const frame = new VideoFrame(await createImageBitmap(t.imageData[0]), { timestamp: 0 });
      const bitmap = await createImageBitmap(t.imageData[0]);
      frame.close();
      bitmap.close();
      const errors = [];
      for (const x of [frame, bitmap]) errors.push(await m.classify(x).then(() => null, t.error));
      await m.dispose();
      return errors;
    }, runner);
    // The same error on both runners (the Worker's said DYCE_BAD_INPUT, "cannot copy").
    for (const [k, e] of out.entries()) {
      assert.equal(e?.code, 'DYCE_INVALID_ARGUMENT', JSON.stringify(e));
      assert.match(e.message, k ? /no pixels \(0×0\); was the bitmap closed\?/ : /no pixels \(0×0\); was the frame closed\?/, e.message);
    }
  });

  if (runner === 'worker') {
    test('worker: terminate(reason) rejects every pending call with the reason, also one still preparing its picture', async () => {
      const out = await page.evaluate(async () => {
        const { t } = window;
        const m = await t.loadWith('worker', '/models/fashion-mnist.dyce');
        const img = new Image();
        img.src = URL.createObjectURL(t.png[0]); // still preparing (decoding, then a bitmap) when terminated
        const calls = [m.classify(t.imageData[0]), m.classify(img)];
        m.terminate(new Error('page is leaving'));
        const settled = await Promise.all(calls.map((c) => c.then(() => 'answered', (e) => e.message)));
        const after = await m.classify(t.imageData[0]).then(() => 'answered', (e) => e.message);
        return { settled, after };
      });
      assert.deepEqual(out.settled, ['page is leaving', 'page is leaving']);
      assert.equal(out.after, 'page is leaving');
    });
  }

  test(`${runner}: a broken image, an undecodable Blob, a 0×0 canvas, a cross-origin image and an ImageData whose pixels were transferred away are clear DyceErrors`, async () => {
    const out = await page.evaluate(async ({ runner, foreignUrl }) => {
      const { t } = window;
      const m = await t.loadWith(runner, '/models/fashion-mnist.dyce');
      const broken = new Image();
      broken.src = '/models/nothing.png';
      const foreign = new Image();
      foreign.src = foreignUrl;
      await foreign.decode(); // loads (no CORP needed: the page is not isolated), but taints
      // An ImageData whose pixels were transferred to another thread.
      const detached = new ImageData(28, 28);
      structuredClone(detached.data.buffer, { transfer: [detached.data.buffer] });
      const cases = { broken, garbage: new Blob([new Uint8Array(64).fill(7)], { type: 'image/png' }), empty: document.createElement('canvas'),
        noSrc: new Image(), foreign, detached, div: document.createElement('div'), response: new Response('x') };
      cases.empty.width = 0;
      const errors = {};
      for (const [name, input] of Object.entries(cases)) errors[name] = await m.classify(input).then(() => null, t.error);
      // The model is still usable after all of these.
      const after = t.brief(await m.classify(t.png[0]));
      await m.dispose();
      return { errors, after };
    }, { runner, foreignUrl: FOREIGN });
    const { broken, garbage, empty, noSrc, foreign, detached, div, response } = out.errors;
    // What no path takes is said alike on both runners (the Worker's was postMessage's DataCloneError).
    for (const [e, kind] of [[div, 'HTMLDivElement'], [response, 'Response']]) {
      assert.deepEqual([e.code, e.field], ['DYCE_INVALID_ARGUMENT', 'input'], e.message);
      assert.match(e.message, new RegExp(`^cannot classify ${kind}: pass ImageData`));
    }
    assert.deepEqual([detached.code, detached.field], ['DYCE_INVALID_ARGUMENT', 'input.data'], detached.message);
    assert.match(detached.message, /has 0 bytes/);
    assert.deepEqual([broken.code, broken.field, broken.url], ['DYCE_BAD_INPUT', 'input', `${origin}/models/nothing.png`], broken.message);
    assert.deepEqual([garbage.code, garbage.field], ['DYCE_BAD_INPUT', 'input'], garbage.message);
    assert.match(garbage.message, /Blob \(image\/png, 64 bytes\)/);
    assert.deepEqual([empty.code, empty.field], ['DYCE_INVALID_ARGUMENT', 'input'], empty.message);
    assert.match(empty.message, /no pixels \(0×150\)/);
    assert.deepEqual([noSrc.code, noSrc.field], ['DYCE_INVALID_ARGUMENT', 'input'], noSrc.message);
    assert.deepEqual([foreign.code, foreign.field, foreign.url], ['DYCE_CROSS_ORIGIN', 'input', FOREIGN], foreign.message);
    assert.match(foreign.message, /crossOrigin = 'anonymous'/);
    assert.equal(out.after.length, 3);
  });

  test(`${runner}: calls in flight keep their order; dispose twice at once; calls after it are DYCE_BAD_STATE`, async () => {
    const out = await page.evaluate(async (runner) => {
      const { t } = window;
      const m = await t.loadWith(runner, '/models/fashion-mnist.dyce');
      const names = m.configs.map((c) => c.name);
      await m.setConfig(names[0]);
      const first = m.classify(t.png[1]); // decodes first
      const switched = m.setConfig(names.at(-1));
      const second = m.classify(t.imageData[1]);
      const configs = [(await first).config, await switched, (await second).config, m.config];
      const both = await Promise.all([m.classify(t.png[2]), m.classify(t.png[3])]);
      const disposing = [m.dispose(), m.dispose()];
      const flag = m.disposed; // true at once, as documented (the Worker's said false until its reply)
      const disposed = await Promise.all(disposing).then(() => 'ok', t.error);
      const after = await m.classify(t.imageData[0]).then(() => null, t.error);
      return { names, configs, both: both.map(t.brief), disposed, after, flag };
    }, runner);
    assert.equal(out.flag, true, 'model.disposed right after dispose()');
    assert.deepEqual(out.configs, [out.names[0], undefined, out.names.at(-1), out.names.at(-1)]);
    assert.equal(out.both.length, 2);
    assert.equal(out.disposed, 'ok');
    assert.equal(out.after.code, 'DYCE_BAD_STATE');
  });
}

test('worker: pixels or a tensor cut from a larger buffer (subarray) post only themselves, and answer as a copy does', async () => {
  const out = await page.evaluate(async () => {
    const { t } = window;
    const sizes = []; // byte lengths of the buffers behind the typed arrays each classify posts
    const post = Worker.prototype.postMessage;
    const buffers = (x, depth = 0) => (ArrayBuffer.isView(x) ? [x.buffer.byteLength]
      : x && typeof x === 'object' && depth < 4 ? Object.values(x).flatMap((v) => buffers(v, depth + 1)) : []);
    Worker.prototype.postMessage = function (message, ...rest) {
      sizes.push(...buffers(message));
      return post.call(this, message, ...rest);
    };
    try {
      const m = await t.worker.loadInWorker('/models/fashion-mnist.dyce');
      const gray = t.imageData[1].data.filter((_, i) => i % 4 === 0);
      const big = new Uint8Array(8 << 20);
      big.set(gray, 4096);
      const tensor = new Float32Array(1 << 20);
      tensor.set(Float32Array.from(gray, (v) => (v * m.input.pixelScale - m.input.mean[0]) / m.input.std[0]), 1000);
      sizes.length = 0;
      const cut = await m.classify({ data: big.subarray(4096, 4096 + 784), width: 28, height: 28, channels: 1 });
      const cutTensor = await m.classify({ tensor: tensor.subarray(1000, 1784), layout: 'nchw', normalized: true });
      const posted = [...sizes];
      const copy = await m.classify({ data: gray, width: 28, height: 28, channels: 1 });
      await m.dispose();
      return { posted, answers: [cut, cutTensor, copy].map((r) => [r.label, r.score, r.exit]) };
    } finally {
      Worker.prototype.postMessage = post;
    }
  });
  assert.deepEqual(out.posted, [784, 784 * 4], 'each call posts its own pixels, not the 8 MB / 4 MB buffers they were cut from');
  assert.deepEqual(out.answers[0], out.answers[2]);
  assert.equal(out.answers[1][0], out.answers[2][0]);
});
