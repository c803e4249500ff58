// Cold start: import + load + first inference, each in a fresh Node
// process (tests/bench/coldstart_child.mjs), for dyce, onnxruntime-web
// (InferenceSession.create + first run) and tfjs-backend-wasm (setBackend
// + model + first run) on the same models, runs interleaved; medians and
// minimums (on a shared machine the minimum is the least disturbed run).
// Then dyce in Chromium (tests/bench/coldstart_page.mjs): a fresh browser
// context per run, so nothing is cached, and a second visit in it.
//
//   node tests/bench/coldstart.mjs [--runs N] [--json FILE] [--no-browser]
//
// `npm run bench` runs it after the steady-state benchmark.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { chromiumColdStarts } from './coldstart_page.mjs';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const args = process.argv.slice(2);
const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const runs = Math.max(1, +opt('--runs', 7));

// The shipped cascade (dyce only: the peers have no cascade), then the
// same backbone in all three runtimes.
const CASES = [
  ['dyce', path.join(ROOT, 'models/fashion-mnist')],
  ...['dyce', 'ort-web', 'tfjs-wasm'].map((rt) => [rt, path.join(ROOT, 'build/benchmodels/fmnist_backbone')]),
].filter(([rt, base]) => fs.existsSync(`${base}.${rt === 'dyce' ? 'dyce' : 'onnx'}`));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b), m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function child(runtime, base) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'tests/bench/coldstart_child.mjs'), runtime, base],
    { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`cold start of ${runtime} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1));
}

const results = CASES.map(() => []);
for (let i = 0; i < runs; i++)
  for (let j = 0; j < CASES.length; j++) {
    const k = (i + j) % CASES.length; // rotate the order every round
    results[k].push(child(...CASES[k]));
  }

const KEYS = ['importMs', 'loadMs', 'firstMs', 'totalMs', 'steadyMs'];
const rows = CASES.map(([runtime, base], k) => {
  const rs = results[k], row = { host: 'node', runtime, model: path.basename(base), variant: rs[0].variant ?? null, runs: rs.length };
  for (const key of KEYS) {
    row[key] = median(rs.map((r) => r[key]));
    row[`${key}Min`] = Math.min(...rs.map((r) => r[key]));
  }
  row.firstOverSteady = row.firstMs / row.steadyMs;
  return row;
});
if (args.includes('--no-browser')) {
  // asked for
} else if (!fs.existsSync('/usr/bin/chromium')) {
  console.log('# no /usr/bin/chromium (scripts/bootstrap.sh installs it): the browser rows are left out');
} else {
  rows.push(...await chromiumColdStarts(ROOT, runs));
}

const f = (x) => x.toFixed(1).padStart(8);
console.log(`\n# cold start: import + load + first inference, ${runs} fresh processes / browser contexts each; median (min) ms`);
console.log(`${'host'.padEnd(24)}${'runtime'.padEnd(14)}${'model'.padEnd(17)}${'import'.padStart(16)}${'load'.padStart(18)}` +
  `${'first'.padStart(18)}${'total'.padStart(18)}${'steady'.padStart(9)}${'first/steady'.padStart(14)}`);
for (const r of rows) {
  const both = (key) => `${f(r[key])} (${r[`${key}Min`].toFixed(1)})`.padStart(key === 'importMs' ? 16 : 18);
  console.log(`${r.host.padEnd(24)}${r.runtime.padEnd(14)}${r.model.padEnd(17)}${both('importMs')}${both('loadMs')}` +
    `${both('firstMs')}${both('totalMs')}${f(r.steadyMs)}${r.firstOverSteady.toFixed(1).padStart(14)}`);
}
if (opt('--json')) fs.writeFileSync(opt('--json'), JSON.stringify(rows, null, 2) + '\n');
