// Bad input: truncated files, flipped bytes, wrong magic/version,
// out-of-range offsets, absurd shapes, wrong input shapes and NaNs each
// get a clear error — a non-zero exit with one line on stderr from both
// CLIs (never a signal), a DyceError with a code from the browser module,
// which stays usable afterwards.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { createEngine } from '../../wasm/engine.mjs';
import { ensureTestModels, loadNpy, modelFiles, root, runCli, tempDir } from './harness.mjs';
import { writeNpy } from './npy.mjs';

const names = ensureTestModels();
// The smallest package keeps the cases fast.
const name = names.map((n) => [fs.statSync(modelFiles(n).dyce).size, n]).sort((a, b) => a[0] - b[0])[0][1];
const good = fs.readFileSync(modelFiles(name).dyce);
const goodInput = loadNpy(modelFiles(name).input);
const dir = tempDir();
const engine = await createEngine();

function sectionOffset(bytes, tag) {
  const count = bytes.readUInt32LE(12);
  for (let i = 0; i < count; i++) {
    const e = 64 + 32 * i;
    if (bytes.toString('latin1', e, e + 4) === tag) return Number(bytes.readBigUInt64LE(e + 8));
  }
  throw new Error(`no section ${tag}`);
}

function corrupt(fn) {
  const b = Buffer.from(good);
  return fn(b) ?? b;
}

// name → [bytes, expected phrase, expected code]
const damaged = {
  truncated: [good.subarray(0, Math.floor(good.length / 2)), 'truncated', 'DYCE_BAD_FORMAT'],
  'shorter than header': [good.subarray(0, 20), 'shorter than the 64-byte header', 'DYCE_BAD_FORMAT'],
  'wrong magic': [corrupt((b) => { b[1] = 0x58; }), 'magic', 'DYCE_BAD_FORMAT'],
  'wrong version': [corrupt((b) => { b.writeUInt32LE(7, 4); }), 'version 7', 'DYCE_UNSUPPORTED'],
  'section past the end': [corrupt((b) => { b.writeBigUInt64LE(BigInt(good.length + 16 * 1000), 64 + 8); }), 'runs past the end', 'DYCE_BAD_FORMAT'],
  'weight offset out of range': [corrupt((b) => { b.writeUInt32LE(0x7ffffff0, sectionOffset(b, 'NODE') + 32); }), 'outside the', 'DYCE_BAD_FORMAT'],
  'absurd shape': [corrupt((b) => { b.writeUInt32LE(1 << 30, sectionOffset(b, 'TENS') + 12); }), 'breaks the limits', 'DYCE_LIMIT'],
  'flipped op code': [corrupt((b) => { b[sectionOffset(b, 'NODE')] ^= 0x40; }), 'unknown op code 65 (a package made by a newer dyce, or a damaged file)', 'DYCE_UNSUPPORTED'],
};

for (const [what, [bytes, phrase, code]] of Object.entries(damaged)) {
  const file = path.join(dir, `${what.replace(/ /g, '_')}.dyce`);
  fs.writeFileSync(file, bytes);
  for (const kind of ['native', 'wasi']) {
    test(`${kind} CLI refuses a package with ${what}`, () => {
      const r = runCli(kind, ['info', file]);
      assert.equal(r.signal, null, 'killed by a signal');
      assert.equal(r.status, 1, r.stderr);
      const lines = r.stderr.trim().split('\n');
      assert.equal(lines.length, 1, `one line expected: ${r.stderr}`);
      assert.match(lines[0], /^dyce: error: /);
      assert.ok(lines[0].includes(phrase), `'${lines[0]}' lacks '${phrase}'`);
    });
  }
  test(`browser module refuses a package with ${what}`, () => {
    assert.throws(() => engine.loadModel(bytes), (e) => e.code === code && e.message.includes(phrase));
  });
}

test('every single-byte flip of the header and tables is handled without a crash', () => {
  // Through the browser module: thousands of loads, each ok or a DyceError.
  const tablesEnd = sectionOffset(good, 'WGHT');
  let refused = 0;
  for (let at = 0; at < Math.min(tablesEnd, 4096); at++) {
    const b = Buffer.from(good);
    b[at] ^= 0xff;
    try {
      engine.loadModel(b).free();
    } catch (e) {
      assert.ok(e.code?.startsWith('DYCE_') && e.message.length > 0, String(e));
      refused++;
    }
  }
  assert.ok(refused > 0);
});

const [, c, h, w] = goodInput.shape;
const inputs = {
  'wrong input shape': [[1, c, h + 1, w], 'does not match the model', 'DYCE_BAD_INPUT'],
  'NaN input': [[1, c, h, w], 'is NaN', 'DYCE_BAD_INPUT'],
};
for (const [what, [shape, phrase, code]] of Object.entries(inputs)) {
  const data = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5);
  if (what === 'NaN input') data[3] = NaN;
  const file = path.join(dir, `${what.replace(/ /g, '_')}.npy`);
  writeNpy(file, data, shape);
  for (const kind of ['native', 'wasi']) {
    test(`${kind} CLI refuses a ${what}`, () => {
      const r = runCli(kind, ['run', modelFiles(name).dyce, '--input', file]);
      assert.equal(r.signal, null);
      assert.equal(r.status, 1, r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.ok(r.stderr.includes(phrase), r.stderr);
    });
  }
  test(`browser module refuses a ${what} and stays usable`, () => {
    const model = engine.loadModel(good);
    try {
      const expectCode = what === 'wrong input shape' ? 'DYCE_BAD_INPUT' : code;
      assert.throws(() => model.run(data), (e) => e.code === expectCode);
      const y = model.run(goodInput.data); // still works
      assert.ok(y.every(Number.isFinite));
    } finally {
      model.free();
    }
  });
}

test('CLI usage errors and missing files are one-line errors', () => {
  for (const kind of ['native', 'wasi']) {
    let r = runCli(kind, ['info', path.join(dir, 'missing.dyce')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /dyce: error: .*missing\.dyce/);
    r = runCli(kind, ['run', modelFiles(name).dyce]);
    assert.equal(r.status, 2);
    r = runCli(kind, ['run', modelFiles(name).dyce, '--input', modelFiles(name).input, '--graph', 'nope']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no graph named 'nope'/);
    // Help asked for after a command, or as `dyce help`, is an answer on stdout.
    for (const args of [['eval', '--help'], ['help'], ['info', modelFiles(name).dyce, '-h']]) {
      r = runCli(kind, args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^usage: dyce COMMAND/);
    }
    r = runCli(kind, ['frobnicate']);
    assert.equal(r.status, 2);
    assert.match(r.stderr, /unknown command 'frobnicate'/);
  }
});

test('CLI: counts that are not whole numbers of 32 bits (WASI\'s long is 32 bits), unreadable records, records and packages swapped, IDX files that do not hold what their headers say or labels no class has', () => {
  const shipped = path.join(root, 'models/fashion-mnist.dyce');
  const records = path.join(root, 'tests/golden/fashion-mnist.golden.records');
  const fmnist = '/usr/share/datasets/fashion-mnist';
  const junk = path.join(dir, 'junk.records');
  fs.writeFileSync(junk, 'junk\n');
  const eval_ = (...more) => ['eval', shipped, '--data', fmnist, ...more];
  const cases = [
    [eval_('--limit', '-5'), 2, /--limit needs a whole number from 1 to 4294967295, not '-5'/],
    [eval_('--limit', '99999999999999999999'), 2, /--limit needs a whole number from 1 to 4294967295/],
    [eval_('--threads', '-1'), 2, /--threads needs a whole number/],
    [eval_('--limit', '4', '--config', '4294967297'), 1, /no configuration '4294967297'; the package's 39: pareto-00, pareto-01, .*, \.\.\. \(39 in all\)$/m],
    [eval_('--limit', '4', '--graph', 'exit9_z'), 1, /no graph named 'exit9_z'; the graphs: saver0, saver1, saver2, stage1, exit1_a, /],
    [eval_('--limit', '4', '--records', path.join(dir, 'missing.records')), 1, /missing\.records: /],
    [eval_('--limit', '4', '--records', junk), 1, /junk\.records: records end inside the magic/],
    [['info', records], 1, /a records file \(magic "DYCERECS"\), not a package/],
    [['search', shipped, '--records', shipped, '-o', path.join(dir, 'never.dyce')], 1,
      /a dyce package, not a records file/],
    // An output that cannot be written is said before the search, with why.
    [['search', shipped, '--records', records, '-o', path.join(dir, 'no/such/dir/x.dyce')], 1,
      /no\/such\/dir\/x\.dyce: cannot write: No such file or directory/],
    [['frobnicate'], 2, /^dyce: error: unknown command 'frobnicate' \(dyce --help lists them\)\n$/],
    // Usage errors are status 2 in every command (info's were 1); an unknown
    // last option is unknown, not "needs a value".
    [['info'], 2, /info: missing MODEL\.dyce/],
    [['info', shipped, '--jsn'], 2, /info: unexpected argument '--jsn'/],
    [['search', shipped, '--records', records, '--bogus'], 2, /search: unexpected argument '--bogus'/],
    [['search', shipped, '--records', records, '--lambda-step', 'abc'], 2, /search: --lambda-step takes a number > 0, not 'abc'/],
  ];
  // IDX files that do not describe themselves, or hold a label no class has.
  const idx = (name, { count = 4, labelCount = count, h = 28, w = 28, pixels = count * h * w, label = 1 }) => {
    const d = path.join(dir, name);
    fs.mkdirSync(d, { recursive: true });
    const head = (magic, ...n) => Buffer.concat([magic, ...n.map((v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v); return b; })]);
    fs.writeFileSync(path.join(d, 't10k-images-idx3-ubyte'), Buffer.concat([head(Buffer.from([0, 0, 8, 3]), count, h, w), Buffer.alloc(pixels)]));
    fs.writeFileSync(path.join(d, 't10k-labels-idx1-ubyte'), Buffer.concat([head(Buffer.from([0, 0, 8, 1]), labelCount), Buffer.alloc(count, label)]));
    return ['eval', shipped, '--data', d, '--records', 'none'];
  };
  cases.push(
    [idx('label200', { label: 200 }), 1, /t10k label 200 of image 0 is not one of the package's 10 classes/],
    [idx('truncated', { pixels: 4 * 784 - 5 }), 1, /t10k images file holds 3131 bytes of pixels; 4 images of 28x28 need 3136 \(truncated\?\)/],
    [idx('trailing', { pixels: 4 * 784 + 3 }), 1, /holds 3139 bytes of pixels; .* \(bytes after the last image\)/],
    [idx('height0', { h: 0 }), 1, /t10k images of 0x28 \(1\.\.4096 per side\)/],
    [idx('counts', { labelCount: 5 }), 1, /t10k: 4 images but 5 labels/]);
  for (const kind of ['native', 'wasi']) {
    for (const [args, status, re] of cases) {
      const r = runCli(kind, args);
      assert.equal(r.status, status, `${kind} ${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re, `${kind} ${args.join(' ')}`);
      assert.equal(r.stdout, '', `${kind} ${args.join(' ')}: evaluated anyway`);
    }
  }
  assert.ok(!fs.existsSync(path.join(dir, 'never.dyce')));
});

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));
