// Image files in the CLI (issue 14): the C decoder and preprocessing
// (`dyce run --input IMAGE --save-input X.npy`) against the Python
// definition, models/dyce_build/images.py `to_tensor`, natively and under
// WASI, on PNGs of every colour type (gray, gray+alpha, bilevel, RGB, RGBA,
// palette 8 and 4 bit, Adam7, every filter), sizes that need resizing and
// ones that do not, for a 1- and a 3-channel model; a JPEG natively (WASI
// refuses it with a reason); and the JS API's preprocessing (toTensor) of
// the decoded pixels against the same tensors. Then `dyce eval` on an image folder written
// from Fashion-MNIST test images answers exactly as on the IDX files.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';
import zlib from 'node:zlib';

import { toTensor } from '../../wasm/preprocess.mjs';
import { readTestSet } from './fmnist.mjs';
import { chunk, pngFile } from './png_writer.mjs';
import { loadNpy, python, root, runCli, tempDir } from './harness.mjs';

const fmnist = path.join(root, 'models/fashion-mnist.dyce');
const kinds = ['native', 'wasi'];

test('image files: the engine runs the tensor images.py makes (native, WASI), and the JS API makes it from the decoded pixels', () => {
  const dir = tempDir('dyce-images-');
  const fx = spawnSync(python, [path.join(root, 'tests/node/image_fixtures.py'), dir, fmnist], {
    encoding: 'utf8', cwd: root, timeout: 300_000,
  });
  assert.equal(fx.status, 0, fx.stderr);
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  assert.ok(cases.length >= 20);
  for (const kind of kinds) {
    for (const c of cases) {
      const out = path.join(dir, `got-${kind}.npy`);
      fs.rmSync(out, { force: true });
      const r = runCli(kind, ['run', c.model, '--input', c.image, '--save-input', out]);
      const what = `${kind} ${path.basename(c.model)} ${path.basename(c.image)}`;
      if (c.jpeg && kind === 'wasi') {
        assert.equal(r.status, 1, what);
        assert.match(r.stderr, /^dyce: error: .*JPEG is not supported by this build of dyce \(it was built without libjpeg/, what);
        continue;
      }
      assert.equal(r.status, 0, `${what}: ${r.stderr}`);
      assert.ok(JSON.parse(r.stdout).label !== undefined, what);
      const got = loadNpy(out), want = loadNpy(c.want);
      assert.deepEqual(got.shape, want.shape, what);
      let worst = 0;
      for (let i = 0; i < want.data.length; i++) worst = Math.max(worst, Math.abs(got.data[i] - want.data[i]));
      assert.ok(worst <= 1e-4, `${what}: max |C - Python| = ${worst}`);
    }
  }
  // The page's path: the picture's RGBA pixels (as ImageData holds them)
  // through the API's preprocessing.
  for (const c of cases) {
    const [h, w, ch, pixelScale, mean, std] = c.spec, rgba = loadNpy(c.rgba);
    const picture = { data: Uint8ClampedArray.from(rgba.data), width: rgba.shape[1], height: rgba.shape[0], channels: 4 };
    const { tensor } = toTensor(picture, [1, h, w, ch], { pixelScale, mean, std });
    const want = loadNpy(c.want).data, what = `JS ${path.basename(c.model)} ${path.basename(c.image)}`;
    let worst = 0;
    for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(tensor[i] - want[i]));
    assert.ok(worst <= 1e-4, `${what}: max |JS - Python| = ${worst}`);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

// ---- gray PNG files for the image folder ----------

const grayPng = (pixels, w, h) => pngFile(pixels, w, h, 1);

const dumpLines = (file) => fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => l.split(' '));

test('dyce eval: an image folder of Fashion-MNIST test images answers as the IDX files (native, WASI)', () => {
  const N = 60, set = readTestSet(), dir = tempDir('dyce-folder-');
  const info = runCli('native', ['info', fmnist, '--json']);
  assert.equal(info.status, 0, info.stderr);
  const labels = JSON.parse(info.stdout).labels; // "T-shirt/top" -> folder T-shirt_top
  const samples = [];
  for (let i = 0; i < N; i++) {
    const folder = labels[set.labels[i]].replaceAll('/', '_'), file = `${String(i).padStart(5, '0')}.png`;
    fs.mkdirSync(path.join(dir, 'test', folder), { recursive: true });
    const px = Buffer.from(set.pixels.subarray(i * set.h * set.w, (i + 1) * set.h * set.w));
    fs.writeFileSync(path.join(dir, 'test', folder, file), grayPng(px, set.w, set.h));
    samples.push({ folder, file, index: i });
  }
  fs.writeFileSync(path.join(dir, 'test', labels[0].replaceAll('/', '_'), 'notes.txt'), 'not an image');
  // The folder's sample order: classes by name, files by name.
  samples.sort((a, b) => (a.folder < b.folder ? -1 : a.folder > b.folder ? 1 : a.file < b.file ? -1 : 1));
  // A copy without the records beside it, so both runs see plain data.
  const pkg = path.join(dir, 'model.dyce');
  fs.copyFileSync(fmnist, pkg);
  for (const kind of kinds) {
    for (const target of [['--graph', 'head'], ['--config', '0']]) {
      const what = `${kind} ${target.join(' ')}`;
      const dumps = [path.join(dir, 'folder.dump'), path.join(dir, 'idx.dump')];
      const folder = runCli(kind, ['eval', pkg, '--data', dir, ...target, '--json', '--dump', dumps[0]]);
      assert.equal(folder.status, 0, `${what}: ${folder.stderr}`);
      const idx = runCli(kind, ['eval', pkg, '--data', set.dir, '--limit', String(N), ...target, '--json', '--dump', dumps[1]]);
      assert.equal(idx.status, 0, `${what}: ${idx.stderr}`);
      const a = JSON.parse(folder.stdout), b = JSON.parse(idx.stdout);
      assert.equal(a.n, N, what);
      assert.equal(a.accuracy, b.accuracy, what);
      assert.equal(a.mean_macs, b.mean_macs, what);
      const byIndex = new Map(dumpLines(dumps[1]).map(([i, pred, graph]) => [Number(i), `${pred} ${graph}`]));
      dumpLines(dumps[0]).forEach(([i, pred, graph]) => {
        assert.equal(`${pred} ${graph}`, byIndex.get(samples[Number(i)].index), `${what}: folder sample ${i}`);
      });
    }
  }
  // A 3-channel model reads a gray IDX image as a gray picture file: its
  // value in every channel (FORMAT.md), so both answer alike there too.
  fs.writeFileSync(path.join(dir, 'labels.txt'), labels.join('\n') + '\n');
  const rgb = path.join(dir, 'rgb.dyce');
  const made = spawnSync(python, ['-c', `
import subprocess, sys, torch
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                          torch.nn.Flatten(), torch.nn.Linear(8, 10)).eval()
torch.onnx.export(net, torch.zeros(1, 3, 28, 28), sys.argv[1] + '.onnx', opset_version=13)
subprocess.run([sys.executable, sys.argv[2], sys.argv[1] + '.onnx', '-o', sys.argv[1], '--mean', '0.2,0.3,0.4',
                '--std', '0.3,0.4,0.5', '--labels', sys.argv[3]], check=True)`, rgb, path.join(root, 'models/convert.py'), path.join(dir, 'labels.txt')],
  { encoding: 'utf8', cwd: root, timeout: 300_000 });
  assert.equal(made.status, 0, made.stderr);
  for (const kind of kinds) {
    const dumps = [path.join(dir, 'rgb-folder.dump'), path.join(dir, 'rgb-idx.dump')];
    const folder = runCli(kind, ['eval', rgb, '--data', dir, '--json', '--dump', dumps[0]]);
    assert.equal(folder.status, 0, `${kind} rgb: ${folder.stderr}`);
    const idx = runCli(kind, ['eval', rgb, '--data', set.dir, '--limit', String(N), '--json', '--dump', dumps[1]]);
    assert.equal(idx.status, 0, `${kind} rgb: ${idx.stderr}`);
    const byIndex = new Map(dumpLines(dumps[1]).map(([i, pred]) => [Number(i), pred]));
    dumpLines(dumps[0]).forEach(([i, pred]) => assert.equal(pred, byIndex.get(samples[Number(i)].index), `${kind} rgb: folder sample ${i}`));
  }
  // A class folder the package has no label for is an error naming it.
  fs.mkdirSync(path.join(dir, 'test', 'Hat'));
  fs.writeFileSync(path.join(dir, 'test', 'Hat', 'a.png'), grayPng(Buffer.alloc(28 * 28), 28, 28));
  for (const kind of kinds) {
    const r = runCli(kind, ['eval', pkg, '--data', dir]);
    assert.equal(r.status, 1, kind);
    assert.match(r.stderr, /^dyce: error: .*test\/Hat: the package has no label 'Hat'/, kind);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('dyce eval: 300 classes, version 2 records, labels and predictions >= 256 (native, WASI)', () => {
  const dir = tempDir('dyce-wide-');
  const fx = spawnSync(python, [path.join(root, 'tests/node/records_v2_fixture.py'), dir], {
    encoding: 'utf8', cwd: root, timeout: 300_000,
  });
  assert.equal(fx.status, 0, fx.stderr);
  const records = path.join(dir, 'wide.records');
  assert.equal(fs.readFileSync(records).readUInt32LE(8), 2, 'a version 2 records file');
  const want = JSON.parse(fs.readFileSync(path.join(dir, 'expect.json'), 'utf8'));
  for (const kind of kinds) {
    const dump = path.join(dir, `${kind}.dump`);
    const r = runCli(kind, ['eval', path.join(dir, 'wide.dyce'), '--data', path.join(dir, 'data'),
      '--records', records, '--json', '--dump', dump]);
    assert.equal(r.status, 0, `${kind}: ${r.stderr}`);
    const e = JSON.parse(r.stdout);
    assert.equal(e.n, want.n, kind);
    assert.equal(e.compared, want.n, kind);
    assert.equal(e.agreement, 1, `${kind}: ${JSON.stringify(e.disagreements)}`);
    assert.ok(Math.abs(e.accuracy - want.accuracy) < 1e-6, `${kind}: accuracy ${e.accuracy} vs ${want.accuracy}`);
    assert.deepEqual(dumpLines(dump).map(([, pred]) => Number(pred)), want.top1, kind);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('damaged or unsupported image files are one-line errors (native, WASI), and the build\'s reader refuses the damaged PNGs for the same reasons', () => {
  const dir = tempDir('dyce-badimg-');
  const good = grayPng(Buffer.alloc(28 * 28, 7), 28, 28);
  const ihdr16 = Buffer.alloc(13);
  ihdr16.writeUInt32BE(28, 0);
  ihdr16.writeUInt32BE(28, 4);
  ihdr16[8] = 16; // 16-bit gray
  const badCrc = Buffer.from(good);
  badCrc[good.length - 20] ^= 1; // inside IDAT
  const sig = good.subarray(0, 8), iend = chunk('IEND', Buffer.alloc(0));
  const ihdrOf = (edit) => { const h = Buffer.alloc(13); h.writeUInt32BE(28, 0); h.writeUInt32BE(28, 4); h[8] = 8; edit(h); return chunk('IHDR', h); };
  const rows = (n) => zlib.deflateSync(Buffer.alloc(n * 29));
  // PIL decodes these; the engine does not (a build read them and trained).
  const pngs = {
    'no-iend.png': [good.subarray(0, good.length - 12), /PNG: the file ends without an IEND chunk/],
    'cut-iend.png': [good.subarray(0, good.length - 6), /PNG: file ends inside a chunk/],
    'compression1.png': [Buffer.concat([sig, ihdrOf((h) => { h[10] = 1; }), chunk('IDAT', rows(28)), iend]),
      /PNG: unknown compression or filter method/],
    'long-idat.png': [Buffer.concat([sig, ihdrOf(() => {}), chunk('IDAT', rows(29)), iend]),
      /PNG: image data: the compressed data holds more bytes than the image needs/],
    'no-plte.png': [Buffer.concat([sig, ihdrOf((h) => { h[9] = 3; }), chunk('IDAT', rows(28)), iend]),
      /PNG: palette image without PLTE/],
    'crc.png': [badCrc, /PNG: chunk IDAT: CRC mismatch/],
  };
  const files = {
    ...pngs,
    'truncated.png': [good.subarray(0, good.length - 30), /PNG: chunk IDAT runs past the end of the file/],
    'text.png': [Buffer.from('not an image\n'), /not a PNG or JPEG file/],
    'gray16.png': [Buffer.concat([good.subarray(0, 8), chunk('IHDR', ihdr16), chunk('IEND', Buffer.alloc(0))]),
      /PNG: 16-bit gray is not supported/],
    'empty.jpg': [Buffer.from([0xff, 0xd8, 0xff]), /JPEG/],
    // told apart by their first bytes, whatever their names say
    'photo.webp': [Buffer.from('RIFF\0\0\0\0WEBPVP8 '), /a WebP image: dyce reads PNG and JPEG files only; convert it to PNG/],
    'photo.npy': [Buffer.from('GIF89a\0\0\0\0'), /a GIF image: dyce reads PNG and JPEG files only/],
    'notes': [Buffer.from('not an image\n'), /neither a \.npy array nor a PNG or JPEG image \(by its first bytes\)/],
  };
  for (const [name, [bytes, phrase]] of Object.entries(files)) {
    const f = path.join(dir, name);
    fs.writeFileSync(f, bytes);
    for (const kind of kinds) {
      const r = runCli(kind, ['run', fmnist, '--input', f]);
      assert.equal(r.signal, null, `${kind} ${name}`);
      assert.equal(r.status, 1, `${kind} ${name}: ${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${kind} ${name}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`^dyce: error: ${f}: `), `${kind} ${name}`);
      assert.match(r.stderr, phrase, `${kind} ${name}: ${r.stderr}`);
    }
  }
  const py = spawnSync(python, ['-c', `
import json, os, sys
sys.path.insert(0, os.path.join(${JSON.stringify(root)}, 'models'))
from dyce_build import images
out = {}
for f in sys.argv[1:]:
    try:
        images.load_uint8(f, 28, 1)
        out[f] = None
    except ValueError as e:
        out[f] = str(e)
print(json.dumps(out))`, ...Object.keys(pngs).map((n) => path.join(dir, n))], { encoding: 'utf8' });
  assert.equal(py.status, 0, py.stderr);
  for (const [f, why] of Object.entries(JSON.parse(py.stdout))) {
    const [, phrase] = pngs[path.basename(f)];
    assert.ok(why !== null, `images.py read ${path.basename(f)}, which the engine refuses`);
    assert.match(why, phrase, path.basename(f));
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('dyce run reads a PNG by its bytes whatever its name, refuses a folder; dyce eval of a folder without split folders says which share it scores (native, WASI)', () => {
  const dir = tempDir('dyce-sniff-');
  const png = grayPng(Buffer.from(Array.from({ length: 28 * 28 }, (_, i) => (i * 7) % 256)), 28, 28);
  for (const name of ['a.png', 'scan', 'scan.jpg']) fs.writeFileSync(path.join(dir, name), png);
  for (const kind of kinds) {
    const answers = ['a.png', 'scan', 'scan.jpg'].map((name) => {
      const r = runCli(kind, ['run', fmnist, '--input', path.join(dir, name)]);
      assert.equal(r.status, 0, `${kind} ${name}: ${r.stderr}`);
      const { label, score } = JSON.parse(r.stdout);
      return [label, score];
    });
    assert.deepEqual(answers[1], answers[0], kind);
    assert.deepEqual(answers[2], answers[0], kind);
    const folder = runCli(kind, ['run', fmnist, '--input', dir]);
    assert.equal(folder.status, 1, kind);
    assert.match(folder.stderr, /: a folder; --input takes one file/, kind);
  }
  // DIR/test given where DIR was meant: its class folders are a data set
  // of their own, and only the held-out share of it is scored — said.
  const test = path.join(dir, 'data/test');
  for (const [k, cls] of ['Bag', 'Trouser'].entries()) {
    fs.mkdirSync(path.join(test, cls), { recursive: true });
    for (let i = 0; i < 10; i++) fs.writeFileSync(path.join(test, cls, `${i}.png`), grayPng(Buffer.alloc(28 * 28, 40 * k + i), 28, 28));
  }
  for (const kind of kinds) {
    const r = runCli(kind, ['eval', fmnist, '--data', test, '--records', 'none', '--json']);
    assert.equal(r.status, 0, `${kind}: ${r.stderr}`);
    const n = JSON.parse(r.stdout).n;
    assert.ok(n > 0 && n < 20, `${kind}: ${n}`);
    // records of other data (the shipped package's golden cut, of the IDX test set)
    const other = runCli(kind, ['eval', fmnist, '--data', test, '--records', path.join(root, 'tests/golden/fashion-mnist.golden.records')]);
    assert.equal(other.status, 1, kind);
    assert.match(other.stderr, /records sample \d+ (is data sample \d+, but \S+ split has \d+|\(data sample \d+\) has label \d+, the data \d+): records of another data folder/, kind);
    assert.match(r.stderr, new RegExp(`note: \\S+data/test has no split folders \\(train/, test/, val/\\): its class folders are one data set whose test split is 0\\.2 of the files, chosen by their paths: ${n} files here`), kind);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});

test('dyce eval: without labels, folders are classes in sorted order; more folders than outputs is an error (native, WASI)', () => {
  const pkg = path.join(root, 'build/testmodels/resnet20.dyce'); // 10 outputs, no labels
  const dir = tempDir('dyce-nolabels-');
  const png = grayPng(Buffer.alloc(28 * 28, 99), 28, 28);
  const folders = (n) => {
    fs.rmSync(path.join(dir, 'test'), { recursive: true, force: true });
    for (let c = 0; c < n; c++) {
      fs.mkdirSync(path.join(dir, 'test', `class${String(c).padStart(2, '0')}`), { recursive: true });
      fs.writeFileSync(path.join(dir, 'test', `class${String(c).padStart(2, '0')}`, 'a.png'), png);
    }
  };
  folders(10);
  for (const kind of kinds) {
    const r = runCli(kind, ['eval', pkg, '--data', dir, '--json']);
    assert.equal(r.status, 0, `${kind}: ${r.stderr}`);
    assert.equal(JSON.parse(r.stdout).n, 10, kind);
  }
  folders(11);
  for (const kind of kinds) {
    const r = runCli(kind, ['eval', pkg, '--data', dir]);
    assert.equal(r.status, 1, kind);
    assert.match(r.stderr, /^dyce: error: .*test: 11 class folders, but the package has no labels and its classifier outputs 10 values: folders are classes 0\.\.9/, kind);
  }
  fs.rmSync(dir, { recursive: true, force: true });
});
