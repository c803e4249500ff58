// Int8 packages side by side with onnxruntime (issue 15): a two-graph int8
// package (stage1 -> head, built with models/dyce_format.py, quantized by
// models/converter/quantize.py on random inputs) exported by
// models/export_qdq.py (models/converter/qdq_onnx.py) to ONNX QDQ runs in
// onnxruntime-node, whose graph optimizations fuse it into integer kernels,
// and gives the int8 oracle's answers (models/converter/executor.py).
//
// The fixture covers conv (3x3, depthwise with asymmetric padding and
// stride 2, 1x1), fully connected, add (tensors, ReLU), mul (constant and
// tensor), activation tables (sigmoid; SiLU and hard-swish unfused by the
// quantizer), max / average / global pools, concat, flatten, softmax, and a
// ReLU whose zero point is not -128 (an int8 Clip in the export).
//
// Tolerance: exact equality is not promised (onnxruntime requantizes in
// binary32 like docs/INT8.md, but QuantizeLinear divides where dyce
// multiplies by 1/scale, and QLinearAdd / the average pools scale in
// another order). Measured with onnxruntime-node 1.30: this fixture's stage
// output equals the oracle's (0 steps), the head's probabilities differ by
// 1.8e-7 (float softmax); the benchmark nets' logits (make_int8_models.py)
// by 0 (Fashion-MNIST backbone), 1 (ResNet-18), 4-5 (MobileNetV2) and 6-7
// (EfficientNet-B0) output steps (3 inputs in onnxruntime-node, 8 in the
// bench's onnxruntime-web), a one-step difference travelling through the
// network. The bound here: 1 step of the stage's int8 output, 1e-3 on the
// head's probabilities.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test, { after } from 'node:test';

import ort from 'onnxruntime-node';

import { loadNpy, python, root, tempDir } from './harness.mjs';

const FIXTURE = String.raw`
# argv: OUTDIR. A two-graph float package (stage1 -> head) built with
# dyce_format, quantized by models/converter/quantize.py on random inputs,
# one ReLU output's zero point moved off -128 (so the export needs its int8
# Clip); the oracle's outputs (models/converter/executor.py) and the QDQ
# exports of head (whole path) and stage1.
import json, os, sys
import numpy as np
root = os.getcwd()
sys.path.insert(0, os.path.join(root, 'models'))
import dyce_format as fmt
from dyce_format import Node, node_params as P
from converter.quantize import quantize_package
from converter.executor import Runner, as_float
from converter.qdq_onnx import qdq_model, op_counts
import onnx

out = sys.argv[1]
rng = np.random.default_rng(7)
def w(*shape, fan):
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan)).astype('f4')
def b(n):
    return (rng.standard_normal(n) * 0.1).astype('f4')
H = 8
conv = lambda k, s=1, pad=(0, 0, 0, 0), g=1: P(KH=k, KW=k, SH=s, SW=s, PAD_T=pad[0], PAD_L=pad[1], PAD_B=pad[2], PAD_R=pad[3], DH=1, DW=1, GROUPS=g)
pool = lambda k, s, p, cp=0: P(KH=k, KW=k, SH=s, SW=s, PAD_T=p, PAD_L=p, PAD_B=p, PAD_R=p, COUNT_PAD=cp)
stage_shapes = [(1, 8, 8, 3), (1, 8, 8, 8), (1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8),
                (1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 8), (1, 4, 4, 16), (1, 4, 4, 8), (1, 4, 4, 8)]
stage = fmt.Graph('stage1', fmt.NONE, stage_shapes, [
    Node('conv2d', [0], 1, act='relu', weight=w(8, 3, 3, 3, fan=27), bias=b(8), params=conv(3, pad=(1, 1, 1, 1))),
    Node('conv2d', [1], 2, act='clip', act_a=0.0, act_b=2.0, weight=w(8, 3, 3, 1, fan=9), bias=b(8), params=conv(3, 2, (1, 1, 0, 0), 8)),
    Node('max_pool', [2], 3, params=pool(3, 1, 1)),
    Node('conv2d', [3], 4, act='silu', weight=w(8, 1, 1, 8, fan=8), bias=b(8), params=conv(1)),
    Node('add', [3, 4], 5, act='relu'),
    Node('activation', [5], 6, act='sigmoid'),
    Node('mul', [6], 7, weight=(rng.standard_normal(8) * 2).astype('f4')),
    Node('avg_pool', [7], 8, params=pool(3, 1, 1, 0)),
    Node('concat', [2, 3], 9),
    Node('conv2d', [9], 10, act='hard_swish', weight=w(8, 1, 1, 16, fan=16), bias=b(8), params=conv(1)),
    Node('add', [8, 10], 11),
], 0, 11)
head_shapes = [(1, 4, 4, 8), (1, 1, 1, 128), (1, 1, 1, 10), (1, 1, 1, 8), (1, 1, 1, 8), (1, 1, 1, 8),
               (1, 1, 1, 10), (1, 1, 1, 10), (1, 1, 1, 10)]
head = fmt.Graph('head', 0, head_shapes, [
    Node('flatten', [0], 1),
    Node('fully_connected', [1], 2, weight=w(10, 128, fan=128), bias=b(10)),
    Node('global_avg_pool', [0], 3),
    Node('global_max_pool', [0], 4),
    Node('mul', [3, 4], 5),
    Node('fully_connected', [5], 6, weight=w(10, 8, fan=8), bias=b(10)),
    Node('add', [2, 6], 7),
    Node('softmax', [7], 8),
], 0, 8)
spec = fmt.InputSpec(H, H, 3, [0.5] * 3, [0.5] * 3)
data = fmt.write_package([stage, head], spec)
x = rng.uniform(-1, 1, (64, 3, H, H)).astype('f4')
q, _ = quantize_package(data, x)
graphs, spec, labels, _ = fmt.read_package(q)
# the first conv's ReLU: zero point -128 + 40, so its clamp is an int8 Clip
g = graphs[0]
first = next(n for n in g.nodes if n.op == 'conv2d')
assert first.act == 'relu'
s, z = g.quant[first.output]
g.quant[first.output] = (s, z + 40)
q = fmt.write_package(graphs, spec, labels)
open(os.path.join(out, 'pkg.dyce'), 'wb').write(q)
graphs = fmt.read_package(q)[0]
xt = rng.uniform(-1, 1, (4, 3, H, H)).astype('f4')
np.save(os.path.join(out, 'x.npy'), xt)
res = Runner(graphs).run(xt)
for gi, name in ((0, 'stage1'), (1, 'head')):
    g = graphs[gi]
    y = as_float(res[gi], g, g.output)
    np.save(os.path.join(out, f'oracle_{name}.npy'), y.reshape(len(xt), -1))
    for acts in ('uint8', 'int8'):
        m = qdq_model(q, name, acts)
        onnx.save(m, os.path.join(out, f'{name}_{acts}.onnx'))
sq = graphs[0].quant[graphs[0].output]   # the stage's output step
print(json.dumps({'stage_step': sq[0], 'stage_int8': graphs[0].is_int8(graphs[0].output),
                  'int8_ops': {n: sum(1 for g in graphs for k in g.nodes if k.op == n and g.is_int8(k.output))
                               for n in ('conv2d', 'fully_connected', 'add', 'mul', 'avg_pool',
                                         'global_avg_pool', 'concat', 'activation')}}))
`;

const COUNT_OPS = String.raw`
import json, os, sys
sys.path.insert(0, os.path.join(os.getcwd(), 'models'))
import onnx
from converter.qdq_onnx import op_counts
print(json.dumps({p: op_counts(onnx.load(p)) for p in sys.argv[1:]}))
`;

function py(code, args) {
  const r = spawnSync(python, ['-c', code, ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `python failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

const dir = tempDir('dyce-int8-qdq-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));
const info = py(FIXTURE, [dir]);
const x = loadNpy(path.join(dir, 'x.npy'));

/** Max |ORT - oracle| over the fixture's inputs; writes ORT's optimized model. */
async function compare(name, acts) {
  const optimized = path.join(dir, `${name}_${acts}.opt.onnx`);
  const session = await ort.InferenceSession.create(path.join(dir, `${name}_${acts}.onnx`),
    { intraOpNumThreads: 1, graphOptimizationLevel: 'all', optimizedModelFilePath: optimized, logSeverityLevel: 3 });
  const want = loadNpy(path.join(dir, `oracle_${name}.npy`));
  const [batch, ...shape] = x.shape, per = x.data.length / batch, n = want.data.length / batch;
  let maxDiff = 0;
  for (let b = 0; b < batch; b++) {
    const feeds = { input: new ort.Tensor('float32', x.data.slice(b * per, (b + 1) * per), [1, ...shape]) };
    const y = (await session.run(feeds)).output;
    assert.equal(y.data.length, n, `${name}: ${y.data.length} outputs, oracle ${n}`);
    for (let i = 0; i < n; i++) maxDiff = Math.max(maxDiff, Math.abs(y.data[i] - want.data[b * n + i]));
  }
  await session.release();
  return { maxDiff, optimized };
}

test('the fixture is int8 where the test needs it', () => {
  assert.ok(info.stage_int8, 'stage1 should hand int8 to the head');
  for (const [op, count] of Object.entries(info.int8_ops)) assert.ok(count > 0, `no int8 ${op}`);
});

for (const acts of ['uint8', 'int8']) {
  test(`QDQ export (${acts} activations) in onnxruntime-node matches the int8 oracle`, async () => {
    const stage = await compare('stage1', acts);
    assert.ok(stage.maxDiff <= info.stage_step * 1.0001,
      `stage1: max |ORT - oracle| ${stage.maxDiff} > 1 step (${info.stage_step})`);
    const head = await compare('head', acts);
    assert.ok(head.maxDiff <= 1e-3, `head: max |ORT - oracle| ${head.maxDiff} > 1e-3`);
    if (acts !== 'uint8') return;
    // uint8 activations: onnxruntime fuses every conv, fully connected and
    // add, the mul of two tensors, the average pools and the concat into
    // its integer kernels (the int8 form leaves some float: see qdq_onnx.py).
    const ops = py(COUNT_OPS, [stage.optimized, head.optimized]);
    const s = ops[stage.optimized], h = ops[head.optimized];
    const n = (o, k) => o[k] ?? 0;
    assert.equal(n(h, 'com.microsoft.QLinearConv'), info.int8_ops.conv2d, JSON.stringify(h));
    assert.equal(n(h, 'com.microsoft.QGemm'), info.int8_ops.fully_connected, JSON.stringify(h));
    assert.equal(n(h, 'com.microsoft.QLinearAdd'), info.int8_ops.add, JSON.stringify(h));
    for (const op of ['QLinearAveragePool', 'QLinearConcat', 'QLinearGlobalAveragePool', 'QLinearMul'])
      assert.ok(n(h, `com.microsoft.${op}`) >= 1, `no ${op}: ${JSON.stringify(h)}`);
    for (const op of ['Conv', 'Gemm', 'Add', 'AveragePool', 'Concat'])
      assert.equal(n(h, op), 0, `a float ${op} is left: ${JSON.stringify(h)}`);
    assert.equal(n(s, 'com.microsoft.QLinearConv'), info.int8_ops.conv2d);
  });
}
