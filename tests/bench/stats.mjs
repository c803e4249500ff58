// Order statistics of run times and the output check shared by the
// benchmarks.

export const quantile = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
export const median = (sorted) => (sorted.length % 2 ? sorted[(sorted.length - 1) / 2]
  : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2);

/** median / p90 / min (ms) of unsorted run times. */
export function summarize(times) {
  const s = [...times].sort((a, b) => a - b);
  return { median_ms: median(s), p90_ms: quantile(s, 0.9), min_ms: s[0] };
}

/** Largest relative difference between two outputs (a runtime vs a reference). */
export function maxRelDiff(a, b) {
  let scale = 1e-6, diff = 0;
  for (let i = 0; i < a.length; i++) scale = Math.max(scale, Math.abs(b[i]));
  for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i] - b[i]));
  return a.length === b.length ? diff / scale : Infinity;
}
