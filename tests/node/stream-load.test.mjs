// A downloaded package lands in the engine's memory while it arrives
// (wasm/io.mjs, streamBody): every chunk copied in order, the block freed
// on every failure, and the old path (bytes in JavaScript) wherever the
// answer's length is unknown or wrong. Then load() over HTTP end to end.
// A local file (Node) is read straight into the engine's memory.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import http from 'node:http';
import { test } from 'node:test';

import { Engine } from '../../wasm/engine.mjs';
import { readBytes, streamBody } from '../../wasm/io.mjs';
import { load } from '../../wasm/node.mjs';

const file = new URL('../../models/fashion-mnist.dyce', import.meta.url);
const pkg = new Uint8Array(fs.readFileSync(file));

/** A heap over a JavaScript buffer, counting what is live, as Engine.heap() is shaped. */
function fakeHeap({ failAlloc = false } = {}) {
  const memory = new Uint8Array(1 << 16);
  const live = new Map();
  let top = 16;
  return {
    live,
    alloc(n) {
      if (failAlloc || top + n > memory.length) return 0;
      const p = top;
      top += n;
      live.set(p, n);
      return p;
    },
    free(p) {
      assert.ok(live.delete(p), `free of ${p}, not allocated`);
    },
    bytes: () => memory,
  };
}

/** A Response whose body comes in `chunks`, one per task; `ready()` is called before each chunk is handed over. */
function response(chunks, headers = {}, { fail = false, before = () => {} } = {}) {
  let i = 0;
  const body = new ReadableStream({
    async pull(controller) {
      await new Promise((resolve) => setTimeout(resolve, 1));
      before(i);
      if (i < chunks.length) controller.enqueue(chunks[i++]);
      else if (fail) controller.error(new Error('connection reset'));
      else controller.close();
    },
  });
  return new Response(body, { headers });
}

const data = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) & 255);
const pieces = [data.subarray(0, 1000), data.subarray(1000, 1700), data.subarray(1700)];
const sized = (n) => ({ 'content-length': String(n), 'content-type': 'application/octet-stream' });
const read = (r, heap) => streamBody(r, 'model package', 'http://x/m.dyce', 'http://x/m.dyce', heap);
const inHeap = (heap, got) => heap.bytes().slice(got.ptr, got.ptr + got.length);

test('a body of the announced length lands in the heap, in order, whenever the heap arrives', async () => {
  // The heap ready before the first chunk, then only after some chunks came.
  for (const late of [-1, 0, 1]) {
    const heap = fakeHeap();
    let release;
    const ready = late < 0 ? Promise.resolve(heap) : new Promise((resolve) => { release = () => resolve(heap); });
    const got = await read(response(pieces, sized(data.length), { before: (i) => { if (i === late + 1) release?.(); } }), ready);
    assert.equal(got.length, data.length, `late ${late}`);
    assert.deepEqual(inHeap(heap, got), data, `late ${late}`);
    assert.deepEqual([...heap.live.keys()], [got.ptr], 'the caller owns the block, nothing else is live');
  }
});

test('without a usable length, a heap or memory, the bytes come back as before', async () => {
  const cases = {
    'no content-length': [{ 'content-type': 'application/octet-stream' }, {}],
    'compressed': [{ ...sized(100), 'content-encoding': 'gzip' }, {}],
    'longer than announced': [sized(data.length - 500), {}],
    'shorter than announced': [sized(data.length + 500), {}],
    'no memory': [sized(data.length), { failAlloc: true }],
  };
  for (const [name, [headers, options]] of Object.entries(cases)) {
    const heap = fakeHeap(options);
    const got = await read(response(pieces, headers), Promise.resolve(heap));
    assert.ok(got instanceof Uint8Array, name);
    assert.deepEqual(got, data, name);
    assert.equal(heap.live.size, 0, `${name}: the block is freed`);
  }
  // No engine at all (it failed to start): the bytes, no unhandled rejection.
  const failed = Promise.reject(new Error('no engine'));
  assert.deepEqual(await read(response(pieces, sized(data.length)), failed), data);
  // A heap that never comes: the bytes.
  assert.deepEqual(await read(response(pieces, sized(data.length)), new Promise(() => {})), data);
});

test('a broken download or an HTML page is refused and frees the block', async () => {
  const heap = fakeHeap();
  await assert.rejects(read(response(pieces, sized(data.length + 10), { fail: true }), Promise.resolve(heap)),
    (e) => e.code === 'DYCE_FETCH_FAILED' && /connection reset/.test(e.message) && e.url === 'http://x/m.dyce');
  assert.equal(heap.live.size, 0);
  const page = new TextEncoder().encode('<!doctype html><html><body>app</body></html>');
  await assert.rejects(read(response([page], { 'content-length': String(page.length), 'content-type': 'text/html' }), Promise.resolve(heap)),
    (e) => e.code === 'DYCE_FETCH_FAILED' && /an HTML page/.test(e.message));
  assert.equal(heap.live.size, 0);
});

/** /slow.dyce: the package in two halves 60 ms apart, its length announced; /short.dyce announces more than it sends. */
async function serve() {
  const server = http.createServer((req, res) => {
    if (req.url === '/slow.dyce') {
      res.writeHead(200, sized(pkg.length));
      res.write(pkg.subarray(0, pkg.length >> 1));
      setTimeout(() => res.end(pkg.subarray(pkg.length >> 1)), 60);
    } else if (req.url === '/chunked.dyce') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // no length: chunked
      res.write(pkg.subarray(0, 1000));
      res.end(pkg.subarray(1000));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${server.address().port}` };
}

/** Records how load() hands packages to the engine: as JavaScript bytes (loadModel) or already in its memory (loadModelAt). */
function spyLoads() {
  const { loadModel, loadModelAt, heap } = Engine.prototype;
  const seen = { calls: [] };
  let heapAsked, nested = false;
  seen.heapAsked = new Promise((resolve) => { heapAsked = resolve; });
  Engine.prototype.loadModel = function (bytes) {
    seen.calls.push(`bytes ${bytes.length}`);
    nested = true; // its own loadModelAt is not a second load
    try {
      return loadModel.call(this, bytes);
    } finally {
      nested = false;
    }
  };
  Engine.prototype.loadModelAt = function (ptr, length) {
    if (!nested) seen.calls.push(`in place ${length}`);
    return loadModelAt.call(this, ptr, length);
  };
  Engine.prototype.heap = function () {
    heapAsked();
    return heap.call(this);
  };
  seen.restore = () => Object.assign(Engine.prototype, { loadModel, loadModelAt, heap });
  return seen;
}

const image = { data: Uint8Array.from({ length: 784 }, (_, i) => (i * 37) & 255), width: 28, height: 28, channels: 1 };

test('a package whose rest arrives after the engine is ready is loaded where it landed', async () => {
  const reference = await load(pkg, { threads: 1 });
  const want = await reference.classify(image);
  reference.dispose();
  const seen = spyLoads();
  try {
    const half = pkg.length >> 1, halves = [pkg.subarray(0, half), pkg.subarray(half)];
    // The second half waits for the engine (a state, not a time): it is
    // then copied into wasm memory as it comes, the first half before it.
    const gated = new ReadableStream({
      async pull(controller) {
        if (!halves.length) return controller.close();
        if (halves.length === 1) {
          await seen.heapAsked;
          await new Promise((resolve) => setTimeout(resolve, 0));
        }
        controller.enqueue(halves.shift());
      },
    });
    const model = await load(new Response(gated, { headers: sized(pkg.length) }), { threads: 1 });
    try {
      // (A tiny warm-up package may be loaded from bytes while the package downloads.)
      assert.deepEqual(seen.calls.filter((c) => c.endsWith(` ${pkg.length}`)), [`in place ${pkg.length}`], seen.calls.join(', '));
      const got = await model.classify(image);
      assert.deepEqual([got.label, got.score, got.exit], [want.label, want.score, want.exit]);
    } finally {
      model.dispose();
    }
  } finally {
    seen.restore();
  }
});

test('load() over HTTP answers as load() of the file, streamed or not', async () => {
  const { server, base } = await serve();
  const reference = await load(file.pathname, { threads: 1 });
  try {
    const want = await reference.classify(image);
    for (const source of [`${base}/slow.dyce`, `${base}/chunked.dyce`, await fetch(`${base}/slow.dyce`)]) {
      const model = await load(source, { threads: 1 });
      try {
        const got = await model.classify(image);
        assert.deepEqual([got.label, got.score, got.exit], [want.label, want.score, want.exit], String(source.url ?? source));
        assert.equal(model.configs.length, reference.configs.length);
      } finally {
        model.dispose();
      }
    }
  } finally {
    reference.dispose();
    server.close();
  }
});

test('a local file is read straight into the heap, or as bytes where the heap cannot take it', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-local-'));
  try {
    const at = path.join(dir, 'm.dyce');
    fs.writeFileSync(at, data);
    for (const source of [at, new URL(`file://${at}`), `file://${at}`]) {
      const heap = fakeHeap();
      const got = await readBytes(source, 'model package', Promise.resolve(heap));
      assert.equal(got.length, data.length, String(source));
      assert.deepEqual(inHeap(heap, got), data);
      assert.deepEqual([...heap.live.keys()], [got.ptr]); // the caller owns the block
    }
    // No memory, or no engine: the file's bytes, as before.
    const noEngine = Promise.reject(new Error('no engine'));
    noEngine.catch(() => {}); // as load() does: the engine's failure is reported elsewhere
    for (const heap of [Promise.resolve(fakeHeap({ failAlloc: true })), noEngine]) {
      const got = await readBytes(at, 'model package', heap);
      assert.ok(got instanceof Uint8Array);
      assert.deepEqual(got, data);
    }
    // A missing file, and a folder (open succeeds, read fails): errors naming it, the block freed.
    const heap = fakeHeap();
    await assert.rejects(readBytes(path.join(dir, 'none.dyce'), 'model package', Promise.resolve(heap)),
      (e) => e.code === 'DYCE_NOT_FOUND' && e.url.endsWith('none.dyce'));
    await assert.rejects(readBytes(dir, 'model package', Promise.resolve(heap)),
      (e) => e.code === 'DYCE_FETCH_FAILED' && e.url === dir && /EISDIR/.test(e.message));
    assert.equal(heap.live.size, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('load() of a path loads the package where it was read', async () => {
  const seen = spyLoads();
  try {
    const model = await load(file.pathname, { threads: 1 });
    try {
      assert.deepEqual(seen.calls, [`in place ${pkg.length}`]);
      const reference = await load(pkg, { threads: 1 });
      const [got, want] = [await model.classify(image), await reference.classify(image)];
      reference.dispose();
      assert.deepEqual([got.label, got.score, got.exit], [want.label, want.score, want.exit]);
    } finally {
      model.dispose();
    }
  } finally {
    seen.restore();
  }
});
