// The user-facing API (wasm/index.mjs) under Node, on the Fashion-MNIST
// package: loading from every kind of source, configurations, pictures
// and tensors giving the engine's own answers, preprocessing (crop, resize,
// grayscale, invert), anytime budgets, errors with codes that leave the
// model usable, dispose, and a wasm heap left as it was found.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import { pathToFileURL } from 'node:url';

import { createEngine } from '../../wasm/engine.mjs';
import { DyceError, load } from '../../wasm/index.mjs';
import { centerCrop, pixelsToTensor, resizePixels } from '../../wasm/pixels.mjs';
import { readTestSet, sampleTensor } from './fmnist.mjs';
import { root, runCli, tempDir } from './harness.mjs';

/** A package with configurations: the shipped one, else the smoke one (searched here if need be). */
async function packageWithConfigs() {
  const smoke = path.join(root, 'build/fmnist-smoke/fashion-mnist');
  for (const candidate of [path.join(root, 'models/fashion-mnist.dyce'), `${smoke}-configs.dyce`]) {
    if (!fs.existsSync(candidate)) continue;
    const m = await load(candidate);
    const configs = m.configs.length;
    await m.dispose();
    if (configs) return candidate;
  }
  const out = path.join(tempDir(), 'fashion-mnist-configs.dyce');
  const r = runCli('native', ['search', `${smoke}.dyce`, '--records', `${smoke}.records`, '--lambda-step', '0.01', '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const file = await packageWithConfigs();
const bytes = fs.readFileSync(file);
const set = readTestSet();
const model = await load(bytes);
test.after(() => model.dispose());

/** Test image i as ImageData-like RGBA, `scale` times larger (each pixel a scale×scale block). */
function picture(i, scale = 1) {
  const w = set.w * scale, h = set.h * scale, data = new Uint8ClampedArray(w * h * 4);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const v = set.pixels[i * set.w * set.h + Math.floor(y / scale) * set.w + Math.floor(x / scale)], o = (y * w + x) * 4;
      data[o] = data[o + 1] = data[o + 2] = v;
      data[o + 3] = 255;
    }
  }
  return { width: w, height: h, data };
}

async function rejects(promise, code, pattern) {
  await assert.rejects(promise, (e) => {
    assert.ok(e instanceof DyceError, `a DyceError, got ${e}`);
    assert.equal(e.code, code, e.message);
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

test('load takes bytes, an ArrayBuffer, a path and a file URL (a URL object or a string)', async () => {
  const fromBuffer = await load(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const fromPath = await load(file);
  const fromUrl = await load(pathToFileURL(file));
  const fromUrlString = await load(pathToFileURL(file).href);
  for (const m of [fromBuffer, fromPath, fromUrl, fromUrlString]) {
    assert.deepEqual(m.configs, model.configs);
    assert.deepEqual(m.labels, model.labels);
    await m.dispose();
  }
  assert.deepEqual(model.input, { height: 28, width: 28, channels: 1, ...model.input });
  assert.equal(model.labels.length, 10);
  assert.match(model.variant, /^(relaxed|simd|nosimd)$/);
});

test('load refuses what is not a package, with a code and the engine\'s message', async () => {
  await rejects(load(bytes.subarray(0, 100)), 'DYCE_BAD_FORMAT', /truncated|bytes/);
  await rejects(load(new Uint8Array(0)), 'DYCE_BAD_FORMAT');
  await rejects(load(path.join(root, 'no/such/model.dyce')), 'DYCE_NOT_FOUND', /no\/such\/model\.dyce/);
  await rejects(load(42), 'DYCE_INVALID_ARGUMENT', /bytes .* or a URL/);
  await rejects(load(bytes, { config: 'no-such-config' }), 'DYCE_NOT_FOUND', /no configuration "no-such-config"/);
});

test('configs carry what the search measured; the default is the most accurate', () => {
  assert.ok(model.configs.length >= 2);
  const measured = model.configs.filter((c) => c.accuracy !== null);
  assert.ok(measured.length >= 1);
  for (const c of model.configs) {
    assert.ok(Object.isFrozen(c));
    assert.ok(c.maxMacs > 0 && c.maxMacs <= model.backboneMacs + 5e6);
    if (c.meanMacs !== null) assert.ok(c.meanMacs <= c.maxMacs + 1);
  }
  const backbone = model.configs.find((c) => c.name === 'backbone');
  assert.equal(backbone.accuracy, null, 'the search does not measure the backbone entry');
  assert.equal(backbone.maxMacs, model.backboneMacs);
  const best = measured.reduce((a, c) => (c.accuracy > a.accuracy ? c : a));
  assert.equal(model.config, best.name);
});

test('classify gives the engine\'s answers, from a tensor and from a picture', async () => {
  const engine = await createEngine({ variant: model.variant });
  const low = engine.loadModel(bytes);
  try {
    assert.throws(() => low.classify(sampleTensor(set, 0, low.inputSpec), { layout: 'nwhc' }),
      (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === 'layout' && /unknown layout "nwhc": 'nchw' or 'nhwc'/.test(e.message));
    for (const config of model.configs) {
      low.useConfig(config.index);
      for (let i = 0; i < 40; i++) {
        const want = low.classify(sampleTensor(set, i, low.inputSpec));
        const fromTensor = await model.classify({ tensor: sampleTensor(set, i, low.inputSpec), layout: 'nchw', normalized: true }, { config: config.name });
        const fromPicture = await model.classify(picture(i), { config: config.index });
        for (const got of [fromTensor, fromPicture]) {
          assert.deepEqual([got.index, got.label, got.exit, got.position, got.macs, got.budgetExhausted],
            [want.index, want.label, want.exit, want.position, want.macs, want.budgetExhausted], `${config.name} sample ${i}`);
          assert.ok(Math.abs(got.score - want.score) < 1e-5);
          assert.equal(got.config, config.name);
          assert.ok(got.ms >= 0);
        }
      }
    }
  } finally {
    low.free();
  }
});

test('dyce/engine refuses what load() and classify() refuse: a misspelt option, a budget that is not a number, a graph or configuration index that is not one of the package\'s', async () => {
  const code = (fn) => { try { fn(); } catch (e) { return [e.code, e.field, e.message]; } return null; };
  await assert.rejects(createEngine({ thread: 1 }), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === 'thread' && /did you mean 'threads'/.test(e.message));
  const engine = await createEngine({ variant: model.variant, threads: 1 });
  const low = engine.loadModel(bytes);
  try {
    const x = sampleTensor(set, 0, low.inputSpec);
    assert.match(code(() => low.classify(x, { layot: 'nhwc' }))?.[2] ?? '', /classify\(\) has no option 'layot' \(did you mean 'layout'\?\)/);
    for (const [field, v] of [['deadlineMs', '5'], ['macBudget', NaN], ['macBudget', -1]])
      assert.deepEqual(code(() => low.classify(x, { [field]: v }))?.slice(0, 2), ['DYCE_INVALID_ARGUMENT', field], `${field} ${v}`);
    for (const g of [-1, 1.5, low.graphs.length]) {
      const [c, field, message] = code(() => low.output(g)) ?? [];
      assert.deepEqual([c, field], ['DYCE_NOT_FOUND', 'graph'], String(g));
      assert.match(message, new RegExp(`^no graph ${g}: the package's are 0 to ${low.graphs.length - 1}$`)); // (it said "graph 4294967295")
      assert.equal(code(() => low.run(x, { graph: g }))?.[0], 'DYCE_NOT_FOUND');
    }
    assert.equal(code(() => low.run(x, { grpah: 0 }))?.[1], 'grpah');
    assert.equal(code(() => low.useConfig(1.5))?.[0], 'DYCE_NOT_FOUND');
    assert.equal(low.classify(x, { macBudget: 0 }).index, low.classify(x).index, 'still usable');
  } finally {
    low.free();
  }
});

test('top lists the most probable classes of the classifier that answered', async () => {
  const r = await model.classify(picture(3), { topK: 5 });
  assert.equal(r.top.length, 5);
  assert.equal(r.top[0].index, r.index);
  assert.equal(r.top[0].label, r.label);
  assert.equal(r.top[0].score, r.score); // the same number, not two roundings of it
  for (let k = 1; k < 5; k++) assert.ok(r.top[k].score <= r.top[k - 1].score);
  assert.equal((await model.classify(picture(3))).top.length, 3);
  // Every class, in the order of a full sort of the softmax of the answering graph's logits.
  const all = await model.classify(picture(3), { topK: 100 });
  const logits = model.low.output(all.exit), max = Math.max(...logits);
  const e = Array.from(logits, (v) => Math.exp(v - max)), sum = e.reduce((a, b) => a + b, 0);
  const sorted = e.map((v, index) => ({ index, score: v / sum })).sort((a, b) => b.score - a.score);
  assert.deepEqual(all.top.map((t) => t.index), sorted.map((t) => t.index));
  for (const [i, t] of all.top.entries()) assert.ok(Math.abs(t.score - sorted[i].score) < 1e-6);
  assert.deepEqual((await model.classify(picture(3), { topK: 0 })).top, []);
});

test('preprocessing: center crop, box-filter resize, grayscale, invert', async () => {
  assert.deepEqual(centerCrop(640, 480, 28, 28), { x: 80, y: 0, w: 480, h: 480 });
  assert.deepEqual(centerCrop(28, 56, 28, 28), { x: 0, y: 14, w: 28, h: 28 });
  // Each pixel blown up 3×3 comes back (to float rounding: the values are
  // unrounded, rounded once later, after luma; the weights 1/3 as in C).
  const near = (got, want) => Array.from(got).every((v, i) => Math.abs(v - want[i]) < 1e-9);
  assert.ok(near(resizePixels(picture(7, 3), 28, 28, 4), picture(7).data));
  // A taller picture with bands above and below: the crop drops them.
  const tall = picture(7, 2), padded = { width: 56, height: 84, data: new Uint8ClampedArray(56 * 84 * 4).fill(255) };
  padded.data.set(tall.data, 56 * 14 * 4);
  assert.ok(near(resizePixels(padded, 28, 28, 4), picture(7).data));
  const a = await model.classify(picture(7)), b = await model.classify(padded);
  assert.deepEqual([b.index, b.exit, b.macs], [a.index, a.exit, a.macs]);
  // Grayscale: luma of colour rounded half to even to a byte, as the build
  // and the C preprocessing hold it (red 76.245 -> 76, blue 29.07 -> 29);
  // the spec's normalisation.
  const spec = { pixelScale: 1 / 255, mean: [0.5], std: [0.25] };
  const x = pixelsToTensor(new Uint8ClampedArray([255, 0, 0, 255, 0, 0, 255, 255]), 2, 1, 1, spec);
  assert.ok(Math.abs(x[0] - (76 / 255 - 0.5) / 0.25) < 1e-6 && Math.abs(x[1] - (29 / 255 - 0.5) / 0.25) < 1e-6, `${x}`);
  const inverted = pixelsToTensor(new Uint8ClampedArray([255, 255, 255, 255]), 1, 1, 1, spec, { invert: true });
  assert.ok(Math.abs(inverted[0] - (0 - 0.5) / 0.25) < 1e-6);
});

test('anytime: a MAC budget stops the cascade after its first answer', async () => {
  // Exit 1 on but never confident enough (threshold 1): only the budget stops the walk there.
  await model.setConfig({ exits: ['exit1_a'], thresholds: [1] });
  const full = await model.classify(picture(0));
  const exit1 = model.low.graphs.find((g) => g.name === 'exit1_a').macs;
  assert.deepEqual([full.exit, full.macs, full.budgetExhausted], ['head', model.backboneMacs + exit1, false]);
  const cut = await model.classify(picture(0), { macBudget: 5e6 });
  assert.deepEqual([cut.exit, cut.position, cut.budgetExhausted], ['exit1_a', 1, true]);
  assert.ok(cut.macs <= 5e6);
  await model.setConfig(model.defaultConfig);
});

test('setConfig: by name, by index, a custom table; unknown ones refused', async () => {
  await model.setConfig(0);
  assert.equal(model.config, model.configs[0].name);
  await model.setConfig('backbone');
  assert.equal(model.config, 'backbone');
  await model.setConfig({ exits: [null, 'exit2_a'], thresholds: [1, -1] });
  assert.equal(model.config, 'custom');
  const r = await model.classify(picture(1));
  assert.deepEqual([r.exit, r.position, r.config], ['exit2_a', 2, 'custom']);
  await rejects(model.setConfig('nope'), 'DYCE_NOT_FOUND', /no configuration "nope"/);
  await rejects(model.setConfig(model.configs.length), 'DYCE_NOT_FOUND');
  await rejects(model.setConfig({ exits: ['no_such_exit'] }), 'DYCE_NOT_FOUND', /no_such_exit/);
  // Each refusal of a custom table names the part that is wrong.
  for (const [table, field] of [[{ saver: 'nope' }, 'saver'], [{ exits: [null, 'nope'] }, 'exits[1]'],
    [{ thresholds: ['0.5'] }, 'thresholds[0]'], [{ saverThreshold: NaN }, 'saverThreshold'],
    [{ confidence: 'votes' }, 'confidence'], [{ level: 'w7' }, 'level'],
    // an exit without its threshold would never answer, yet cost its MACs
    [{ exits: ['exit1_a'] }, 'thresholds[0]'], [{ saver: 'saver0' }, 'saverThreshold'],
    // the engine's own refusals name the entry too: an exit at another position
    [{ exits: ['exit3_b'], thresholds: [0.5] }, 'exits[0]']])
    await assert.rejects(model.setConfig(table), (e) => e.field === field, `${JSON.stringify(table)}: field ${field}`);
  // A key the table does not have, arrays longer than the positions, a
  // level the package lacks: refused, never ignored.
  const positions = model.low.cascade.stageCount;
  for (const [table, field, message] of [[{ frob: 1 }, 'frob', /unknown configuration key 'frob'/],
    [{ exits: new Array(positions + 1).fill(null) }, 'exits', new RegExp(`${positions + 1} entries; the package has ${positions} exit positions`)],
    [{ thresholds: new Array(positions + 1).fill(0.5) }, 'thresholds', /entries/], [{ exits: 'exit1_a' }, 'exits', /must be an array/],
    [{ level: 3 }, 'level', /unknown width level 3/]])
    await assert.rejects(model.setConfig(table), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === field && message.test(e.message), JSON.stringify(table));
  // A shipped configuration's description, copied and changed, is a table.
  await model.setConfig({ ...model.configs[0], thresholds: model.configs[0].thresholds.map(() => 2) });
  assert.equal(model.config, 'custom');
  await rejects(model.setConfig(null), 'DYCE_INVALID_ARGUMENT');
  assert.equal(model.config, 'custom', 'a refused change leaves the configuration alone');
  // A classify refused for its input leaves the configuration as it was,
  // whether the picture or the engine refuses it (a custom table too).
  const custom = await model.classify(picture(1));
  const nan = { tensor: new Float32Array(784).fill(NaN), layout: 'nchw', normalized: true };
  for (const input of [{ data: new Uint8Array(3), width: 28, height: 28 }, new Float32Array(784), nan])
    await assert.rejects(model.classify(input, { config: model.configs[0].name }), DyceError);
  assert.equal(model.config, 'custom');
  const still = await model.classify(picture(1));
  assert.deepEqual([still.exit, still.score, still.config], [custom.exit, custom.score, 'custom']);
  await model.setConfig(model.defaultConfig);
  await assert.rejects(model.classify(nan, { config: 0 }), DyceError);
  assert.equal(model.config, model.configs[model.defaultConfig].name);
});

test('labels and the input spec cannot be changed under the model (a page sorting labels for a menu relabelled every answer)', async () => {
  const before = await model.classify(picture(3));
  assert.throws(() => model.labels.sort(), TypeError);
  assert.throws(() => { model.input.mean[0] = 0; }, TypeError);
  assert.throws(() => { model.input.width = 1; }, TypeError);
  assert.ok(Object.isFrozen(model.configs[0].exits));
  const after = await model.classify(picture(3));
  assert.deepEqual([after.label, after.score], [before.label, before.score]);
  // A thread count of the wrong type is shown as given (it read "not 1" for the string '1').
  await rejects(model.setThreads('1'), 'DYCE_INVALID_ARGUMENT', /not "1"/);
  await rejects(model.setThreads(2n), 'DYCE_INVALID_ARGUMENT', /not 2n/);
});

test('wrong inputs are refused with a code, and the model stays usable', async () => {
  const good = await model.classify(picture(2));
  const tensor = (t, layout = 'nchw') => ({ tensor: t, layout, normalized: true });
  await rejects(model.classify(tensor(new Float32Array(783))), 'DYCE_BAD_INPUT', /783 elements/);
  await rejects(model.classify(tensor(new Float32Array(784).fill(NaN))), 'DYCE_BAD_INPUT', /NaN/);
  const inf = new Float32Array(784);
  inf[100] = -Infinity;
  await rejects(model.classify(tensor(inf)), 'DYCE_BAD_INPUT', /element 100 is infinite/);
  await rejects(model.classify({ width: 28, height: 28, data: new Uint8ClampedArray(10) }), 'DYCE_INVALID_ARGUMENT', /10 bytes/);
  await rejects(model.classify(tensor(new Float32Array(784), 'hwcn')), 'DYCE_INVALID_ARGUMENT', /layout/);
  // A typo in a plain input's field names it (not channels guessed, or the layout ignored).
  const { data, width, height } = picture(2);
  await assert.rejects(model.classify({ data, width, height, chanels: 4 }), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === 'input.chanels' && /no field "chanels"/.test(e.message));
  await assert.rejects(model.classify({ ...tensor(new Float32Array(784)), layuot: 'nhwc' }), (e) => e.field === 'input.layuot' && /did you mean "layout"/.test(e.message));
  await assert.rejects(model.classify({ data, width, height, Channels: 4 }), (e) => e.field === 'input.Channels');
  // What decoders hand back (pngjs: depth, colorType, gamma, …) is taken: only near-misses are refused.
  assert.equal((await model.classify({ data, width, height, depth: 8, colorType: 6, gamma: 0, interlace: false, palette: false })).index, good.index);
  assert.equal((await model.classify({ data, width, height, channels: 4, colorSpace: 'srgb' })).index, good.index);
  for (const bad of [null, undefined, 'picture.png', {}, [1, 2, 3], new Uint8Array(784)])
    await rejects(model.classify(bad), 'DYCE_INVALID_ARGUMENT', /cannot classify/);
  const again = await model.classify(picture(2));
  assert.deepEqual([again.index, again.exit, again.macs], [good.index, good.exit, good.macs]);
});

test('every wasm allocation is freed, errors included', async () => {
  const m = await load(bytes, { variant: 'simd' });
  const low = m.low.engine.m;
  const probe = () => {
    const p = low._malloc(64);
    low._free(p);
    return p;
  };
  await m.classify(picture(0)); // the first call may size things once
  const before = probe();
  for (let i = 0; i < 200; i++) {
    await m.classify(picture(i), { config: i % m.configs.length });
    await m.classify({ tensor: sampleTensor(set, i, m.low.inputSpec), layout: 'nchw', normalized: true });
    await assert.rejects(m.classify({ tensor: new Float32Array(5), layout: 'nchw', normalized: true }));
  }
  assert.equal(probe(), before, 'the allocator hands out the same block: nothing leaked in between');
  await m.dispose();
});

/** A package's bytes with its CONF section renamed to a tag readers skip. */
function withoutConfigs(file) {
  const b = new Uint8Array(fs.readFileSync(file)), v = new DataView(b.buffer);
  for (let i = 0; i < v.getUint32(12, true); i++) {
    const at = 64 + 32 * i;
    if (String.fromCharCode(...b.subarray(at, at + 4)) === 'CONF') b.set([0x78, 0x78, 0x78, 0x78], at);
  }
  return b;
}

test('a package without configurations runs its whole backbone', async () => {
  const m = await load(withoutConfigs(path.join(root, 'build/fmnist-smoke/fashion-mnist.dyce')));
  try {
    assert.deepEqual([m.configs.length, m.config, m.defaultConfig], [0, null, null]);
    const r = await m.classify(picture(0));
    assert.deepEqual([r.exit, r.macs, r.config], ['head', m.backboneMacs, null]);
    await rejects(m.setConfig(0), 'DYCE_NOT_FOUND', /the package has none/);
  } finally {
    await m.dispose();
  }
});

test('dispose frees the model; later calls say so', async () => {
  const m = await load(bytes);
  await m.dispose();
  await m.dispose(); // idempotent
  await rejects(m.classify(picture(0)), 'DYCE_BAD_STATE', /disposed/);
  await rejects(m.setConfig(0), 'DYCE_BAD_STATE', /disposed/);
  assert.throws(() => m.topOf('head', 3), (e) => e.code === 'DYCE_BAD_STATE');
});

test('empty and detached buffers, unknown configurations, concurrent calls', async () => {
  const good = await model.classify(picture(3));
  await rejects(model.classify({ tensor: new Float32Array(0), layout: 'nchw', normalized: true }), 'DYCE_BAD_INPUT', /0 elements/);
  const detached = new Float32Array(784);
  structuredClone(detached.buffer, { transfer: [detached.buffer] }); // detaches it
  await rejects(model.classify({ tensor: detached, layout: 'nchw', normalized: true }), 'DYCE_BAD_INPUT', /0 elements/);
  const gone = { width: 28, height: 28, data: new Uint8ClampedArray(28 * 28 * 4) };
  structuredClone(gone.data.buffer, { transfer: [gone.data.buffer] });
  await rejects(model.classify(gone), 'DYCE_INVALID_ARGUMENT');
  await rejects(model.classify(picture(3), { config: 'no-such-config' }), 'DYCE_NOT_FOUND');
  await rejects(model.classify(picture(3), { config: 10_000 }), 'DYCE_NOT_FOUND');
  // Many calls in flight at once, with different configurations: each
  // gets the answer it would get alone.
  const configs = model.configs.map((c) => c.name);
  const alone = [];
  for (let i = 0; i < 12; i++) alone.push(await model.classify(picture(i), { config: configs[i % configs.length] }));
  const together = await Promise.all(Array.from({ length: 12 }, (_, i) =>
    model.classify(picture(i), { config: configs[i % configs.length] })));
  assert.deepEqual(together.map((r) => [r.index, r.exit, r.config]), alone.map((r) => [r.index, r.exit, r.config]));
  // A per-call config stays (see classify); back to the first one, the
  // model answers as before all of this.
  const again = await model.classify(picture(3), { config: good.config });
  assert.deepEqual([again.index, again.exit], [good.index, good.exit]);
});

test('byte images of one, three or four channels give the same answers', async () => {
  for (const i of [0, 5, 9]) {
    const rgba = picture(i, 2), n = rgba.width * rgba.height;
    const gray = new Uint8Array(n), rgb = new Uint8Array(3 * n);
    for (let k = 0; k < n; k++) {
      gray[k] = rgba.data[4 * k];
      rgb.set(rgba.data.subarray(4 * k, 4 * k + 3), 3 * k);
    }
    const want = await model.classify(rgba);
    for (const image of [{ data: gray, width: rgba.width, height: rgba.height, channels: 1 },
      { data: gray, width: rgba.width, height: rgba.height }, { data: rgb, width: rgba.width, height: rgba.height, channels: 3 }]) {
      const got = await model.classify(image);
      assert.deepEqual([got.index, got.exit, got.macs], [want.index, want.exit, want.macs], `sample ${i}, ${image.channels ?? 'inferred'} channels`);
      assert.ok(Math.abs(got.score - want.score) < 1e-5);
    }
  }
  await rejects(model.classify({ data: new Uint8Array(28 * 28 * 2), width: 28, height: 28 }), 'DYCE_INVALID_ARGUMENT', /1568 bytes/);
  await rejects(model.classify({ data: new Uint8Array(784), width: 28, height: 28, channels: 5 }), 'DYCE_INVALID_ARGUMENT', /channels is 5/);
  await rejects(model.classify({ data: new Uint8Array(784), width: 28, height: 28, channels: 2 }), 'DYCE_INVALID_ARGUMENT', /784 bytes; 28×28 needs 1568/);
});

test('a float tensor only in the explicit normalised form; raw pixels refused, not answered', async () => {
  const x = sampleTensor(set, 4, model.low.inputSpec);
  const field = async (promise, code, name, pattern) => {
    await assert.rejects(promise, (e) => e instanceof DyceError && e.code === code && e.field === name && pattern.test(e.message));
  };
  await field(model.classify(x), 'DYCE_INVALID_ARGUMENT', 'input', /bare Float32Array.*normalized: true/);
  await field(model.classify({ tensor: x, layout: 'nchw' }), 'DYCE_INVALID_ARGUMENT', 'input.normalized', /must be true/);
  await field(model.classify({ tensor: x, normalized: true }), 'DYCE_INVALID_ARGUMENT', 'input.layout', /layout/);
  await field(model.classify({ tensor: Array.from(x), layout: 'nchw', normalized: true }), 'DYCE_INVALID_ARGUMENT', 'input.tensor', /Float32Array/);
  // The raw pixels of an ankle boot (0–255) cannot be a normalised tensor.
  const raw = Float32Array.from(set.pixels.subarray(0, 784));
  await field(model.classify({ tensor: raw, layout: 'nchw', normalized: true }), 'DYCE_BAD_INPUT', 'input.tensor', /outside .* raw pixels/);
  const r = await model.classify({ tensor: x, layout: 'nchw', normalized: true });
  const nhwc = await model.classify({ tensor: x, layout: 'nhwc', normalized: true }); // one channel: the same order
  assert.deepEqual([nhwc.index, nhwc.exit], [r.index, r.exit]);
  assert.equal(r.label, model.labels[set.labels[4]] ?? r.label);
});

test('failures of every kind are DyceErrors with the URL or field involved', async () => {
  const missing = path.join(root, 'no/such/model.dyce');
  await assert.rejects(load(missing), (e) => e.code === 'DYCE_NOT_FOUND' && e.url === missing);
  const bad = path.join(tempDir(), 'bad.dyce');
  fs.writeFileSync(bad, bytes.subarray(0, 100));
  await assert.rejects(load(bad), (e) => e.code === 'DYCE_BAD_FORMAT' && e.url === bad);
  await assert.rejects(load(bytes.subarray(0, 100)), (e) => e.code === 'DYCE_BAD_FORMAT' && e.field === 'source');
  await assert.rejects(model.classify({ tensor: new Float32Array(783), layout: 'nchw', normalized: true }), (e) => e.code === 'DYCE_BAD_INPUT' && e.field === 'input');
  const dist = path.join(root, 'wasm/dist');
  await assert.rejects(load(bytes, { wasmUrl: path.join(dist, 'nothing.wasm') }), (e) => e.code === 'DYCE_NOT_FOUND' && /nothing\.wasm/.test(e.url));
  await assert.rejects(load(bytes, { wasmBinary: bytes.subarray(0, 64) }), (e) => e.code === 'DYCE_WASM_COMPILE' && e.url === '(wasmBinary)');
  // The CLI's module handed over as a browser build: said so, not "_initialize is not a function".
  await assert.rejects(load(bytes, { wasmBinary: fs.readFileSync(path.join(dist, 'dyce-wasi.wasm')) }),
    (e) => e.code === 'DYCE_WASM_COMPILE' && /dyce's command-line program \(dyce-wasi\.wasm/.test(e.message));
  // A named file of the wrong build is refused, not run.
  await assert.rejects(load(bytes, { wasmUrl: path.join(dist, 'dyce.wasm'), variant: 'relaxed' }),
    (e) => e.code === 'DYCE_WASM_MISMATCH' && /dyce\.wasm/.test(e.url) && /wasmPaths/.test(e.message));
  // The SIMD level is read from the module itself (simd and nosimd share one glue).
  await assert.rejects(load(bytes, { wasmUrl: path.join(dist, 'dyce.wasm'), variant: 'nosimd' }),
    (e) => e.code === 'DYCE_WASM_MISMATCH' && /a simd build, not the nosimd build/.test(e.message));
  await assert.rejects(load(bytes, { wasmUrl: path.join(dist, 'dyce-nosimd.wasm'), variant: 'relaxed' }),
    (e) => e.code === 'DYCE_WASM_MISMATCH' && /a nosimd build, not the relaxed build/.test(e.message));
  const named = await load(bytes, { wasmUrl: path.join(dist, 'dyce-nosimd.wasm') });
  assert.equal(named.variant, 'nosimd');
  named.dispose();
  await assert.rejects(load(bytes, { variant: 'fast' }), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && e.field === 'variant');
  await assert.rejects(load(bytes, { wasmPaths: { 'dyce.wasm': 'x' }, variant: 'nosimd' }), (e) => e.code === 'DYCE_INVALID_ARGUMENT' && /dyce-nosimd\.wasm/.test(e.field));
  // fetch failures (a server that is not there) name the URL.
  await assert.rejects(load('http://127.0.0.1:9/model.dyce'), (e) => e.code === 'DYCE_FETCH_FAILED' && e.url === 'http://127.0.0.1:9/model.dyce' && /fetch failed \([^)]+\)/.test(e.message));
  // A page a server sent instead of the package (a dev server's index.html
  // for an unknown path) is named as such; a Response the caller made has no URL.
  const html = new Response('<!doctype html><html><body>app</body></html>', { headers: { 'content-type': 'text/html; charset=utf-8' } });
  await assert.rejects(load(html), (e) => e.code === 'DYCE_FETCH_FAILED' && /an HTML page \(content-type text\/html/.test(e.message) && e.url === undefined, 'HTML');
  await assert.rejects(load(new Response('x', { status: 404 })), (e) => e.code === 'DYCE_FETCH_FAILED' && e.url === undefined && e.status === 404 && /a Response without a URL/.test(e.message));
  // Bundled copies rename the class; its name stays DyceError.
  const bundled = await import('dyce');
  const e = await bundled.load(42).catch((x) => x);
  assert.deepEqual([e instanceof DyceError, e.constructor.name, e.name, String(e).split(':')[0]], [true, 'DyceError', 'DyceError', 'DyceError']);
  // The Worker API needs a browser's Worker: said so under Node.
  const { loadInWorker } = await import('../../wasm/worker-client.mjs');
  await assert.rejects(loadInWorker(file), (x) => x.code === 'DYCE_UNSUPPORTED' && /under Node use load\(\)/.test(x.message));
});

test('wasmPaths keeps feature detection; wasmUrl and wasmBinary name their build', async () => {
  const dist = path.join(root, 'wasm/dist');
  const auto = await load(bytes, { wasmPaths: dist });
  const fromUrl = await load(bytes, { wasmPaths: pathToFileURL(`${dist}/`) });
  const nosimd = await load(bytes, { wasmUrl: path.join(dist, 'dyce-nosimd.wasm'), variant: 'nosimd' });
  const simd = await load(bytes, { wasmBinary: fs.readFileSync(path.join(dist, 'dyce.wasm')) });
  try {
    assert.equal(auto.variant, model.variant);
    assert.equal(fromUrl.variant, model.variant);
    assert.equal(nosimd.variant, 'nosimd');
    assert.equal(simd.variant, 'simd');
    const want = await model.classify(picture(6));
    for (const m of [auto, fromUrl, nosimd, simd]) assert.equal((await m.classify(picture(6))).index, want.index);
  } finally {
    for (const m of [auto, fromUrl, nosimd, simd]) await m.dispose();
  }
});

test('the two Emscripten glues differ only in their default file name (one glue serves both builds)', () => {
  const glue = (f) => fs.readFileSync(path.join(root, 'wasm/dist', f), 'utf8');
  assert.equal(glue('dyce-nosimd.mjs').replaceAll('dyce-nosimd.wasm', 'dyce.wasm'), glue('dyce.mjs'));
});

test('a build is compiled once per URL or path: later loads reuse it; a failed one is tried again', async () => {
  const compile = WebAssembly.compile;
  let calls = 0;
  WebAssembly.compile = (...args) => { calls++; return compile.apply(WebAssembly, args); };
  try {
    const wasmUrl = path.join(tempDir(), 'dyce.wasm');
    await assert.rejects(load(bytes, { wasmUrl }), (e) => e.code === 'DYCE_NOT_FOUND');
    fs.copyFileSync(path.join(root, 'wasm/dist/dyce.wasm'), wasmUrl);
    const a = await load(bytes, { wasmUrl });
    const first = calls;
    const b = await load(bytes, { wasmUrl });
    assert.equal(calls, first, 'the second load compiled the module again');
    assert.deepEqual([a.variant, b.variant], ['simd', 'simd']);
    await a.dispose();
    await b.dispose();
  } finally {
    WebAssembly.compile = compile;
  }
});
