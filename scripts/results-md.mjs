// Writes docs/RESULTS.md from docs/results/*.jsonl (scripts/report.sh):
// the engine's figures on the Fashion-MNIST test set, per graph and per
// shipped configuration, and how the searches compare on the test records.
import fs from 'node:fs';

const dir = 'docs/results';
const read = (f) => fs.readFileSync(`${dir}/${f}`, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const graphs = read('graphs-test.jsonl'), configs = read('configs-test.jsonl');
const head = graphs.find((g) => g.graph === 'head');
const pct = (x) => (100 * x).toFixed(2);
const M = (x) => (x / 1e6).toFixed(2);
const out = [];
out.push('# Results on the Fashion-MNIST test set', '',
  'Measured by the engine (native build, SIMD kernels) on all 10 000 test images with',
  '`bash scripts/report.sh` (then `node scripts/results-md.mjs`). Machine: 2 vCPUs of an AMD EPYC,',
  'shared and noisy; times are per image, one thread.', '',
  '## Every classifier alone', '',
  '| graph | path MACs (M) | % of backbone | test top-1 % | agreement with PyTorch | mean ms |', '|---|---:|---:|---:|---:|---:|');
for (const g of graphs)
  out.push(`| ${g.graph} | ${M(g.mean_macs)} | ${(100 * g.mean_macs / g.backbone_macs).toFixed(1)} | ${pct(g.accuracy)} | ${g.agreement === undefined ? '' : `${g.compared - g.disagreements.length}/${g.compared}`} | ${g.mean_ms.toFixed(3)} |`);
out.push('', '## Shipped configurations through the cascade', '',
  `Backbone alone: ${pct(head.accuracy)} % at ${M(head.mean_macs)} M MACs.`, '',
  '| config | test top-1 % | Δ vs backbone (pp) | mean MACs (M) | MACs saved | mean ms | p95 ms | answered by |', '|---|---:|---:|---:|---:|---:|---:|---|');
for (const c of configs) {
  const exits = Object.entries(c.exits).sort((a, b) => b[1] - a[1]).slice(0, 4).map(([k, v]) => `${k} ${v}`).join(', ');
  out.push(`| ${c.config} | ${pct(c.accuracy)} | ${(100 * (c.accuracy - head.accuracy)).toFixed(2)} | ${M(c.mean_macs)} | ${(100 * (1 - c.mean_macs / c.backbone_macs)).toFixed(1)} % | ${c.mean_ms.toFixed(3)} | ${c.p95_ms.toFixed(3)} | ${exits} |`);
}
const best = (maxLoss) => configs.filter((c) => head.accuracy - c.accuracy <= maxLoss + 1e-12)
  .sort((a, b) => a.mean_macs - b.mean_macs)[0];
for (const [loss, label] of [[0.005, '0.5'], [0.001, '0.1']]) {
  const c = best(loss);
  if (c) out.push('', `Cheapest configuration losing ≤ ${label} pp: **${c.config}**, ${pct(c.accuracy)} % (${(100 * (c.accuracy - head.accuracy)).toFixed(2)} pp) at ${M(c.mean_macs)} M MACs, **${(100 * (1 - c.mean_macs / c.backbone_macs)).toFixed(1)} % fewer** than the backbone.`);
}
out.push('', '## Search methods on the same records (test split)', '',
  'Each method searched on the train records; the curves are evaluated on the test records',
  '(PyTorch\'s predictions, which the engine reproduces, see the agreement column above).', '',
  '| method | points | best accuracy % | accuracy at ≤ 5 M MACs % | accuracy at ≤ 10 M MACs % |', '|---|---:|---:|---:|---:|');
const curves = {};
for (const m of ['samethres', 'onepass', 'circular', 'both']) {
  const pts = read(`search-${m}-test.jsonl`).filter((p) => p.config);
  curves[m] = pts;
  const at = (cap) => Math.max(...pts.filter((p) => p.mean_macs <= cap).map((p) => p.accuracy), 0);
  out.push(`| ${m} | ${pts.length} | ${pct(Math.max(...pts.map((p) => p.accuracy)))} | ${pct(at(5e6))} | ${pct(at(10e6))} |`);
}
// Is the search curve at least as good as samethres everywhere?
const dominated = curves.samethres.filter((s) => !curves.both.some((p) => p.mean_macs <= s.mean_macs && p.accuracy >= s.accuracy));
out.push('', `Samethres points not matched by the \`both\` curve (no point with ≤ MACs and ≥ accuracy): ${dominated.length} of ${curves.samethres.length}` +
  (dominated.length ? `: ${dominated.map((p) => `${pct(p.accuracy)} % at ${M(p.mean_macs)} M`).join('; ')}` : '.'), '',
  '![Pareto curves](pareto.svg)', '');
fs.writeFileSync('docs/RESULTS.md', out.join('\n'));
