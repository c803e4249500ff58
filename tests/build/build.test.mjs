// models/build.py end to end, in smoke mode (every step on a few samples):
// (a) Fashion-MNIST written out as PNG files + torchvision:resnet18 with one
// input channel, (b) an ImageNet-shaped build (mobilenet_v3_large, 224x224x3,
// 1 000 classes) classified through the cascade by the browser module,
// (c) the same build on two torchrun processes, (d) bad inputs refused
// before any training. Every run writes under a temporary directory.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

import ort from 'onnxruntime-node';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PY = '/usr/bin/python3';
const BUILD = path.join(root, 'models/build.py');
const BACKBONES = path.join(root, 'tests/build/backbones.py');
const DYCE = path.join(root, 'build/native/dyce');
let tmp;

function run(cmd, args, { cwd = tmp, env = {} } = {}) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function build(args, opts) {
  return run(PY, [BUILD, '--smoke', '--threads', '1', ...args], opts);
}

/** A build sent `signal` (SIGKILL) once its output matches `when`: → its output so far (and .code). */
function killedBuild(args, when, signal = 'SIGKILL') {
  return new Promise((resolve) => {
    const child = spawn(PY, [BUILD, '--smoke', '--threads', '1', ...args], { cwd: root });
    let out = '', sent = false;
    const seen = (d) => {
      out += d;
      if (!sent && when.test(out)) sent = child.kill(signal);
    };
    child.stdout.on('data', seen);
    child.stderr.on('data', seen);
    child.on('close', (code) => resolve(Object.assign(new String(out), { code })));
  });
}

function mustBuild(args, opts) {
  const r = build(args, opts);
  assert.equal(r.code, 0, `build failed:\n${r.err.slice(-3000)}\n${r.out.slice(-2000)}`);
  return r;
}

const readJson = (p) => JSON.parse(fs.readFileSync(p, 'utf8'));

/** The records file as {version, classes, names, splits: {name: {label, top1[], conf[]}}}. */
function readRecords(file) {
  const r = run(PY, ['-c', `
import json, sys
sys.path.insert(0, ${JSON.stringify(path.join(root, 'models'))})
from dyce_build import records_file as rf
raw = open(sys.argv[1], 'rb').read()
rec = rf.decode(raw)
print(json.dumps({"version": int.from_bytes(raw[8:12], "little"), "classes": rec["classes"], "names": rec["names"],
  "splits": {s["name"]: {"label": s["label"].tolist(), "top1": s["top1"].tolist(), "conf": s["conf"].tolist()} for s in rec["splits"]}}))
`, file]);
  assert.equal(r.code, 0, r.err);
  return JSON.parse(r.out);
}

before(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'dyce-build-')); });
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('models/build.py', () => {
  test('(a) Fashion-MNIST as PNG files + torchvision:resnet18 (one channel): a package whose every graph matches PyTorch in the engine', () => {
    const data = path.join(tmp, 'fmnist');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'fmnist', data, '8', '5']).code, 0);
    // What a real folder holds besides images: hidden files are ignored,
    // any other file is named in the data line (it is not read).
    const cls = fs.readdirSync(path.join(data, 'train')).sort()[0];
    fs.writeFileSync(path.join(data, 'train', cls, '.DS_Store'), 'x');
    fs.writeFileSync(path.join(data, 'train', cls, 'notes.txt'), 'x');
    const out = path.join(tmp, 'a/fm.dyce');
    const r = mustBuild(['--data', data, '--backbone', 'torchvision:resnet18', '--out', out, '--int8']);
    assert.match(r.out, new RegExp(`1 files skipped: not images; e\\.g\\. train/${cls}/notes\\.txt`));
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    const rep = readJson(path.join(tmp, 'a/fm.report.json'));
    assert.equal(rep.meta.classes, 10);
    assert.equal(rep.meta.input, '1x28x28');
    const names = rep.graphs.map((g) => g.graph);
    assert.deepEqual(names.filter((n) => n.startsWith('saver')), ['saver0', 'saver1', 'saver2']);
    assert.ok(names.filter((n) => n.startsWith('exit')).length >= 2 * 2, names.join());
    // The engine's test accuracy of every graph (dyce eval on the PNG folder) is
    // PyTorch's on the same images (the records), up to one near-tie.
    for (const g of rep.graphs) {
      assert.ok(Math.abs(g.engine_test_accuracy - g.pytorch.test) <= 1 / 50 + 1e-9, `${g.graph}: engine ${g.engine_test_accuracy} PyTorch ${g.pytorch.test}`);
    }
    assert.ok(rep.configs.length >= 2, 'a searched configuration and the backbone');
    // The headline a user may trust is chosen on validation, not on test: the
    // cheapest configuration (by its searched val MACs) within 0.5 pp of the
    // head's val accuracy.
    const headVal = rep.graphs.find((g) => g.graph === 'head').pytorch.val;
    const ok = rep.configs.filter((c) => c.val_accuracy_claimed !== null && 100 * (headVal - c.val_accuracy_claimed) <= 0.5);
    const cheapest = ok.reduce((a, c) => (a === null || c.val_macs_claimed < a.val_macs_claimed ? c : a), null);
    assert.equal(rep.within_half_pp.chosen_on_val, cheapest && cheapest.config);
    assert.match(fs.readFileSync(path.join(tmp, 'a/fm.report.md'), 'utf8'), /Chosen on validation alone .*: (\*\*[\w-]+\*\*|none)/);
    const info = JSON.parse(run(DYCE, ['info', out, '--json']).out);
    assert.ok(info.labels.includes('T-shirt_top') && info.labels.length === 10);
    assert.ok(fs.existsSync(path.join(tmp, 'a/fm.report.md')) && fs.existsSync(path.join(tmp, 'a/fm.report.svg')));
    // --int8: the package quantized beside it, with its own configurations.
    assert.ok(rep.int8.bytes <= 0.3 * rep.int8.float_bytes, `${rep.int8.bytes} of ${rep.int8.float_bytes}`);
    const q = JSON.parse(run(DYCE, ['info', path.join(tmp, 'a/fm-int8.dyce'), '--json']).out);
    assert.ok(q.graphs.every((g) => g.int8_nodes > 0), 'every graph runs int8');
    const configs = run(DYCE, ['eval', path.join(tmp, 'a/fm-int8.dyce'), '--data', data, '--config', 'all', '--json', '--limit', '8'])
      .out.trim().split('\n').map((l) => JSON.parse(l).config);
    assert.ok(configs.some((c) => c.startsWith('pareto-')), `searched configurations: ${configs}`);
    assert.match(fs.readFileSync(path.join(tmp, 'a/fm.report.md'), 'utf8'), /## Int8/);
  });

  test('(b) ImageNet-shaped: mobilenet_v3_large at 224x224x3 with 1 000 classes; the browser module classifies an RGB image through the cascade', async () => {
    const data = path.join(tmp, 'inet');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'imagenet', data]).code, 0);
    const out = path.join(tmp, 'b/inet.dyce');
    const r = mustBuild(['--data', data, '--labels', path.join(data, 'labels.txt'), '--size', '224',
      '--backbone', 'torchvision:mobilenet_v3_large', '--out', out]);
    assert.match(r.out, /exits after /);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    const rec = readRecords(path.join(tmp, 'b/inet.records'));
    assert.equal(rec.classes, 1000);
    assert.equal(rec.version, 2, 'labels past 255 need the u16 records');
    assert.ok(rec.splits.train.label.some((k) => k > 255));
    assert.ok(rec.names.filter((n) => n.startsWith('exit')).length >= 8, 'exits attached automatically');
    const rep = readJson(path.join(tmp, 'b/inet.report.json'));
    assert.equal(rep.meta.input, '3x224x224');
    assert.ok(rep.configs.length >= 1);

    const { load } = await import(path.join(root, 'wasm/index.mjs'));
    const model = await load(fs.readFileSync(out));
    try {
      assert.equal(model.labels.length, 1000);
      // A 224x224 RGBA picture (one of the synthetic test images' kind).
      const w = 224, h = 224, rgba = new Uint8ClampedArray(w * h * 4);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        const o = (y * w + x) * 4;
        rgba[o] = (x * 3 + y) % 256; rgba[o + 1] = (x * 3 + 40) % 256; rgba[o + 2] = (y * 2 + 90) % 256; rgba[o + 3] = 255;
      }
      const graphs = new Set(rec.names);
      for (const cfg of model.configs) {
        const res = await model.classify({ data: rgba, width: w, height: h }, { config: cfg.name });
        assert.ok(Number.isInteger(res.index) && res.index >= 0 && res.index < 1000);
        assert.equal(res.label, model.labels[res.index]);
        assert.ok(graphs.has(res.exit), `exit ${res.exit}`);
        assert.ok(res.macs > 0 && res.score > 0 && res.score <= 1);
      }
    } finally {
      model.dispose();
    }
  });

  test('(c) two torchrun processes: the same package as one process (backbone and exits identical, savers within 25 pp)', () => {
    const data = path.join(tmp, 'fmnist');
    const common = ['--data', data, '--backbone', `${BACKBONES}:small_cnn`];
    mustBuild([...common, '--out', path.join(tmp, 'c0/p.dyce')]);
    const weights = path.join(tmp, 'c0/p.work/backbone.pt');
    assert.ok(fs.existsSync(weights));
    mustBuild([...common, '--weights', weights, '--out', path.join(tmp, 'c1/p.dyce')]);
    // --redirects 1 --tee 1: Debian's torchrun (PyTorch 1.13 under Python 3.11)
    // fails on its default '--redirects 0' (enum.Flag no longer iterates the
    // zero member, so Std.from_str('0') is None); teeing stdout avoids it.
    const r = run('/usr/bin/torchrun', ['--nproc_per_node', '2', '--master_port', String(29500 + (process.pid % 1000)), '--redirects', '1', '--tee', '1',
      BUILD, '--smoke', '--threads', '1', ...common, '--weights', weights, '--out', path.join(tmp, 'c2/p.dyce')]);
    assert.equal(r.code, 0, r.err.slice(-3000));
    const one = readRecords(path.join(tmp, 'c1/p.records')), two = readRecords(path.join(tmp, 'c2/p.records'));
    assert.deepEqual(two.names, one.names);
    const splits = ['train', 'val', 'test'];
    for (const split of splits) {
      assert.deepEqual(two.splits[split].label, one.splits[split].label);
      one.names.forEach((name, g) => {
        if (name.startsWith('saver')) return;
        const a = one.splits[split], b = two.splits[split];
        assert.deepEqual(b.top1[g], a.top1[g], `${split} ${name}: sharded inference differs`);
        a.conf[g].forEach((c, i) => assert.ok(Math.abs(c - b.conf[g][i]) < 1e-5));
      });
    }
    // The savers train under DistributedDataParallel (each rank half of every
    // batch): not the same numbers, the same skill, over all 144 samples.
    one.names.forEach((name, g) => {
      if (!name.startsWith('saver')) return;
      const acc = (rec) => {
        let right = 0, n = 0;
        for (const split of splits) {
          const s = rec.splits[split];
          s.top1[g].forEach((t, i) => { right += t === s.label[i]; n++; });
        }
        return right / n;
      };
      assert.ok(Math.abs(acc(one) - acc(two)) <= 0.25, `${name}: ${acc(one)} vs ${acc(two)}`);
    });
    assert.equal(readJson(path.join(tmp, 'c2/p.report.json')).meta.processes, 2);
  });

  test('blocks torch.fx cannot trace inside are kept whole: they end exit positions, and the package builds', () => {
    const args = ['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:iter_blocks`]; // (a)'s images
    const list = build([...args, '--list-exits']);
    assert.equal(list.code, 0, list.err);
    // Each block is one node (named as the block), ending itself.
    for (const block of ['blocks.0', 'blocks.1', 'blocks.2']) assert.match(list.out, new RegExp(`^\\s*${block.replace('.', '\\.')}\\s+ends .*${block.replace('.', '\\.')}`, 'm'), list.out);
    mustBuild([...args, '--out', path.join(tmp, 'whole/p.dyce')]);
    assert.ok(readRecords(path.join(tmp, 'whole/p.records')).names.some((n) => n.startsWith('exit')));
  });

  test('a flat nn.Sequential backbone (no blocks): its layer boundaries before each convolution are the exit positions', () => {
    const args = ['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:flat_cnn`]; // (a)'s images
    const list = build([...args, '--list-exits']);
    assert.equal(list.code, 0, list.err);
    assert.match(list.out, /before features\.3/, list.out);
    assert.match(list.out, /before features\.6/, list.out);
    mustBuild([...args, '--out', path.join(tmp, 'flat/p.dyce')]);
    assert.equal(readRecords(path.join(tmp, 'flat/p.records')).names.filter((n) => n.startsWith('exit')).length, 4, 'two positions, two exit types each');
    // Its head ends in nn.Softmax: the records take its outputs as
    // probabilities, as the engine does (no second softmax).
    assert.deepEqual(readJson(path.join(tmp, 'flat/p.work/probability-graphs.json')), ['head']);
  });

  test('a backbone that views its feature map (x.view(-1, 320), the classic MNIST example) trains: no channels-last tensors for it', () => {
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:view_cnn`, '--out', path.join(tmp, 'view/p.dyce')]);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
  });

  test('a colour net fed gray images (x.repeat), padding=\'same\', expand_as, a zero F.pad before a max pool: the package builds and matches PyTorch', () => {
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:colour_net`, '--out', path.join(tmp, 'colour/p.dyce')]);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
  });

  test('a CIFAR ResNet with the option-A shortcut (every other pixel, new channels zero: F.pad over channels): the package builds and matches PyTorch, the padding a 1x1 convolution that copies each channel', () => {
    const out = path.join(tmp, 'option-a/p.dyce');
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:option_a`, '--out', out]);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    assert.match(run(DYCE, ['info', out]).out, /conv2d .* out=14x14x32 .* macs=100352/);   // 16 -> 32 channels, 1x1
  });

  test('CBAM (means and maxima over channels at each pixel) and a VGG head whose adaptive pools do not divide the map: the package builds and matches PyTorch', () => {
    const out = path.join(tmp, 'cbam/p.dyce');
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:cbam_vgg`, '--out', out]);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    const info = run(DYCE, ['info', out]).out;
    assert.match(info, /channel_reduce/);
    assert.match(info, /adaptive_pool .* out=2x2x32/);
    assert.match(info, /adaptive_pool .* out=3x3x32/);
  });

  test('a ViT (class token, positions, multi-head attention): exits on its tokens, the package builds and matches PyTorch', () => {
    const out = path.join(tmp, 'vit/p.dyce');
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:vit`, '--out', out]);
    assert.match(r.out, /exits after blocks\.\d\.add_1/);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    const info = run(DYCE, ['info', out]).out;
    assert.match(info, /matmul .* out=1x17x34 /);       // scores: 17 tokens, 2 heads
    assert.match(info, /graph exit1_a <- stage1/);
  });

  test('PyTorch\'s nn.TransformerEncoder and nn.MultiheadAttention: exits after its layers, the package builds and matches PyTorch', () => {
    const out = path.join(tmp, 'torch-vit/p.dyce');
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:torch_vit`, '--out', out]);
    assert.match(r.out, /exits after encoder\.layers\.0/);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    assert.match(run(DYCE, ['info', out]).out, /matmul .* out=1x17x68 /);   // 17 tokens, 4 heads
  });

  test('torchvision\'s Swin (channels-last features, attention within shifted windows, patch merging): exits pool over H and W, the package builds and matches PyTorch', () => {
    const out = path.join(tmp, 'swin/p.dyce');
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:swin`, '--out', out]);
    assert.match(r.out, /exits after .*features\.1\.0\.add_1 .*features\.2\.reduction/);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    const info = run(DYCE, ['info', out]).out;
    assert.match(info, /matmul .* out=16x16x32 /);      // 16 windows of 16 tokens, 2 heads
    assert.match(info, /graph exit1_a <- stage1/);
  });

  test('torchvision\'s MaxViT (maps regrouped into windows between its attention layers): no exit where the map is regrouped, exits where it is whole again; the package builds and matches PyTorch', () => {
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:maxvit`, '--out', path.join(tmp, 'maxvit/p.dyce')]);
    assert.match(r.out, /exits after .*grid_attention\.departition_op\.reshape_1/);
    assert.doesNotMatch(r.out, /exits after .*departition_swap/);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
  });

  test('a forward that reads n, c, h, w = x.shape: traced (exits after its blocks), builds and matches PyTorch', () => {
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:shape_unpack`, '--out', path.join(tmp, 'unpack/p.dyce')]);
    assert.match(r.out, /exits after body\.0/);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
  });

  test('sizes read where numbers are needed (F.avg_pool2d(x, x.size()[2:]), F.interpolate to y.shape[-2:], ECA\'s Conv1d, if x.size(1) != c): traced with the sizes as numbers, builds and matches PyTorch on any batch', () => {
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:size_reads`, '--out', path.join(tmp, 'sizes/p.dyce')]);
    assert.match(r.out, /exits after relu \(\d+ %\), add/);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
  });

  test('a backbone that returns (logits, features): the one (1, K) output is taken as the logits, names unchanged', () => {
    const r = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', `${BACKBONES}:logits_and_features`, '--out', path.join(tmp, 'tuple/p.dyce')]);
    assert.match(r.out, /returns 2 values; its output \[0\], \(1, 10\), is taken as the logits/);
    assert.match(r.out, /exits after body\./);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
  });

  test('IDX files with --size 32: the engine resizes them as the build did, so every graph\'s engine test accuracy is PyTorch\'s (it refused the 28x28 data after training before)', () => {
    const out = path.join(tmp, 'idx32/p.dyce');
    mustBuild(['--data', '/usr/share/datasets/fashion-mnist', '--backbone', `${BACKBONES}:small_cnn`, '--size', '32', '--savers', 'none', '--out', out]);
    const rep = readJson(path.join(tmp, 'idx32/p.report.json'));
    assert.equal(rep.meta.input, '1x32x32');
    for (const g of rep.graphs)
      assert.ok(Math.abs(g.engine_test_accuracy - g.pytorch.test) < 1e-5, `${g.graph}: engine ${g.engine_test_accuracy} PyTorch ${g.pytorch.test}`);
  });

  test('ImageNet\'s layout (train/ and val/, no test/): val/ is the test split, validation is carved from train/, and dyce eval reads val/ as its test split by default, compared with the records', () => {
    const data = path.join(tmp, 'trainval');
    const r0 = run(PY, ['-c', `
import os, numpy as np
from PIL import Image
rng = np.random.default_rng(5)
for split, n in (("train", 10), ("val", 4)):
    for c in ("cat", "dog"):
        d = os.path.join(${JSON.stringify(data)}, split, c)
        os.makedirs(d, exist_ok=True)
        for i in range(n):
            Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(os.path.join(d, f"{i}.png"))
`]);
    assert.equal(r0.code, 0, r0.err);
    const out = path.join(tmp, 'tv/p.dyce');
    const r = mustBuild(['--data', data, '--backbone', `${BACKBONES}:small_cnn`, '--out', out]);
    assert.match(r.out, /no test\/: val\/ is the test split, validation carved from train\/.* test 8;/);
    assert.equal(readJson(path.join(tmp, 'tv/p.report.json')).meta.sizes, '18/2/8');
    // dyce eval reads val/ as the test split too: the records' test split
    // describes it, so the engine is compared with PyTorch on it.
    const ev = JSON.parse(run(DYCE, ['eval', out, '--data', data, '--graph', 'head', '--json']).out.trim().split('\n')[0]);
    assert.deepEqual([ev.split, ev.n, ev.compared, ev.agreement], ['test', 8, 8, 1], JSON.stringify(ev));
    const carved = run(DYCE, ['eval', out, '--data', data, '--split', 'val', '--graph', 'head', '--json']);
    assert.deepEqual(JSON.parse(carved.out).n, 2, carved.err); // validation: carved from train/
    fs.renameSync(path.join(data, 'val'), path.join(data, 'valid')); // Kaggle's name for it
    const kaggle = JSON.parse(run(DYCE, ['eval', out, '--data', data, '--graph', 'head', '--json']).out);
    assert.deepEqual([kaggle.split, kaggle.n, kaggle.compared, kaggle.agreement], ['test', 8, 8, 1], JSON.stringify(kaggle));
  });

  test('--weights takes a state dict, a whole module, a training checkpoint dict (tensors beside its state dict too), DataParallel and torch.compile keys; a dict without weights is refused', () => {
    const r = run(PY, ['-c', `
import collections, sys, torch
from torch import nn
sys.path.insert(0, ${JSON.stringify(path.join(root, 'models'))})
from dyce_build import backbones
from dyce_build.errors import BuildError
make = lambda: nn.Sequential(nn.Conv2d(1, 2, 3), nn.Linear(2, 2))
src = make()
sd = src.state_dict()
forms = {"state dict": sd, "module": src, "checkpoint": {"epoch": 3, "model_state_dict": sd, "optimizer": {}},
         "DataParallel": {"module." + k: v for k, v in sd.items()},
         "checkpoint of DataParallel": {"state_dict": {"module." + k: v for k, v in sd.items()}},
         "checkpoint with a tensor beside it": {"epoch": 3, "state_dict": sd, "best_acc1": torch.tensor(75.2)},
         "torch.compile": {"_orig_mod." + k: v for k, v in sd.items()}}
for name, form in forms.items():
    torch.save(form, "w.pt")
    got = backbones.load_weights(make(), "w.pt").state_dict()
    assert all(torch.equal(got[k], sd[k]) for k in sd), name
torch.save({"epoch": 3}, "w.pt")
try:
    backbones.load_weights(make(), "w.pt")
except BuildError as err:
    print("refused:", err)
# Names under a prefix the loader does not know; a tensor of another shape.
torch.save({"x." + k: v for k, v in sd.items()}, "w.pt")
try:
    backbones.load_weights(make(), "w.pt")
except BuildError as err:
    print("prefixed:", err)
torch.save({**sd, "0.weight": torch.zeros(3, 1, 3, 3)}, "w.pt")
try:
    backbones.load_weights(make(), "w.pt")
except BuildError as err:
    print("shape:", err)
`], { cwd: tmp });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /refused: --weights w\.pt: a dict without tensors or a state dict under state_dict, model_state_dict/);
    assert.match(r.out, /prefixed: --weights w\.pt does not fit the backbone: 4 of its tensors missing \(0\.weight, 0\.bias, 1\.weight, …\); 4 names the backbone lacks \(x\.0\.weight, x\.0\.bias, x\.1\.weight, …\); the file's names carry a prefix 'x\.': strip it/);
    assert.match(r.out, /shape: --weights w\.pt does not fit the backbone: size mismatch for 0\.weight/);
  });

  test('--lr auto: the rate whose short trial ends lowest (the larger within 5 %), every trial from the same start, the network and the random generator left as they were', () => {
    const r = run(PY, ['-c', `
import math, sys, types, torch
import numpy as np
from torch import nn
sys.path.insert(0, ${JSON.stringify(path.join(root, 'models'))})
from dyce_build import lr_probe
from dyce_build.fit import TrainConfig
assert lr_probe.pick([1.0, 0.9, 0.8, 0.85]) == 2
assert lr_probe.pick([0.83, 0.9, 0.8, 0.85]) == 0
assert lr_probe.pick([math.inf, 0.5, math.inf, 0.6]) == 1
assert lr_probe.pick([math.inf] * 4) is None
assert [lr_probe.trial_steps(n) for n in (3, 100, 300, 1000, 9000)] == [3, 24, 30, 48, 48]
rng = np.random.default_rng(0)
labels = rng.integers(0, 3, 200)
images = (rng.integers(0, 60, (200, 1, 8, 8)) + 60 * labels[:, None, None, None]).astype(np.uint8)
split = types.SimpleNamespace(images=images, labels=labels)
data = types.SimpleNamespace(train=split, normalise=lambda x: torch.as_tensor(x).float().div(255.0))
torch.manual_seed(1)
model = nn.Sequential(nn.Flatten(), nn.Linear(64, 32), nn.ReLU(), nn.Dropout(0.5), nn.Linear(32, 3))
before = {k: v.clone() for k, v in model.state_dict().items()}
state = torch.get_rng_state()
lines = []
lr = lr_probe.choose(model, data, TrainConfig(epochs=1, batch_size=20), 10, lines.append, "net", lambda x: x)
assert lr in lr_probe.CANDIDATES, lr
assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), "weights changed"
assert torch.equal(state, torch.get_rng_state()), "random generator moved"
few = []   # a --smoke run's one step, a tiny folder's few: no trials
assert lr_probe.choose(model, data, TrainConfig(epochs=1, batch_size=20), 2, few.append, "net", lambda x: x) == 0.2
assert "2 steps, too few to tell the rates apart: no trials" in few[0], few
print(lines[0])
`], { cwd: tmp });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /net: learning rate [\d.]+ \(--lr auto: mean loss over the last 5 of 10 steps at 0\.2: [\d.]+, 0\.05: [\d.]+, 0\.0125: [\d.]+, 0\.003: [\d.]+\)/);
  });

  test('--init starts training from weights that fit (a first convolution of other input channels adapted, a classifier for other classes fresh); --init with --weights is refused', () => {
    const r = run(PY, ['-c', `
import sys, torch, torchvision
sys.path.insert(0, ${JSON.stringify(path.join(root, 'models'))})
from dyce_build import backbones
src = torchvision.models.resnet18().state_dict()        # 3 channels, 1 000 classes
torch.save({"model": src}, "init.pt")
m = backbones.torchvision_backbone("resnet18", 10, 1, (28, 28))
loaded, adapted, fresh = backbones.init_weights(m, "init.pt")
got = m.state_dict()
assert torch.equal(got["conv1.weight"], src["conv1.weight"].sum(1, keepdim=True))
assert all(torch.equal(got[k], src[k]) for k in loaded)
m3 = backbones.torchvision_backbone("resnet18", 10, 6, (28, 28))
backbones.init_weights(m3, "init.pt")
assert torch.allclose(m3.state_dict()["conv1.weight"].sum(1), src["conv1.weight"].sum(1), atol=1e-5)
print(len(loaded), adapted, fresh)
`], { cwd: tmp });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^119 \['conv1\.weight'\] \['fc\.weight', 'fc\.bias'\]/);
    const b = mustBuild(['--data', path.join(tmp, 'fmnist'), '--backbone', 'torchvision:resnet18', '--init', path.join(tmp, 'init.pt'), '--out', path.join(tmp, 'init/p.dyce')]);
    assert.match(b.out, /backbone: --init .*init\.pt: 119 tensors loaded, conv1\.weight adapted to 1 input channels, 2 fresh \(fc\.weight, fc\.bias\); now trained/);
    assert.match(b.out, /engine check: \d+ graphs match PyTorch/);
    const both = build(['--data', path.join(tmp, 'fmnist'), '--backbone', 'torchvision:resnet18', '--init', path.join(tmp, 'init.pt'), '--weights', path.join(tmp, 'init.pt')]);
    assert.equal(both.code, 2, both.err);
    assert.match(both.err, /--init starts the backbone's training: not with --weights/);
  });

  test('a backbone file that imports a module beside it (as `python net.py` would find it)', () => {
    const dir = path.join(tmp, 'sibling');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'blocks.py'), 'from torch import nn\n\ndef block(i, o):\n    return nn.Sequential(nn.Conv2d(i, o, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2))\n');
    fs.writeFileSync(path.join(dir, 'net.py'), [
      'from torch import nn', 'from blocks import block', '',
      'class Net(nn.Module):',
      '    def __init__(self, n, c):',
      '        super().__init__()',
      '        self.f = nn.Sequential(block(c, 16), block(16, 32))',
      '        self.fc = nn.Linear(32, n)',
      '    def forward(self, x):',
      '        return self.fc(self.f(x).mean((2, 3)))', '',
      'def build(n, c):', '    return Net(n, c)', ''].join('\n'));
    const r = build(['--data', path.join(tmp, 'fmnist'), '--backbone', `${path.join(dir, 'net.py')}:build`, '--list-exits'], { cwd: root });
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /candidate exit positions/);
  });

  test('--widths: the two networks REDS narrows, on 32x32 RGB images of 6 classes (not the 28x28x1 / 10 of their shipped packages) — levels in the package, the engine and PyTorch agree at every level', () => {
    const data = path.join(tmp, 'colour');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'colour', data, '8', '8']).code, 0);
    // ResNet-32 (a backbone file of models/backbones; the pipeline of the
    // shipped ResNet-20 at 5 blocks per stream): stage1..15 + head per level.
    const res = path.join(tmp, 'w/resnet.dyce');
    mustBuild(['--data', data, '--backbone', path.join(root, 'models/backbones/resnet_cifar.py:resnet32'), '--widths', '75,50', '--out', res]);
    const info = JSON.parse(run(DYCE, ['info', res, '--json']).out);
    assert.deepEqual(info.levels.map((l) => l.name), ['w100', 'w75', 'w50']);
    const full = info.levels[0].head_path_macs;
    info.levels.slice(1).forEach((l, i) => assert.ok(Math.abs(l.head_path_macs / full - [0.75, 0.5][i]) < 0.01, JSON.stringify(l)));
    for (const level of ['w100', 'w75', 'w50']) {
      const e = JSON.parse(run(DYCE, ['eval', res, '--data', data, '--graph', 'head', '--level', level, '--json']).out);
      assert.equal(e.agreement, 1, `${level}: engine vs PyTorch ${JSON.stringify(e)}`);
    }
    assert.deepEqual([info.input, info.labels.length, info.graphs.length], [[1, 32, 32, 3], 6, 16]);
    assert.match(fs.readFileSync(path.join(tmp, 'w/resnet.report.md'), 'utf8'), /\| w50 \|/);
    // The DS-CNN at a size that is neither the images' nor square (stage maps
    // 14x17): exits at every level, savers, the searched configurations, --int8.
    const ds = path.join(tmp, 'w/ds.dyce');
    mustBuild(['--data', data, '--size', '27x33', '--backbone', path.join(root, 'models/backbones/ds_cnn.py:ds_cnn'), '--widths', '60', '--int8', '--out', ds]);
    const dinfo = JSON.parse(run(DYCE, ['info', ds, '--json']).out);
    assert.deepEqual(dinfo.levels.map((l) => l.name), ['w100', 'w60']);
    assert.deepEqual(dinfo.input, [1, 27, 33, 3]);
    assert.ok(dinfo.graphs.some((g) => g.name === 'exit1_a_w60') && dinfo.graphs.some((g) => g.name === 'saver0'));
    // Graphs of the narrow level against PyTorch's records (an exit of a
    // level runs at its level, where its records were made): the engine
    // resizes and normalises the 32x32 files as the build did. An untrained
    // net's logits can tie: a disagreement must be a near-tie.
    for (const graph of ['head', 'exit2_b_w60', 'saver1']) {
      const e = JSON.parse(run(DYCE, ['eval', ds, '--data', data, '--graph', graph, '--level', 'w60', '--json']).out);
      assert.equal(e.compared, e.n, JSON.stringify(e));
      assert.ok(e.disagreements.every((d) => d.gap < 1e-3), `${graph}: engine vs PyTorch ${JSON.stringify(e)}`);
      assert.ok(e.agreement >= 0.95, `${graph}: ${JSON.stringify(e)}`);
    }
    const configs = run(DYCE, ['eval', ds, '--data', data, '--config', 'all', '--json', '--limit', '8']).out.trim().split('\n');
    assert.ok(configs.length >= 2, configs.join('\n'));
    assert.ok(fs.statSync(path.join(tmp, 'w/ds-int8.dyce')).size < 0.3 * fs.statSync(ds).size);
    // The int8 line gives every level's head, not the full width's alone.
    assert.match(fs.readFileSync(path.join(tmp, 'w/ds.report.md'), 'utf8'), /Int8 package \(ds-int8\.dyce\).*; at w60 \d+\.\d\d % \(float \d+\.\d\d %\)\./);
  });

  test('--widths on any network torch.fx traces (models/reds_traced): torchvision:mobilenet_v3_small (squeeze-and-excitation, hard-swish) and a user\'s file (residual add over a depthwise conv, a biased conv before BatchNorm, SE, a two-layer classifier) — levels at their MAC budgets, exits at every level and savers, the engine and PyTorch agree at every level, the searched configurations, --int8; a rerun with other options loads nothing, one after a kill resumes', async () => {
    const data = path.join(tmp, 'colour-traced');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'colour', data, '8', '8']).code, 0);
    for (const [name, backbone, extra] of [['mv3', 'torchvision:mobilenet_v3_small', ['--int8']],
      ['se', `${BACKBONES}:se_residual`, []]]) {
      const out = path.join(tmp, `w/${name}.dyce`);
      mustBuild(['--data', data, '--backbone', backbone, '--widths', '75,50,25', ...extra, '--out', out]);
      const info = JSON.parse(run(DYCE, ['info', out, '--json']).out);
      const names = info.graphs.map((g) => g.name);
      // the builder's three savers, stages at the exit positions, two exits
      // per position and level, the head
      assert.deepEqual(names.slice(0, 4), ['saver0', 'saver1', 'saver2', 'stage1']);
      assert.equal(names.at(-1), 'head');
      for (const lvl of ['', '_w75', '_w50', '_w25']) assert.ok(names.includes(`exit1_a${lvl}`) && names.includes(`exit2_b${lvl}`), names.join());
      assert.deepEqual(info.levels.map((l) => l.name), ['w100', 'w75', 'w50', 'w25']);
      const full = info.levels[0].head_path_macs;
      // Greedy, one unit at a time: at or under each budget, within 5 points of it.
      info.levels.slice(1).forEach((l, i) => {
        const f = l.head_path_macs / full;
        assert.ok(f <= [0.75, 0.5, 0.25][i] + 1e-9 && f > [0.75, 0.5, 0.25][i] - 0.05, `${name} ${JSON.stringify(l)}`);
      });
      // every level's head, and exits trained for a level (run at it), against PyTorch's records
      for (const [graph, level] of [['head', 'w100'], ['head', 'w75'], ['head', 'w50'], ['head', 'w25'], ['exit1_b_w50', null], ['exit2_a_w25', null], ['saver1', null]]) {
        const e = JSON.parse(run(DYCE, ['eval', out, '--data', data, '--graph', graph, ...(level ? ['--level', level] : []), '--json']).out);
        assert.equal(e.compared, e.n, JSON.stringify(e));
        assert.ok(e.disagreements.every((d) => d.gap < 1e-3), `${name} ${graph} ${level}: engine vs PyTorch ${JSON.stringify(e)}`);
      }
      const configs = run(DYCE, ['eval', out, '--data', data, '--config', 'all', '--json', '--limit', '8']).out.trim().split('\n');
      assert.ok(configs.length >= 5, configs.join('\n'));   // searched ones + a backbone per level
      const report = fs.readFileSync(path.join(tmp, `w/${name}.report.md`), 'utf8');
      assert.match(report, /\| w25 \| [\d,]+ \| 2\d\.\d\d \|/);
      assert.match(report, /\| backbone-w50 \| w50 \| [\d.]+ \(\d+\) \|/);
      if (name !== 'se') continue;
      // Another option: nothing made under the old ones is loaded. Killed once it
      // has pre-trained, the same command then resumes from what it had made.
      const args = ['--data', data, '--backbone', backbone, '--widths', '75,50,25', '--epochs', '2', '--out', out];
      const killed = String(await killedBuild(args, /unit groups: /));
      assert.doesNotMatch(killed, /loaded|resumed/);
      assert.match(mustBuild(args).out, /pretrain: loaded /);
      // Ctrl-C (SIGINT): one line that says how to go on, no traceback.
      const stopped = await killedBuild([...args, '--force'], /unit groups: /, 'SIGINT');
      assert.equal(stopped.code, 130, String(stopped));
      assert.match(String(stopped), /build: interrupted; the same command resumes from \S+se\.work/);
      assert.doesNotMatch(String(stopped), /Traceback/);
    }
    assert.ok(fs.statSync(path.join(tmp, 'w/mv3-int8.dyce')).size < 0.3 * fs.statSync(path.join(tmp, 'w/mv3.dyce')).size);
  });

  test('(c) --widths on two torchrun processes, each REDS pipeline: valid packages; the traced one, from the same trained backbone, has the one-process run\'s levels and graphs, and its heads\' skill', () => {
    const data = path.join(tmp, 'colour-torchrun');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'colour', data, '8', '8']).code, 0);
    const torchrun = (args) => {
      // --redirects 1 --tee 1: see (c) above.
      const r = run('/usr/bin/torchrun', ['--nproc_per_node', '2', '--master_port', String(30500 + (process.pid % 1000)), '--redirects', '1', '--tee', '1',
        BUILD, '--smoke', '--threads', '1', '--data', data, ...args]);
      assert.equal(r.code, 0, r.err.slice(-3000));
      return r;
    };
    const se = ['--backbone', `${BACKBONES}:se_residual`, '--widths', '75,50,25'];
    mustBuild([...se, '--data', data, '--out', path.join(tmp, 'tw0/p.dyce')]);
    const weights = path.join(tmp, 'tw0/p.work/reds-traced/pretrain.pt');
    mustBuild([...se, '--data', data, '--weights', weights, '--out', path.join(tmp, 'tw1/p.dyce')]);
    torchrun([...se, '--weights', weights, '--out', path.join(tmp, 'tw2/p.dyce')]);
    // Every step wrote once (rank 0), and the engine check inside the build
    // compared the package with records gathered from both ranks (the ranks
    // hold the same weights after every training, or the build fails).
    const info = (p) => JSON.parse(run(DYCE, ['info', p, '--json']).out);
    const [one, two] = ['tw1', 'tw2'].map((d) => info(path.join(tmp, d, 'p.dyce')));
    assert.deepEqual(two.graphs.map((g) => g.name), one.graphs.map((g) => g.name));
    assert.deepEqual(two.levels.map((l) => [l.name, l.head_path_macs]), one.levels.map((l) => [l.name, l.head_path_macs]));
    const channels = (d) => fs.readFileSync(path.join(tmp, d, 'p.report.md'), 'utf8').split('Channels per unit group')[1].split('\n\n')[1];
    assert.equal(channels('tw2'), channels('tw1'));   // the same importances, so the same nested widths
    // Fine-tuning takes half of every batch per rank (not the same numbers):
    // every level's head within 25 pp of one process's, over all samples.
    const recs = ['tw1', 'tw2'].map((d) => readRecords(path.join(tmp, d, 'p.records')));
    assert.deepEqual(recs[1].names, recs[0].names);
    recs[0].names.forEach((name, g) => {
      if (!name.startsWith('head')) return;
      const acc = (rec) => {
        let right = 0, n = 0;
        for (const s of Object.values(rec.splits)) s.top1[g].forEach((t, i) => { right += t === s.label[i]; n++; });
        return right / n;
      };
      assert.ok(Math.abs(acc(recs[0]) - acc(recs[1])) <= 0.25, `${name}: ${acc(recs[0])} vs ${acc(recs[1])}`);
    });
    // The two pipelines of their own (backbone trained on both ranks here).
    torchrun(['--backbone', path.join(root, 'models/backbones/resnet_cifar.py:resnet20'), '--widths', '50', '--out', path.join(tmp, 'tw2/res.dyce')]);
    torchrun(['--backbone', path.join(root, 'models/backbones/ds_cnn.py:ds_cnn'), '--widths', '60', '--out', path.join(tmp, 'tw2/ds.dyce')]);
    assert.deepEqual(info(path.join(tmp, 'tw2/res.dyce')).levels.map((l) => l.name), ['w100', 'w50']);
    const ds = info(path.join(tmp, 'tw2/ds.dyce'));
    assert.deepEqual(ds.levels.map((l) => l.name), ['w100', 'w60']);
    assert.ok(ds.graphs.some((g) => g.name === 'exit1_a_w60') && ds.graphs.some((g) => g.name === 'saver0'));
    // Its records come from features each rank pooled on its share of the
    // samples: the engine, reading the files in order, must agree with them
    // (a disagreement only at a near-tie of an untrained net's logits).
    for (const graph of ['exit2_b_w60', 'head', 'saver1']) {
      const e = JSON.parse(run(DYCE, ['eval', path.join(tmp, 'tw2/ds.dyce'), '--data', data, '--graph', graph, '--level', 'w60', '--json']).out);
      assert.equal(e.compared, e.n, JSON.stringify(e));
      assert.ok(e.disagreements.every((d) => d.gap < 1e-3), `${graph}: engine vs the gathered records ${JSON.stringify(e)}`);
    }
  });

  test('--widths with options of the exits-and-savers build that the REDS pipelines do not take: a usage error naming them, not options silently ignored', () => {
    const colour = path.join(tmp, 'colour-options');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'colour', colour, '8', '8']).code, 0);
    let r = build(['--data', colour, '--backbone', 'models/backbones/ds_cnn.py:ds_cnn', '--widths', '50', '--savers', 'none', '--max-exits', '3'], { cwd: root });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /error: --widths runs a REDS pipeline .* does not take --max-exits, --savers\n/);
    // typed with its default value, an option is still one the pipeline would ignore
    r = build(['--data', colour, '--backbone', 'models/backbones/ds_cnn.py:ds_cnn', '--widths', '50', '--exits', 'auto'], { cwd: root });
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /error: --widths runs a REDS pipeline .* does not take --exits\n/);
    // --lr goes to a traced network's training; the DS-CNN's and the ResNets' recipes are their own.
    const out = ['--out', path.join(tmp, 'options/o.dyce')]; // (a build's work folder is made beside its package)
    r = build(['--data', colour, '--backbone', 'models/backbones/ds_cnn.py:ds_cnn', '--widths', '50', '--lr', '0.1', ...out], { cwd: root });
    assert.equal(r.code, 1, r.err);
    assert.match(r.err.trim().split('\n').at(-1), /--lr: .*runs REDS's ds_cnn pipeline, which trains with its own recipe/);
    r = build(['--data', colour, '--backbone', 'models/backbones/resnet_cifar.py:resnet20', '--widths', '50', '--exit-epochs', '9', '--lambda-step', '0.05', ...out], { cwd: root });
    assert.equal(r.code, 1, r.err);
    assert.match(r.err.trim().split('\n').at(-1), /--exit-epochs, --lambda-step: REDS's resnet20 pipeline makes width levels of the backbone alone/);
    // Options of one choice given with the other (they were ignored).
    r = build(['--data', colour, '--backbone', 'torchvision:resnet18', '--exits', 'conv1', '--max-exits', '3']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--max-exits caps the positions --exits auto picks: not with --exits NODE/);
    r = build(['--data', colour, '--backbone', 'torchvision:resnet18', '--savers', 'none', '--saver-fractions', '0.01']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /--saver-fractions sizes the savers --savers auto trains: not with --savers none/);
  });

  test('counts below 1 (--max-exits 0, --epochs -1, --saver-epochs 0, …), numbers that would fail after training or build other than asked (--lambda-step 0, --saver-fractions 0 or 2, --std 0), a --labels file naming a class twice, and --distill without savers are usage errors naming the option', () => {
    const labels = path.join(tmp, 'twice.txt');
    fs.writeFileSync(labels, 'a\nb\na\n');
    for (const [args, message] of [[['--lambda-step', '0'], /--lambda-step: in \(0, 1\), not 0$/], [['--budgets', '-1'], /--budgets: 0 \(none\) to 4096, not -1$/],
      [['--saver-fractions', '0.01,0'], /--saver-fractions: each a share .* not 0\.01,0$/], [['--saver-fractions', '0.5,2'], /not 0\.5,2$/],
      [['--std', '0,1,1'], /--std: finite numbers above 0, one per channel, not 0,1,1$/], [['--labels', labels], /--labels .*twice\.txt: 'a' is named more than once$/]]) {
      const r = build(['--data', path.join(tmp, 'colour'), '--backbone', 'B', ...args]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err.trim().split('\n').at(-1), message, args.join(' '));
    }
    for (const [flag, value] of [['--max-exits', '0'], ['--max-exits', '-1'], ['--epochs', '-1'], ['--saver-epochs', '0'], ['--limit', '0'], ['--batch-size', '0']]) {
      const r = build(['--data', path.join(tmp, 'colour'), '--backbone', 'B', flag, value]);
      assert.equal(r.code, 2, r.err);
      assert.match(r.err.trim().split('\n').at(-1), new RegExp(`error: ${flag}: at least 1, not ${value}$`));
    }
    const r = build(['--data', path.join(tmp, 'colour'), '--backbone', 'B', '--distill', '0.5', '--savers', 'none']);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /error: --distill weights the savers' training: not with --savers none/);
    // --labels naming fewer classes than the folders hold: which, and where the names came from
    const three = path.join(tmp, 'three.txt'), six = path.join(tmp, 'six-classes');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'colour', six, '2', '2']).code, 0);
    fs.writeFileSync(three, fs.readdirSync(path.join(six, 'train')).sort().slice(0, 3).join('\n') + '\n');
    const few = build(['--data', six, '--backbone', `${BACKBONES}:tiny`, '--labels', three, '--out', path.join(tmp, 'three/p.dyce')]);
    assert.equal(few.code, 1, few.err);
    assert.match(few.err.trim().split('\n').at(-1), /class folder '.+' is not one of the 3 classes the labels name \(.+: from --labels or the package, else the train split's folders\)$/);
  });

  test('(e) a folder as users bring them (files in subfolders, .PNG, junk files, __MACOSX, a link, valid/, class names with spaces, digits, accents): the build and the engine (native, WASI) read the same samples in the same order, and refuse the same files', () => {
    const data = path.join(tmp, 'quirky');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'quirky', data]).code, 0);
    const out = path.join(tmp, 'e/q.dyce');
    const r = mustBuild(['--data', data, '--backbone', `${BACKBONES}:small_cnn`, '--out', out]);
    assert.match(r.out, /data: images \(90 files skipped: not images; e\.g\. [^)]*\), 10 classes, input 1x28x28, train 48 val 48 test 48/);
    // A smoke run is no check of the folder, and says so.
    assert.match(r.out, /data: --limit\/--smoke: 144 of the folder's \d+ files read; a full run reads, and so checks, every one/);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    const cli = (kind, args) => (kind === 'native' ? run(DYCE, args) : run(process.execPath, [path.join(root, 'wasm/dyce-wasi.mjs'), ...args]));
    const graphs = JSON.parse(run(DYCE, ['info', out, '--json']).out).graphs.map((g) => g.name).filter((g) => /^(saver\d|exit|head)/.test(g));
    // Every graph's predictions on every test and valid/ sample are PyTorch's
    // (the records), so the engine reads the samples in the build's order.
    for (const [kind, split, names] of [['native', 'test', graphs], ['native', 'val', graphs], ['wasi', 'test', graphs.filter((g, i) => i % 4 === 0)], ['wasi', 'val', ['head']]]) {
      for (const graph of names) {
        const e = cli(kind, ['eval', out, '--data', data, '--split', split, '--graph', graph, '--json']);
        const what = `${kind} ${split} ${graph}`;
        assert.equal(e.code, 0, `${what}: ${e.err}`);
        assert.match(e.err, new RegExp(`note: 30 files under .*${split === 'val' ? 'valid' : 'test'} are not images`), what);
        const j = JSON.parse(e.out);
        assert.deepEqual([j.n, j.compared, j.agreement], [48, 48, 1], `${what}: ${e.out}`);
      }
    }
    // What the build refuses (d), the engine refuses too: one line naming it.
    const refused = [
      ['a .webp file', (d) => fs.writeFileSync(path.join(d, 'test/Dress/photo.webp'), 'x'), /test\/Dress\/photo\.webp: a \.webp image: dyce reads PNG and JPEG files only/],
      ['a link to a parent folder', (d) => fs.symlinkSync('..', path.join(d, 'test/Dress/up')), /test\/Dress\/up\/.*: folders nested more than 8 deep in a class folder/],
      ['val/ beside valid/', (d) => fs.mkdirSync(path.join(d, 'val')), /more than one of val\/, valid\/ and validation\/; keep one/],
      ['a link to nothing', (d) => fs.symlinkSync('/nonexistent/x.png', path.join(d, 'test/Dress/zz.png')), /test\/Dress\/zz\.png: a link to nothing/],
      ['a class folder that links to nothing', (d) => fs.symlinkSync('/nonexistent/Dress', path.join(d, 'test/Zz')), /test\/Zz: a link to nothing/],
      ['an image beside the class folders', (d) => fs.writeFileSync(path.join(d, 'test/stray'), fs.readFileSync(path.join(d, 'test/Dress', fs.readdirSync(path.join(d, 'test/Dress')).find((f) => /^\d+\.png$/i.test(f))))),
        /test\/stray: an image outside the class folders \(1 in all\)/],
    ];
    for (const [what, spoil, pattern] of refused) {
      const d = path.join(tmp, `e-${what.replace(/\W+/g, '-')}`);
      fs.cpSync(data, d, { recursive: true, verbatimSymlinks: true });
      spoil(d);
      for (const kind of ['native', 'wasi']) {
        const e = cli(kind, ['eval', out, '--data', d]);
        assert.equal(e.code, 1, `${kind} ${what}: ${e.out}`);
        const lines = e.err.trim().split('\n').filter((l) => l.startsWith('dyce: error:'));
        assert.equal(lines.length, 1, e.err);
        assert.match(lines[0], pattern, `${kind} ${what}`);
      }
    }
  });

  test('a rerun redoes exactly what a change alters: other exit positions (as many), images moved between classes, --mean/--std, an edited backbone file', () => {
    const data = path.join(tmp, 'rerun-data');
    assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'quirky', data]).code, 0);
    const net = path.join(tmp, 'rerun-net.py');
    fs.writeFileSync(net, `import torch.nn as nn
def net(num_classes, in_channels):
    return nn.Sequential(nn.Conv2d(in_channels, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                         nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, num_classes))
`);
    const base = ['--data', data, '--backbone', `${net}:net`, '--out', path.join(tmp, 'rerun/m.dyce'), '--workdir', path.join(tmp, 'rerun/work')];
    const STEPS = ['backbone', 'saver0', 'features', 'exits'];
    let lastOut = '';
    const loaded = (extra) => {
      const out = lastOut = mustBuild([...base, ...extra]).out;
      return Object.fromEntries(STEPS.map((step) => [step, new RegExp(`\\] ${step}: loaded `).test(out)]));
    };
    const all = (v) => Object.fromEntries(STEPS.map((step) => [step, v]));
    const reportLoaded = /report: the engine's figures of an identical package, data and engine loaded/;
    assert.deepEqual(loaded(['--exits', '1']), all(false));
    assert.doesNotMatch(lastOut, reportLoaded);
    assert.deepEqual(loaded(['--exits', '1']), all(true), 'the same command loads every step');
    assert.match(lastOut, reportLoaded, 'the report\'s engine runs of an identical package are loaded too');
    // Another position, as many of them: the backbone and savers stand, its features and exits do not.
    assert.deepEqual(loaded(['--exits', '3']), { backbone: true, saver0: true, features: false, exits: false });
    // A test image moved to another class: only what is computed on test images.
    const classes = fs.readdirSync(path.join(data, 'test')).sort();
    const move = (split) => {
      const file = fs.readdirSync(path.join(data, split, classes[0])).filter((f) => /^\d+\.png$/i.test(f))[0]; // an image, not a link or junk
      fs.renameSync(path.join(data, split, classes[0], file), path.join(data, split, classes[1], file));
    };
    move('test');
    assert.deepEqual(loaded(['--exits', '3']), { backbone: true, saver0: true, features: false, exits: true });
    assert.doesNotMatch(lastOut, reportLoaded, 'a test image moved: the engine measures again');
    move('train'); // a training label fixed: everything trained on it
    assert.deepEqual(loaded(['--exits', '3']), all(false));
    assert.deepEqual(loaded(['--exits', '3', '--mean', '0.5', '--std', '0.25']), all(false));
    fs.writeFileSync(net, fs.readFileSync(net, 'utf8').replace('nn.ReLU(), nn.Conv2d(8, 8', 'nn.SiLU(), nn.Conv2d(8, 8'));
    assert.deepEqual(loaded(['--exits', '3', '--mean', '0.5', '--std', '0.25']), { backbone: false, saver0: true, features: false, exits: false });
    // dyce eval reads the test samples the (smoke) records describe, and says so; --records none reads them all.
    const pkg = path.join(tmp, 'rerun/m.dyce');
    const recorded = run(DYCE, ['eval', pkg, '--data', data, '--limit', '1000', '--json']);
    assert.match(recorded.err, /note: the records beside \S+m\.dyce describe 48 of the (\d+) test samples; evaluating those \(--records none: all of them, uncompared\)/);
    const total = Number(recorded.err.match(/describe 48 of the (\d+) test samples/)[1]);
    assert.ok(total > 48, recorded.err);
    assert.deepEqual([JSON.parse(recorded.out).n, JSON.parse(recorded.out).compared], [48, 48]);
    const every = JSON.parse(run(DYCE, ['eval', pkg, '--data', data, '--records', 'none', '--json']).out);
    assert.deepEqual([every.n, every.compared ?? 0], [total, 0]);
    // A saver as costly as the backbone (here: the backbone itself) is warned about.
    const costly = mustBuild([...base.slice(0, -4), '--out', path.join(tmp, 'rerun-saver/m.dyce'), '--savers', `${net}:net`]);
    assert.match(costly.out, /warning: saver \S+:net costs [\d,]+ MACs, 100 % of the backbone's: running it first can only cost more/);
  });

  test('(f) a folder of class folders without split folders: the test split is held out by path (--test-fraction), and the engine (native, WASI) holds out the same files', () => {
    const data = path.join(tmp, 'classes-only');   // ('flat/' is another test's output)
    for (const split of ['train', 'test'])   // (a)'s images, nested one folder deeper
      for (const cls of fs.readdirSync(path.join(tmp, 'fmnist', split)))
        fs.cpSync(path.join(tmp, 'fmnist', split, cls), path.join(data, cls, split === 'train' ? 'a' : 'b'), { recursive: true });
    const out = path.join(tmp, 'f/p.dyce');
    const r = mustBuild(['--data', data, '--backbone', `${BACKBONES}:small_cnn`, '--out', out, '--test-fraction', '0.25']);
    const m = r.out.match(/data: images \(no split folders: 0\.25 of the files held out as the test split by their paths, validation carved from the rest\)( \([^)]*\))?, 10 classes, input 1x28x28, train \d+ val \d+ test (\d+)/);
    assert.ok(m, r.out);
    const files = fs.readdirSync(data, { recursive: true }).filter((f) => f.endsWith('.png')).length;
    const held = Number(m[2]);
    assert.ok(held >= 0.15 * files && held <= 0.35 * files, `${held} of ${files} files held out`);
    assert.match(r.out, /engine check: \d+ graphs match PyTorch/);
    const cli = (kind, args) => (kind === 'native' ? run(DYCE, args) : run(process.execPath, [path.join(root, 'wasm/dyce-wasi.mjs'), ...args]));
    for (const kind of ['native', 'wasi'])
      for (const graph of ['saver0', 'head']) {
        const e = cli(kind, ['eval', out, '--data', data, '--graph', graph, '--test-fraction', '0.25', '--json']);
        const j = JSON.parse(e.out);
        assert.deepEqual([j.split, j.n, j.compared, j.agreement], ['test', held, held, 1], `${kind} ${graph}: ${e.out} ${e.err}`);
      }
    // Another fraction holds out other files: the records no longer describe them.
    const other = run(DYCE, ['eval', out, '--data', data, '--graph', 'head', '--json']);
    assert.match(other.err, /records beside .* do not describe/);
  });

  test('(g) --backbone FILE.onnx: a trained classifier from an ONNX file (nested, flat and channels-last graphs, a ViT, a tf2onnx-style graph) computes what PyTorch and onnxruntime do, gets exits after its blocks and builds a package that matches it; files it cannot take are refused in one line', async () => {
    const dir = path.join(tmp, 'onnx');
    const made = run(PY, [path.join(root, 'tests/build/onnx_backbones.py'), dir]);
    assert.equal(made.code, 0, made.err);
    const lines = made.out.trim().split('\n').map((l) => l.split(' '));
    assert.deepEqual(lines.map(([name]) => name), ['resnet.onnx', 'flat.onnx', 'bn.onnx', 'batch1.onnx', 'vit.onnx', 'nhwc.onnx',
      'keras.onnx', 'strided.onnx', 'masked.onnx', 'legacy.onnx', 'mobilenet_v3_small.onnx', 'shufflenet_v2_x0_5.onnx', 'squeezenet1_1.onnx', 'densenet121.onnx']);
    for (const [name, diff, scale] of lines) {
      assert.ok(Number(scale) > 0, `${name}: PyTorch's output is all zero`);
      assert.ok(Number(diff) <= 1e-5 * Number(scale), `${name}: ${diff} off PyTorch's (scale ${scale})`);
      // The second oracle, independent of PyTorch: the file run by onnxruntime.
      const file = path.join(dir, name), io = readJson(`${file}.io.json`);
      const floats = (f) => { const b = fs.readFileSync(f); return new Float32Array(b.buffer, b.byteOffset, b.length / 4); };
      const x = floats(`${file}.in.bin`), ours = floats(`${file}.out.bin`);
      const session = await ort.InferenceSession.create(file);
      const batches = io.batch1 ? io.input[0] : 1, per = x.length / batches, got = [];
      for (let b = 0; b < batches; b++) {
        const shape = io.batch1 ? [1, ...io.input.slice(1)] : io.input;
        const out = await session.run({ [session.inputNames[0]]: new ort.Tensor('float32', x.slice(b * per, (b + 1) * per), shape) });
        got.push(...out[session.outputNames[0]].data);
      }
      assert.equal(got.length, ours.length, name);
      const worst = got.reduce((w, v, i) => Math.max(w, Math.abs(v - ours[i])), 0);
      const top = got.reduce((w, v) => Math.max(w, Math.abs(v)), 0);
      assert.ok(top > 0 && worst <= 1e-4 * top, `${name}: onnxruntime differs by ${worst} (scale ${top})`);
    }
    const data = ['--data', path.join(tmp, 'fmnist')]; // (a)'s images
    // Nested names (/layer1/...): exits after the blocks; the weights are the file's.
    const out = path.join(tmp, 'onnx-nested/p.dyce');
    const r = mustBuild([...data, '--backbone', path.join(dir, 'resnet.onnx'), '--out', out]);
    assert.match(r.out, /exits after stem\.\S+ \(\d+ %\), layer1\.\S+ \(\d+ %\), layer2\.\S+ \(\d+ %\)/);
    assert.match(r.out, /backbone: the weights of .*resnet\.onnx \(frozen\)/);
    assert.doesNotMatch(r.out, /backbone epoch/);
    assert.match(r.out, /engine check: 13 graphs match PyTorch/);
    assert.ok(readRecords(path.join(tmp, 'onnx-nested/p.records')).names.includes('exit2_b'));
    // Flat names: the cuts before convolutions.
    const list = build([...data, '--backbone', path.join(dir, 'flat.onnx'), '--list-exits']);
    assert.equal(list.code, 0, list.err);
    assert.equal((list.out.match(/ before Conv_\d+ /g) ?? []).length, 3, list.out);
    // Channels-last input ending in a softmax: its head answers with probabilities.
    const nhwc = path.join(tmp, 'onnx-nhwc/p.dyce');
    assert.match(mustBuild([...data, '--backbone', path.join(dir, 'nhwc.onnx'), '--out', nhwc]).out, /engine check: \d+ graphs match PyTorch/);
    assert.deepEqual(readJson(path.join(tmp, 'onnx-nhwc/p.work/probability-graphs.json')), ['head']);
    // A ViT: exits on the tokens after its encoder layers.
    const vit = mustBuild([...data, '--backbone', path.join(dir, 'vit.onnx'), '--out', path.join(tmp, 'onnx-vit/p.dyce')]);
    assert.match(vit.out, /exits after encoder\.layers\.encoder_layer_0\.Add_1 \(\d+ %\)/);
    assert.match(vit.out, /engine check: \d+ graphs match PyTorch/);
    // tf2onnx's Keras layout: a channels-last input, the map transposed back before the classifier.
    const keras = mustBuild([...data, '--backbone', path.join(dir, 'keras.onnx'), '--out', path.join(tmp, 'onnx-keras/p.dyce')]);
    assert.match(keras.out, /exits after sequential\.conv2d\.Relu\.relu \(\d+ %\)/);
    assert.match(keras.out, /engine check: \d+ graphs match PyTorch/);
    // Savers from ONNX files (trained elsewhere, kept as they are) beside one trained here.
    const sv = mustBuild([...data, '--backbone', path.join(dir, 'resnet.onnx'), '--savers', `${path.join(dir, 'saver.onnx')},${BACKBONES}:small_cnn`, '--out', path.join(tmp, 'onnx-savers/p.dyce')]);
    assert.match(sv.out, /saver\d: the weights of \S*saver\.onnx \(frozen\)/);
    assert.equal((sv.out.match(/saver\d epoch 1\/1/g) ?? []).length, 1, 'only the file saver is trained');
    assert.match(sv.out, /engine check: 12 graphs match PyTorch/);
    const refused = [
      [['--backbone', 'cumsum.onnx'], /cumsum\.onnx: node '[^']*CumSum' \(CumSum\): the builder does not take this operator from ONNX files \(it takes Abs, Add, /],
      [['--backbone', 'rgb32.onnx'], /rgb32\.onnx takes 3-channel images and the data is 1-channel: pass --channels 3/],
      [['--backbone', 'rgb32.onnx', '--channels', '3'], /rgb32\.onnx takes 32x32 images and the data is 28x28: pass --size 32x32/],
      [['--backbone', 'corrupt.onnx'], /corrupt\.onnx: not an ONNX model/],
      [['--backbone', 'vit-batch1.onnx'], /vit-batch1\.onnx: node '[^']*Reshape[^']*' \(Reshape\): cannot run it in PyTorch .*exported for a batch of one image .*dynamic_axes/],
      [['--backbone', 'none.onnx'], /none\.onnx: no such file/],
      [['--backbone', 'resnet.onnx', '--savers', 'rgb32.onnx'], /--savers \S*rgb32\.onnx takes 3-channel images/],
      [['--backbone', 'resnet.onnx', '--weights', 'w.pt'], /FILE\.onnx brings its trained weights and is not trained: not with --weights, --init or --widths/],
    ];
    for (const [args, pattern] of refused) {
      const bad = build([...data, ...args.map((a) => (a.endsWith('.onnx') ? path.join(dir, a) : a)), '--out', path.join(tmp, 'onnx-bad/p.dyce')]);
      assert.notEqual(bad.code, 0, bad.out);
      assert.ok(!bad.err.includes('Traceback'), bad.err);
      assert.match(bad.err.trim().split('\n').at(-1), pattern);
    }
    assert.ok(!fs.existsSync(path.join(tmp, 'onnx-bad/p.work/backbone.pt')), 'nothing was trained');
  });

  describe('(d) bad input: one clear line, exit status 1, before any training', () => {
    let bad;
    before(() => {
      bad = path.join(tmp, 'bad');
      assert.equal(run(PY, [path.join(root, 'tests/build/make_data.py'), 'bad', bad]).code, 0);
    });
    const cases = [
      ['an empty class folder', ['--data', 'bad/empty', '--backbone', 'B:tiny'], /bad\/empty\/train\/b: empty class folder/],
      ['a class whose only image the validation split took', ['--data', 'bad/rare', '--backbone', 'B:tiny', '--val-fraction', '0.5'], /class '[ab]' has no training image: its 1 image went to the validation split; add images to it, or give a val\/ folder or a smaller --val-fraction/],
      ['images of mixed sizes without --size', ['--data', 'bad/mixed', '--backbone', 'B:tiny'], /different sizes .* give --size/],
      ['an unreadable image', ['--data', 'bad/corrupt', '--backbone', 'B:tiny'], /broken\.png: cannot read the image/],
      ['a CMYK JPEG (PIL reads it, the engine does not)', ['--data', 'bad/cmyk', '--backbone', 'B:tiny'], /print\.jpg: cannot read the image \(JPEG: CMYK or YCCK colour is not supported/],
      ['a 16-bit gray PNG', ['--data', 'bad/deep', '--backbone', 'B:tiny'], /scan\.png: cannot read the image \(PNG: 16-bit gray is not supported/],
      ['a .webp file (PIL reads it, the engine does not): refused, not skipped', ['--data', 'bad/webp', '--backbone', 'B:tiny'], /test\/a\/photo\.webp: a \.webp image: dyce reads PNG and JPEG files only \(the engine has no decoder for WEBP\)/],
      ['a GIF named .png', ['--data', 'bad/disguised', '--backbone', 'B:tiny'], /train\/a\/0\.png: cannot read the image \(a GIF file \(named as PNG or JPEG\)/],
      ['both val/ and valid/', ['--data', 'bad/twovals', '--backbone', 'B:tiny'], /bad\/twovals: both val\/ and valid\/; keep one validation folder/],
      ['a link to a parent folder in a class folder', ['--data', 'bad/loop', '--backbone', 'B:tiny'], /train\/b\/up\/.*: folders nested more than 8 deep in a class folder/],
      ['a link to nothing', ['--data', 'bad/dangling', '--backbone', 'B:tiny'], /test\/b\/zz\.png: a link to nothing/],
      ['an image beside the class folders, not in one', ['--data', 'bad/loose', '--backbone', 'B:tiny'], /bad\/loose\/train\/stray\.png: an image outside the class folders \(1 in all\).*move it into bad\/loose\/train\/<class>\//],
      ['a class folder name that is not UTF-8', ['--data', 'bad/latin1', '--backbone', 'B:tiny'], /train\/b\\xe9: a class folder whose name is not UTF-8/],
      ['a backbone whose output is not one logit per class', ['--data', 'bad/good', '--backbone', 'B:wrong_classes'], /outputs \(1, 5\).*expected \(1, 2\)/],
      ['an --exits name that does not exist', ['--data', 'bad/good', '--backbone', 'B:tiny', '--exits', 'layer9'], /--exits layer9: no such node/],
      ['an --exits "before NODE" that --list-exits does not give', ['--data', 'bad/good', '--backbone', 'B:tiny', '--exits', 'before fc'],
        /--exits before fc: not a name --list-exits gives \('before NODE' names a candidate: [^)]*\); a cut elsewhere is given by the node it follows/],
      ['an op the converter cannot take', ['--data', 'bad/good', '--backbone', 'B:cumsum'], /graph '(stage\d+|head)': node '[^']*CumSum[^']*' \(CumSum\): unsupported/],
      ['a module the converter cannot take, named as the network names it', ['--data', 'bad/good', '--backbone', 'B:deconv'],
        /graph '(stage\d+|head)': node '[^']*ConvTranspose' \(ConvTranspose\): unsupported operator; in the network: conv2\.1 \(ConvTranspose2d\)$/],
      ['a backbone whose every exit position comes after 95 % of its MACs', ['--data', 'bad/good', '--backbone', 'B:late_positions'], /every exit position of the backbone comes after 95 % of its MACs \(the first, conv1\.1, at 9\d %\).*--exits NODE/],
      ['a backbone whose backward pass fails (a residual added in place to an in-place ReLU\'s output)', ['--data', 'bad/good', '--backbone', 'B:inplace_add'], /training (the network \(an --lr auto trial\)|backbone): PyTorch's backward pass failed: one of the variables needed for gradient computation has been modified by an inplace operation/],
      ['a forward with control flow on the data', ['--data', 'bad/good', '--backbone', 'B:data_dependent'], /cannot be traced by torch\.fx .*data-dependent control flow/],
      ['an unknown torchvision model', ['--data', 'bad/good', '--backbone', 'torchvision:resnet_18'], /no classification model 'resnet_18'.*resnet18/],
      ['a missing data folder', ['--data', 'bad/none', '--backbone', 'B:tiny'], /--data bad\/none: not a directory/],
      ['a backbone returning two (1, K) outputs (which is the logits?)', ['--data', 'bad/good', '--backbone', 'B:logits_twice'], /returns 2 values, and not exactly one of them is \(1, 2\)/],
      ['--widths for a network whose channels cannot narrow (a whole map flattened into a linear layer)', ['--data', 'bad/good', '--size', '28x28', '--backbone', 'B:view_cnn', '--widths', '50'], /--widths: node view \(view\) reshapes \(1, 20, 4, 4\) -> \(1, 320\): channels no longer a dim of their own \(a linear layer needs the map pooled globally before the flatten\)/],
      ['--widths for a network with a grouped convolution', ['--data', 'bad/good', '--backbone', 'torchvision:regnet_x_400mf', '--widths', '50'], /--widths: node trunk_output\.block1\.block1-0\.f\.b\.0 \(Conv2d\) is a grouped convolution \(2 groups\)/],
    ];
    for (const [what, args, pattern] of cases) {
      test(what, () => {
        const out = path.join(tmp, `d-${what.replace(/\W+/g, '-')}.dyce`);
        const r = build([...args.map((a) => a.replace(/^B:/, `${BACKBONES}:`)), '--out', out]);
        assert.equal(r.code, 1, r.err + r.out);
        const lines = r.err.trim().split('\n').filter((l) => l.startsWith('build: error:'));
        assert.equal(lines.length, 1, r.err);
        assert.match(lines[0], pattern);
        assert.ok(!r.err.includes('Traceback'), r.err);
        assert.ok(!fs.existsSync(out.replace(/\.dyce$/, '.work/backbone.pt')), 'nothing was trained');
      });
    }
  });
});
