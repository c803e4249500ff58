// Draws accuracy against mean MACs as an SVG, with no dependencies.
//
//   node scripts/plot-pareto.mjs OUT.svg "TITLE" FILE:LABEL:STYLE ...
//
// Each FILE holds JSON lines with `accuracy` and `mean_macs` (what
// `dyce eval --json` and `dyce search --json` print; lines without them
// are skipped). STYLE is `line` (a curve through the points in MAC order)
// or `points` (labelled markers, e.g. the backbone and each saver alone).
import fs from 'node:fs';

const [out, title, ...specs] = process.argv.slice(2);
if (!out || !specs.length) {
  console.error('usage: plot-pareto.mjs OUT.svg TITLE FILE:LABEL:line|points ...');
  process.exit(2);
}

const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];
const series = specs.map((spec, i) => {
  const [file, label, style = 'line'] = spec.split(':');
  const points = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l))
    .filter((p) => p.accuracy >= 0 && p.mean_macs >= 0)
    .map((p) => ({ x: p.mean_macs / 1e6, y: 100 * p.accuracy, name: p.config ?? p.graph ?? '' }))
    .sort((a, b) => a.x - b.x);
  return { label, style, points, color: colors[i % colors.length] };
});

const all = series.flatMap((s) => s.points);
const W = 760, H = 480, L = 70, R = 20, T = 40, B = 55;
const xmax = Math.max(...all.map((p) => p.x)) * 1.05;
const ymin = Math.floor(Math.min(...all.map((p) => p.y)) - 0.5), ymax = Math.ceil(Math.max(...all.map((p) => p.y)) + 0.5);
const sx = (x) => L + (x / xmax) * (W - L - R);
const sy = (y) => H - B - ((y - ymin) / (ymax - ymin)) * (H - T - B);
const esc = (s) => String(s).replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]);

const parts = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">`,
  `<rect width="${W}" height="${H}" fill="white"/>`,
  `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15">${esc(title)}</text>`];
for (let k = 0; k <= 5; k++) {
  const x = (xmax * k) / 5, y = ymin + ((ymax - ymin) * k) / 5;
  parts.push(`<line x1="${sx(x)}" y1="${T}" x2="${sx(x)}" y2="${H - B}" stroke="#eee"/>`,
    `<text x="${sx(x)}" y="${H - B + 18}" text-anchor="middle">${x.toFixed(1)}</text>`,
    `<line x1="${L}" y1="${sy(y)}" x2="${W - R}" y2="${sy(y)}" stroke="#eee"/>`,
    `<text x="${L - 8}" y="${sy(y) + 4}" text-anchor="end">${y.toFixed(1)}</text>`);
}
parts.push(`<text x="${(L + W - R) / 2}" y="${H - 12}" text-anchor="middle">mean MACs per image (millions)</text>`,
  `<text transform="translate(18 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">top-1 accuracy (%)</text>`,
  `<rect x="${L}" y="${T}" width="${W - L - R}" height="${H - T - B}" fill="none" stroke="#999"/>`);
series.forEach((s, i) => {
  if (s.style === 'line') {
    parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${s.points.map((p) => `${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`).join(' ')}"/>`);
    for (const p of s.points) parts.push(`<circle cx="${sx(p.x)}" cy="${sy(p.y)}" r="2.5" fill="${s.color}"/>`);
  } else {
    for (const p of s.points)
      parts.push(`<rect x="${sx(p.x) - 4}" y="${sy(p.y) - 4}" width="8" height="8" fill="${s.color}"/>`,
        `<text x="${sx(p.x) + 7}" y="${sy(p.y) - 6}" fill="${s.color}">${esc(p.name)}</text>`);
  }
  parts.push(`<rect x="${W - R - 230}" y="${H - B - 20 - 18 * i}" width="10" height="10" fill="${s.color}"/>`,
    `<text x="${W - R - 214}" y="${H - B - 11 - 18 * i}">${esc(s.label)}</text>`);
});
parts.push('</svg>');
fs.writeFileSync(out, parts.join('\n') + '\n');
