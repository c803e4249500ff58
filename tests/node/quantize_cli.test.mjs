// The command lines of models/quantize.py and models/convert.py on bad
// input (docs/INT8.md): a corrupt package is refused in one line naming the
// file and the reason (dyce_format's reader; the engine's loader when the
// quantizer fails on what the reader let through), never with a traceback; a seeded mutation loop over a small
// package gives either a quantized package or such a line; a failing
// --search (checked before quantizing) writes nothing and leaves an
// in-place input as it was; out-of-range and silently ignored options are
// usage errors. The package is a two-graph float one (saver0, head: 28x28x1,
// the Fashion-MNIST labels) made here, so every run takes a second or two.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test, { after } from 'node:test';

import { python, root, tempDir } from './harness.mjs';

const FMNIST = '/usr/share/datasets/fashion-mnist';
const QUANTIZE = path.join(root, 'models/quantize.py');
const CONVERT = path.join(root, 'models/convert.py');

const FIXTURE = String.raw`
# argv: OUT.dyce OUT.onnx CALDIR. Two graphs (saver0, head), each conv
# 4x4/4 + ReLU, global average pool, fully connected to the 10
# Fashion-MNIST classes; a one-conv ONNX model for convert.py; four 28x28
# gray images in CALDIR/a/ (calibration read faster than the IDX files).
import os, sys
import numpy as np
import torch
from PIL import Image
sys.path.insert(0, os.path.join(os.getcwd(), 'models'))
import dyce_format as fmt
from dyce_format import Node, node_params as P
rng = np.random.default_rng(3)
def graph(name):
    conv = P(KH=4, KW=4, SH=4, SW=4, DH=1, DW=1, GROUPS=1)
    return fmt.Graph(name, fmt.NONE, [(1, 28, 28, 1), (1, 7, 7, 8), (1, 1, 1, 8), (1, 1, 1, 10)], [
        Node('conv2d', [0], 1, act='relu', weight=(rng.standard_normal((8, 4, 4, 1)) * 0.3).astype('f4'),
             bias=np.zeros(8, 'f4'), params=conv),
        Node('global_avg_pool', [1], 2),
        Node('fully_connected', [2], 3, weight=rng.standard_normal((10, 8)).astype('f4'), bias=np.zeros(10, 'f4')),
    ], 0, 3)
labels = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']
with open(sys.argv[1], 'wb') as f:
    f.write(fmt.write_package([graph('saver0'), graph('head')], fmt.InputSpec(28, 28, 1, [0.286], [0.353]), labels))
os.makedirs(os.path.join(sys.argv[3], 'a'))
for i in range(4):
    Image.fromarray(rng.integers(0, 256, (28, 28), dtype=np.uint8)).save(os.path.join(sys.argv[3], 'a', f'{i}.png'))
torch.manual_seed(0)
torch.onnx.export(torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU()).eval(),
                  torch.zeros(1, 1, 8, 8), sys.argv[2], opset_version=13)
`;

// argv: PACKAGE CALDIR WORKDIR COUNT SEED. Overwrites 1-2 four-byte words of the
// header, the section table and every section but WGHT (or truncates the
// file) COUNT times, runs quantize.py's main in this process on each, and
// prints what happened: rc 0 (quantized), rc != 0 with one stderr line
// (refused), or anything else (an exception, several lines) in "bad".
const MUTATE = String.raw`
import contextlib, io, json, os, random, struct, sys, traceback
sys.path.insert(0, os.path.join(os.getcwd(), 'models'))
from converter import quantize_cli
src, cal, work, count, seed = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
data = open(src, 'rb').read()
n = struct.unpack_from('<I', data, 12)[0]
words = list(range(8, 64 + 32 * n, 4))
for i in range(n):
    tag, _, off, size = struct.unpack_from('<4sIQQ', data, 64 + 32 * i)
    if tag != b'WGHT':
        words += range(off, off + size - 3, 4)
rng = random.Random(seed)
res = {'total': 0, 'quantized': 0, 'refused': 0, 'bad': []}
for k in range(count):
    d = bytearray(data)
    if k % 10 == 9:
        d = d[:rng.randrange(len(d))]
    for _ in range(rng.choice([1, 1, 2])):
        off = rng.choice(words)
        old = struct.unpack_from('<I', data, off)[0]
        d[off:off + 4] = struct.pack('<I', rng.choice([0, 0xffffffff, 0x7fff, rng.randrange(64),
                                                      rng.getrandbits(32), (old + 1) & 0xffffffff]))
    if bytes(d) == data:
        continue
    pkg, out = os.path.join(work, 'm.dyce'), os.path.join(work, 'm-int8.dyce')
    open(pkg, 'wb').write(d)
    err = io.StringIO()
    res['total'] += 1
    try:
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = quantize_cli.main([pkg, '-o', out, '--calibration', cal, '--calibration-count', '4'])
        lines = err.getvalue().strip().splitlines()
        if rc == 0 and not lines:
            res['quantized'] += 1
        elif rc != 0 and len(lines) == 1 and not os.path.exists(out):
            res['refused'] += 1
        else:
            res['bad'].append([off, rc, lines[-3:]])
    except BaseException as e:
        res['bad'].append([off, type(e).__name__, str(e)[:200], traceback.format_exc()[-600:]])
    if os.path.exists(out):
        os.remove(out)
print(json.dumps(res))
`;

// argv: JSON [[CLI, [ARGS]], ...], CLI "quantize.py" or "convert.py". Runs
// each command line's main in this one process (the imports take seconds;
// the runs are short), as sys.argv[0] = CLI; prints [{status, stdout,
// stderr}], status the exit status (a SystemExit's for usage errors).
const MAINS = String.raw`
import contextlib, io, json, os, sys, traceback
sys.path.insert(0, os.path.join(os.getcwd(), 'models'))
from converter import cli, quantize_cli
out = []
for name, args in json.loads(sys.argv[1]):
    sys.argv[0] = name
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try:
            status = (quantize_cli if name == 'quantize.py' else cli).main(args)
        except SystemExit as x:
            status = x.code
        except BaseException:
            status = None
            traceback.print_exc()
    out.append({'status': status, 'stdout': o.getvalue(), 'stderr': e.getvalue()})
print(json.dumps(out))
`;

const dir = tempDir('dyce-quantize-cli-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const tiny = path.join(dir, 'tiny.dyce');
const onnx = path.join(dir, 'tiny.onnx');
const cal = path.join(dir, 'cal');
const made = spawnSync(python, ['-c', FIXTURE, tiny, onnx, cal], { cwd: root, encoding: 'utf8', timeout: 120_000 });
assert.equal(made.status, 0, `fixture failed:\n${made.stderr}`);
const tinyBytes = fs.readFileSync(tiny);

/** Runs a Python CLI as its own process; resolves {status, stdout, stderr}. */
function run(script, args) {
  return new Promise((resolve) => {
    const child = spawn(python, [script, ...args], { cwd: root });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

/** The mains of [[script, args], ...] in one Python process (MAINS);
 * resolves their [{status, stdout, stderr}]. */
function runMains(calls) {
  return new Promise((resolve, reject) => {
    const json = JSON.stringify(calls.map(([script, args]) => [path.basename(script), args]));
    const child = spawn(python, ['-c', MAINS, json], { cwd: root });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('close', (status) => (status === 0 ? resolve(JSON.parse(stdout.trim().split('\n').pop()))
      : reject(new Error(`python failed (${status}):\n${stderr}`))));
  });
}

/** A fresh folder holding `files` ({name: bytes}). */
let folders = 0;
function folder(files = {}) {
  const d = path.join(dir, `case${folders++}`);
  fs.mkdirSync(d);
  for (const [name, bytes] of Object.entries(files)) fs.writeFileSync(path.join(d, name), bytes);
  return d;
}

function oneLine(r, re, what) {
  assert.doesNotMatch(r.stderr, /Traceback/, `${what}: ${r.stderr}`);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: ${r.stderr}`);
  assert.match(r.stderr, re, what);
}

/** The section table entry of `tag`: its byte position in the file. */
function entry(bytes, tag) {
  const count = bytes.readUInt32LE(12);
  for (let i = 0; i < count; i++) {
    const at = 64 + 32 * i;
    if (bytes.toString('latin1', at, at + 4) === tag) return at;
  }
  throw new Error(`no section ${tag}`);
}

function sectionOffset(bytes, tag) {
  return Number(bytes.readBigUInt64LE(entry(bytes, tag) + 8));
}

function mutated(change) {
  const b = Buffer.from(tinyBytes);
  return change(b) ?? b;
}

const CORRUPT = {
  'section offset out of the file': [mutated((b) => { b.writeBigUInt64LE(0xffffffffn, entry(b, 'TENS') + 8); }),
    /section 'TENS' offset 4294967295 is not 16-byte aligned/],
  'required section missing': [mutated((b) => { b.write('XODE', entry(b, 'NODE'), 'latin1'); }),
    /required section 'NODE' is missing/],
  'graph name not UTF-8': [mutated((b) => { b[sectionOffset(b, 'STRS')] = 0xff; }), /graph 0 name: .*not UTF-8/],
  'string offset outside the table': [mutated((b) => { b.writeUInt32LE(0x7fffffff, sectionOffset(b, 'GRPH') + 16); }),
    /graph 0 name: string offset 2147483647 is outside the string table/],
  'node tensor out of range': [mutated((b) => { b.writeUInt32LE(99, sectionOffset(b, 'NODE') + 16); }),
    /graph 0 node 0: tensors \[99\] -> 1: the graph has 4/],
  'section count': [mutated((b) => { b.writeUInt32LE(0xffff, 12); }), /section count 65535/],
  'truncated': [tinyBytes.subarray(0, 1000), new RegExp(`header says ${tinyBytes.length} bytes but 1000 were given \\(truncated\\?\\)`)],
  'text file': [Buffer.from('hello\n'), /file is 6 bytes, shorter than the 64-byte header/],
  'empty file': [Buffer.alloc(0), /file is 0 bytes/],
  // Read by dyce_format (it checks what it reads), fails in the quantizer:
  // the reason is the engine's loader's. Node 0's groups (p[10]) made 2.
  'conv groups': [mutated((b) => { b.writeUInt32LE(2, sectionOffset(b, 'NODE') + 48 + 4 * 10); }),
    /graph 'saver0' node 0 \(conv2d\): groups 2 must divide/],
};

test('corrupt packages are refused in one line with the reason', async () => {
  const d = folder();
  const cases = Object.entries(CORRUPT).map(([name, [bytes, re]], i) => {
    const pkg = path.join(d, `bad${i}.dyce`), out = path.join(d, `out${i}.dyce`);
    fs.writeFileSync(pkg, bytes);
    return [name, pkg, out, re, [pkg, '-o', out, '--calibration', cal, '--calibration-count', '4']];
  });
  // All in one process; the first again as a quantize.py process.
  const [mains, alone] = await Promise.all([runMains(cases.map((c) => [QUANTIZE, c[4]])), run(QUANTIZE, cases[0][4])]);
  const results = [...cases.map((c, i) => [...c.slice(0, 4), mains[i]]), [`${cases[0][0]} (process)`, ...cases[0].slice(1, 4), alone]];
  for (const [name, pkg, out, re, r] of results) {
    assert.equal(r.status, 1, `${name}: ${r.stderr}`);
    oneLine(r, new RegExp(`^quantize\\.py: ${pkg} is not a valid \\.dyce package: `), name);
    assert.match(r.stderr, re, name);
    assert.ok(!fs.existsSync(out), `${name}: an output was written`);
  }
});

test('mutation loop: every mutated package is quantized or refused in one line', () => {
  const work = folder();
  const r = spawnSync(python, ['-c', MUTATE, tiny, cal, work, '150', '5'], { cwd: root, encoding: 'utf8', timeout: 300_000 });
  assert.equal(r.status, 0, r.stderr);
  const res = JSON.parse(r.stdout.trim().split('\n').pop());
  console.log(`${res.total} mutated packages: ${res.refused} refused in one line, ${res.quantized} quantized, ` +
    `${res.bad.length} other`);
  assert.deepEqual(res.bad, []);
  assert.equal(res.refused + res.quantized, res.total);
  assert.ok(res.refused >= res.total / 3, `only ${res.refused} of ${res.total} refused`);
  assert.deepEqual(fs.readdirSync(work).sort(), ['m.dyce']);
});

test('a failing --search writes nothing and leaves an in-place input as it was', async () => {
  const other = folder();
  for (const split of ['train', 'test']) {
    fs.mkdirSync(path.join(other, split, 'zz'), { recursive: true });
    fs.writeFileSync(path.join(other, split, 'zz', 'x.png'), 'not read');
  }
  const cases = {
    'class not in the package': [other, /class folder 'zz' is not one of the 10 classes the labels name \(.*from --labels or the package/],
    'not a directory': [path.join(dir, 'nowhere'), /nowhere: not a directory/],
  };
  const calls = Object.entries(cases).flatMap(([name, [data, re]]) => {
    const inPlace = folder({ 'p.dyce': tinyBytes }), apart = folder({ 'p.dyce': tinyBytes });
    const common = ['--calibration', cal, '--calibration-count', '4', '--search', data, '--search-count', '20'];
    return [[`${name}, -o = input`, inPlace, re,
      [path.join(inPlace, 'p.dyce'), '-o', path.join(inPlace, 'p.dyce'), ...common]],
    [`${name}, -o elsewhere`, apart, re, [path.join(apart, 'p.dyce'), '-o', path.join(apart, 'q.dyce'), ...common]]];
  });
  const results = await runMains(calls.map((c) => [QUANTIZE, c[3]]));
  for (const [i, [name, d, re]] of calls.entries()) {
    const r = results[i];
    assert.equal(r.status, 1, `${name}: ${r.stderr}`);
    oneLine(r, re, name);
    assert.doesNotMatch(r.stdout, /quantized in/, `${name}: quantized before checking --search`);
    assert.deepEqual(fs.readdirSync(d), ['p.dyce'], `${name}: files left`);
    assert.ok(fs.readFileSync(path.join(d, 'p.dyce')).equals(tinyBytes), `${name}: the input changed`);
  }
});

test('--search in place: the input replaced only when everything succeeded', () => {
  const d = folder({ 'p.dyce': tinyBytes });
  const pkg = path.join(d, 'p.dyce');
  const r = spawnSync(python, [QUANTIZE, pkg, '-o', pkg, '--calibration', cal, '--calibration-count', '4',
    '--search', FMNIST, '--search-count', '40', '--test-count', '40', '--val-fraction', '0.002', '--val-count', '40'],
  { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /search: \d+ configurations/);
  assert.match(r.stdout, /warning: calibrating on 4 images: activation ranges seen on so few can clip/);
  // 120 validation images carved, 40 of them read (as build.py --limit 40 reads)
  assert.match(r.stdout, /records: train 40, val 40, test 40 images of /);
  assert.deepEqual(fs.readdirSync(d).sort(), ['p.dyce', 'p.records']);
  const written = fs.readFileSync(pkg);
  assert.equal(written.readUInt32LE(4), 2, 'not an int8 (version 2) package');
  assert.equal(fs.statSync(pkg).mode & 0o777, 0o666 & ~process.umask());
});

const USAGE = {
  '--val-fraction 1.5': [['--search', FMNIST, '--val-fraction', '1.5'], /--val-fraction: in \(0, 1\)/],
  '--val-fraction -0.5': [['--search', FMNIST, '--val-fraction', '-0.5'], /--val-fraction: in \(0, 1\)/],
  '--test-fraction 1': [['--search', FMNIST, '--test-fraction', '1'], /--test-fraction: in \(0, 1\)/],
  '--search-count 0': [['--search', FMNIST, '--search-count', '0'], /--search-count: at least 1/],
  '--search-count -5': [['--search', FMNIST, '--search-count', '-5'], /--search-count: at least 1/],
  '--test-count 0': [['--search', FMNIST, '--test-count', '0'], /--test-count: at least 1/],
  '--val-count 0': [['--search', FMNIST, '--val-count', '0'], /--val-count: at least 1/],
  '--val-count without --search': [['--val-count', '10'], /--val-count needs --search/],
  '--lambda-step 0': [['--search', FMNIST, '--lambda-step', '0'], /--lambda-step: at least 1e-6/],
  '--calibration-count 0': [['--calibration-count', '0'], /--calibration-count: at least 1/],
  '--percentile without its method': [['--percentile', '50'], /--percentile needs --calibration-method percentile/],
  '--percentile out of range': [['--calibration-method', 'percentile', '--percentile', '40'], /--percentile: 50 < P <= 100/],
  '--records without --search': [['--records', 'r.records'], /--records needs --search/],
  '--search-count without --search': [['--search-count', '10'], /--search-count needs --search/],
  '--val-fraction without --search': [['--val-fraction', '0.2'], /--val-fraction needs --search/],
};

const CONVERT_USAGE = {
  '--calibration without --int8': [['--calibration', FMNIST], /--calibration needs --int8/],
  '--keep-float without --int8': [['--keep-float', 'main'], /--keep-float needs --int8/],
  '--calibration-count without --int8': [['--calibration-count', '10'], /--calibration-count needs --int8/],
  '--percentile without its method': [['--int8', '--calibration', FMNIST, '--percentile', '99'],
    /--percentile needs --calibration-method percentile/],
};

test('out-of-range and silently ignored options are usage errors', async () => {
  const d = folder();
  const calls = [
    ...Object.entries(USAGE).map(([name, [args, re]], i) =>
      [name, re, QUANTIZE, [tiny, '-o', path.join(d, `q${i}.dyce`), '--calibration', FMNIST, ...args]]),
    ...Object.entries(CONVERT_USAGE).map(([name, [args, re]], i) =>
      [`convert.py ${name}`, re, CONVERT, [onnx, '-o', path.join(d, `c${i}.dyce`), ...args]]),
  ];
  // All in one process; the first of each CLI again as its own process.
  const first = [calls[0], calls[Object.keys(USAGE).length]];
  const [mains, ...alone] = await Promise.all([runMains(calls.map((c) => c.slice(2))),
    ...first.map((c) => run(c[2], c[3]))]);
  const runs = [...calls.map((c, i) => [c[0], c[1], mains[i]]),
    ...first.map((c, i) => [`${c[0]} (process)`, c[1], alone[i]])];
  for (const [name, re, r] of runs) {
    assert.equal(r.status, 2, `${name}: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /Traceback/, name);
    assert.match(r.stderr.trim().split('\n').pop(), re, name);
  }
  assert.deepEqual(fs.readdirSync(d), [], 'an output was written');
});

test('convert.py without the int8 options still converts; without --mean/--std it warns that pictures go in unnormalised', () => {
  const out = path.join(folder(), 'c.dyce');
  let r = spawnSync(python, [CONVERT, onnx, '-o', out], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(fs.readFileSync(out).readUInt32LE(4), 1);
  assert.match(r.stderr, /^convert\.py: warning: no --mean\/--std: pictures go in as pixels scaled to 0-1, unnormalised/);
  r = spawnSync(python, [CONVERT, onnx, '-o', out, '--mean', '0.5', '--std', '0.25'], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
});
