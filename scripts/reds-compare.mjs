// Compares accuracy-vs-MACs curves measured on the test set: is the first
// (joint) never below the others, and strictly above somewhere?
//
//   node scripts/reds-compare.mjs JOINT.jsonl OTHER.jsonl ...
//
// Each curve is read as "the best accuracy reachable with at most c mean
// MACs" (its upper envelope: a page picks the most accurate configuration
// that fits its budget), evaluated at every cost where any curve has a
// point, from the cheapest point of the joint curve on. Prints JSON.
// `compareCurves` is the same comparison for callers (tests/node/levels).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Points of `dyce eval --json` output, without unmeasured ones (accuracy −1). */
export function parseCurve(text) {
  return text.split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((p) => p.accuracy >= 0 && p.mean_macs >= 0);
}

export const readCurve = (file) => parseCurve(fs.readFileSync(file, 'utf8'));

/**
 * `joint` against each of `others` (arrays of {accuracy, mean_macs}):
 * → {costs_compared, against: [{costs_below, costs_above, largest_deficit_pp, …}]}
 * in the order of `others`.
 */
export function compareCurves(joint, others) {
  const best = (points, c) => points.reduce((a, p) => (p.mean_macs <= c && p.accuracy > a ? p.accuracy : a), -Infinity);
  const from = Math.min(...joint.map((p) => p.mean_macs));
  const costs = [...new Set([joint, ...others].flat().map((p) => p.mean_macs))].filter((c) => c >= from).sort((a, b) => a - b);
  const against = others.map((other) => {
    let below = 0, above = 0, worst = 0, bestGain = 0, gainAt = null, worstAt = null;
    for (const c of costs) {
      const o = best(other, c);
      if (o === -Infinity) continue;
      const d = best(joint, c) - o;
      if (d < 0) { below++; if (d < worst) { worst = d; worstAt = c; } }
      if (d > 0) { above++; if (d > bestGain) { bestGain = d; gainAt = c; } }
    }
    return {
      costs_below: below, costs_above: above,
      largest_deficit_pp: +(100 * worst).toFixed(3), deficit_at_macs: worstAt,
      largest_gain_pp: +(100 * bestGain).toFixed(3), gain_at_macs: gainAt,
    };
  });
  return { costs_compared: costs.length, against };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = process.argv.slice(2);
  if (files.length < 2) {
    console.error('usage: reds-compare.mjs JOINT.jsonl OTHER.jsonl ...');
    process.exit(2);
  }
  const [joint, ...others] = files.map(readCurve);
  const result = compareCurves(joint, others);
  result.against = result.against.map((r, i) => ({ curve: files[i + 1], ...r }));
  console.log(JSON.stringify(result, null, 1));
}
