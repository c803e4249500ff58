// dyce vs onnxruntime-web vs tfjs-backend-wasm, one Node process, one
// thread each, runs interleaved (the order rotates every round), median
// and p90 of N timed runs after a warm-up (the minimum too: on a shared
// machine it is the least disturbed run of each runtime).
//
//   npm run bench [-- --json FILE] [--runs N] [--warmup N] [--models a,b]
//                 [--runtimes dyce,ort-web,tfjs-wasm] [--threads N [--settle MS] [--split-min-macs N]]
//
// Int8 (issue 15): dyce-int8 runs NAME-int8.dyce (models/quantize.py) in
// the same build as dyce, ort-web-int8 its QDQ form NAME-int8.qdq.onnx
// (models/export_qdq.py) in onnxruntime-web, timed in the same interleaved
// runs; a line per model gives their time ratios and how far their
// outputs agree on AGREEMENT_INPUTS inputs. Models without int8 files
// (tests/bench/make_int8_models.py makes them) skip those two rows.
//
// --threads N: one thread vs N for each runtime instead (threads.mjs),
// under Node and in Chromium; its models by default are those of
// threads.mjs (efficientnet_b0 in, conv3x3_56x56x64 out), and
// --hosts node,chromium picks where.
//
// Models come from build/benchmodels (tests/bench/make_models.py, run by
// `npm run bench` through tests/bench/run.sh).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { detectVariant } from '../../wasm/variants.mjs';
import { readModel } from './model_files.mjs';
import { RUNTIMES } from './runtimes.mjs';
import { maxRelDiff, median, quantile } from './stats.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODELS = ['mobilenet_v2', 'resnet18', 'fmnist_backbone', 'fmnist_saver0', 'conv3x3_56x56x64', 'vit_tiny'];
const INT8 = ['dyce-int8', 'ort-web-int8'];
// The models make_int8_models.py quantizes (others skip the int8 rows quietly).
const INT8_MODELS = ['mobilenet_v2', 'resnet18', 'fmnist_backbone', 'efficientnet_b0'];
const AGREEMENT_INPUTS = 8;

function parseArgs(argv) {
  const relaxed = detectVariant() === 'relaxed';
  const o = { runs: 30, warmup: 5, models: MODELS, settle: 0,
    runtimes: Object.keys(RUNTIMES).filter((r) => relaxed || r !== 'dyce-relaxed'),
    dir: path.join(ROOT, 'build/benchmodels') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i + 1];
    if (argv[i] === '--models' || argv[i] === '--runtimes') o[`${argv[i].slice(2)}Given`] = true;
    switch (argv[i]) {
      case '--json': o.json = v; i++; break;
      case '--runs': o.runs = Math.max(1, +v); i++; break;
      case '--warmup': o.warmup = +v; i++; break;
      case '--models': o.models = v.split(','); i++; break;
      case '--runtimes': o.runtimes = v.split(','); i++; break;
      case '--dir': o.dir = v; i++; break;
      case '--threads': o.threads = +v; i++; break;
      case '--hosts': o.hosts = v.split(','); i++; break;
      case '--split-min-macs': // dyce's splitMinMacs (default: the engine's)
        o.splitMinMacs = +v; i++;
        if (!(o.splitMinMacs >= 0)) throw new Error(`--split-min-macs takes MACs ≥ 0, not ${v}`);
        break;
      case '--settle':
        o.settle = +v; i++;
        if (!(o.settle >= 0)) throw new Error(`--settle takes milliseconds ≥ 0, not ${v}`);
        break;
      default: throw new Error(`unknown argument ${argv[i]}`);
    }
  }
  return o;
}

const argmax = (a) => a.reduce((best, v, i) => (v > a[best] ? i : best), 0);

/** dyce-int8 vs ort-web-int8 (and vs dyce float) on AGREEMENT_INPUTS
 * inputs of the bench's kind (the first is the timed one). */
async function int8Agreement(loaded) {
  const by = (rt) => loaded.find((l) => l.rt === rt)?.r;
  const [di, oi, df] = [by('dyce-int8'), by('ort-web-int8'), by('dyce')];
  if (!di || !oi) return null;
  const out = { inputs: AGREEMENT_INPUTS, max_abs_diff: 0, max_abs_output: 0, top1_agree: 0,
    top1_agree_with_float: df ? 0 : null };
  for (let k = 0; k < AGREEMENT_INPUTS; k++) {
    const seed = 12345 + 7919 * k;
    const a = Float32Array.from(await di.runSeed(seed)), b = Float32Array.from(await oi.runSeed(seed));
    if (a.length !== b.length) throw new Error(`dyce-int8 gives ${a.length} outputs, ort-web-int8 ${b.length}`);
    for (let i = 0; i < a.length; i++) {
      out.max_abs_diff = Math.max(out.max_abs_diff, Math.abs(a[i] - b[i]));
      out.max_abs_output = Math.max(out.max_abs_output, Math.abs(a[i]));
    }
    if (argmax(a) === argmax(b)) out.top1_agree++;
    if (df && argmax(a) === argmax(Float32Array.from(await df.runSeed(seed)))) out.top1_agree_with_float++;
  }
  return out;
}

async function benchModel(name, o) {
  const files = readModel(o.dir, name);
  for (const rt of o.runtimes) if (!RUNTIMES[rt]) throw new Error(`unknown runtime ${rt}`);
  const runtimes = o.runtimes.filter((rt) => files[RUNTIMES[rt].file] !== undefined);
  const skipped = o.runtimes.filter((rt) => !runtimes.includes(rt));
  if (skipped.length && (o.runtimesGiven || INT8_MODELS.includes(name)))
    console.log(`# ${name}: ${skipped.join(', ')} skipped, no ` +
      `${skipped.map((rt) => files.missing[RUNTIMES[rt].file] ?? RUNTIMES[rt].file).join(', ')} ` +
      '(tests/bench/make_int8_models.py makes them)');
  const loaded = [];
  for (const rt of runtimes) loaded.push({ rt, r: await RUNTIMES[rt].load(files), times: [] });
  const outputs = {};
  // Warm-up: at least o.warmup runs and 1 s per runtime (JIT tiers, caches).
  for (const l of loaded) {
    const start = performance.now();
    for (let i = 0; i < o.warmup || performance.now() - start < 1000; i++) await l.r.run();
    outputs[l.rt] = Float32Array.from(await l.r.run());
  }
  for (let i = 0; i < o.runs; i++)
    for (let j = 0; j < loaded.length; j++) {
      const l = loaded[(i + j) % loaded.length];
      const t0 = performance.now();
      await l.r.run();
      l.times.push(performance.now() - t0);
    }
  const int8 = await int8Agreement(loaded);
  const plan = files.plan;
  const elements = plan.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const largest = Math.max(...elements) * 4;
  // int8 activations take a byte; the float input still takes 4.
  const largestInt8 = Math.max(Math.max(...elements), elements[plan.input] * 4);
  const rows = loaded.map(({ rt, r, times }) => {
    times.sort((a, b) => a - b);
    const ms = median(times);
    return { model: name, runtime: rt, median_ms: ms, p90_ms: quantile(times, 0.9), min_ms: times[0],
      gflops: (2 * plan.macs) / ms / 1e6,
      max_rel_diff_vs_dyce: outputs.dyce ? maxRelDiff(outputs[rt], outputs.dyce) : null,
      ...(r.memory ? { memory: { ...r.memory(),
        largestActivationBytes: INT8.includes(rt) ? largestInt8 : largest } } : {}),
      ...(int8 && INT8.includes(rt) ? { int8_agreement: int8 } : {}) };
  });
  loaded.forEach((l) => l.r.free());
  return rows;
}

const PEERS = ['ort-web', 'tfjs-wasm'];

function report(rows) {
  const fmt = (x, d, w = 9) => (x === undefined ? '-' : x.toFixed(d)).padStart(w);
  console.log(`${'model'.padEnd(18)}${'runtime'.padEnd(13)}${'median ms'.padStart(10)}` +
    `${'p90 ms'.padStart(9)}${'min ms'.padStart(9)}${'GFLOP/s'.padStart(9)}${'dyce/peer'.padStart(11)}` +
    `${'relaxed/peer'.padStart(13)}${'(of mins)'.padStart(11)}  max rel diff vs dyce`);
  for (const r of rows) {
    const ms = (rt) => rows.find((x) => x.model === r.model && x.runtime === rt)?.median_ms;
    const mins = (rt) => rows.find((x) => x.model === r.model && x.runtime === rt)?.min_ms;
    const peer = PEERS.includes(r.runtime);
    const ratio = (rt) => (peer && ms(rt) ? fmt(ms(rt) / r.median_ms, 3, 11) : ' '.repeat(11));
    const minRatio = peer && mins('dyce') ? fmt(mins('dyce') / r.min_ms, 3, 11) : ' '.repeat(11);
    console.log(`${r.model.padEnd(18)}${r.runtime.padEnd(13)}${fmt(r.median_ms, 3, 10)}` +
      `${fmt(r.p90_ms, 3)}${fmt(r.min_ms, 3)}${fmt(r.gflops, 2)}${ratio('dyce')}  ${ratio('dyce-relaxed')}` +
      `${minRatio}  ${r.max_rel_diff_vs_dyce?.toExponential(1) ?? ''}`);
  }
  int8Line(rows);
  for (const r of rows.filter((x) => x.memory)) {
    const m = r.memory, mb = (x) => (x / 2 ** 20).toFixed(1);
    // The bound counts the weights as the package holds them, not as packed.
    const bound = m.packageBytes + 2 * m.largestActivationBytes;
    console.log(`  ${r.runtime} wasm memory ${mb(m.wasmBytes)} MiB; package ${mb(m.packageBytes)} + ` +
      `2 x largest activation ${mb(m.largestActivationBytes)} = ${mb(bound)} MiB ` +
      `(memory / that = ${(m.wasmBytes / bound).toFixed(2)}); packed weights ${mb(m.weightBytes)} MiB, ` +
      `arena ${mb(m.arenaBytes)} MiB`);
  }
}

/** Time ratios (medians, then minimums) of the int8 rows and their output
 * agreement. */
function int8Line(rows) {
  const at = (rt) => rows.find((x) => x.runtime === rt);
  const [di, oi, df, of] = ['dyce-int8', 'ort-web-int8', 'dyce', 'ort-web'].map(at);
  if (!di && !oi) return;
  const ratio = (a, b, what) => (a && b ? `${what} ${(a.median_ms / b.median_ms).toFixed(3)} ` +
    `(mins ${(a.min_ms / b.min_ms).toFixed(3)})` : null);
  const parts = [ratio(di, df, 'dyce-int8 / dyce'), ratio(di, oi, 'dyce-int8 / ort-web-int8'),
    ratio(oi, of, 'ort-web-int8 / ort-web')].filter(Boolean);
  console.log(`  int8 time ratios: ${parts.join('; ')}`);
  const a = (di ?? oi).int8_agreement;
  if (a) {
    console.log(`  int8 outputs, dyce-int8 vs ort-web-int8 on ${a.inputs} inputs: max abs diff ` +
      `${a.max_abs_diff.toExponential(2)} (largest |output| ${a.max_abs_output.toFixed(3)}), ` +
      `top-1 agrees ${a.top1_agree}/${a.inputs}` +
      (a.top1_agree_with_float === null ? '' : `; dyce-int8 vs dyce float top-1 ${a.top1_agree_with_float}/${a.inputs}`));
  }
}

async function benchOneThread(o) {
  console.log(`# ${new Date().toISOString()} ${os.cpus()[0].model}, ${os.cpus().length} cores, ` +
    `Node ${process.version}; ${o.runs} runs after ${o.warmup} warm-up, interleaved`);
  const rows = [];
  for (const m of o.models) {
    const r = await benchModel(m, o);
    rows.push(...r);
    report(r);
  }
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(rows, null, 2) + '\n');
}

const o = parseArgs(process.argv.slice(2));
// Run directly (not through `npm run bench`, which exports them first), a
// missing model would fail every runtime of every block with an HTTP 404.
const absent = o.models.filter((m) => !fs.existsSync(path.join(o.dir, `${m}.tfjs.json`)));
if (absent.length) {
  console.error(`bench: no ${absent.join(', ')} in ${o.dir}: \`npm run bench\` exports the benchmark models ` +
    `(or /usr/bin/python3 tests/bench/make_models.py ${path.relative(ROOT, o.dir) || o.dir})`);
  process.exit(2);
}
if (o.threads === undefined) await benchOneThread(o);
else await (await import('./threads.mjs')).benchThreads(o);
