// The page's three small charts, drawn without a library: the Pareto curve
// (SVG: the search's points, live points, the current configuration), the
// recent frame times against the budget (canvas) and the exit histogram.

const SVG = 'http://www.w3.org/2000/svg';
const el = (name, attrs = {}, parent) => {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  parent?.appendChild(e);
  return e;
};
const fmtMacs = (m) => (m >= 1e6 ? `${(m / 1e6).toFixed(m >= 1e7 ? 0 : 1)}M` : `${Math.round(m / 1e3)}k`);

/** The Pareto chart: accuracy (y) against mean MACs (x) of the measured configurations. */
export class ParetoChart {
  constructor(svg, configs) {
    this.svg = svg;
    this.points = configs.filter((c) => c.accuracy !== null && c.meanMacs !== null);
    const box = { x0: 34, x1: 300, y0: 182, y1: 10 };
    // Scaled to the measured points: the backbone's MACs would squash a cheap curve into a corner.
    const maxX = 1.1 * Math.max(...this.points.map((c) => c.meanMacs), 1);
    const accs = this.points.map((c) => c.accuracy);
    const lo = Math.max(0, Math.min(...accs, 1) - 0.02), hi = Math.min(1, Math.max(...accs, 0) + 0.01);
    this.x = (m) => box.x0 + (m / maxX) * (box.x1 - box.x0);
    this.y = (a) => box.y0 - ((Math.min(Math.max(a, lo), hi) - lo) / (hi - lo || 1)) * (box.y0 - box.y1);
    svg.replaceChildren();
    el('path', { class: 'axis', d: `M${box.x0},${box.y1}V${box.y0}H${box.x1}` }, svg);
    for (const a of [lo, (lo + hi) / 2, hi]) el('text', { x: 2, y: this.y(a) + 3 }, svg).textContent = `${(a * 100).toFixed(1)}%`;
    for (const m of [0, maxX / 2, maxX]) el('text', { x: this.x(m) - 8, y: 196 }, svg).textContent = fmtMacs(m);
    el('text', { x: box.x1 - 60, y: box.y0 - 4 }, svg).textContent = 'mean MACs →';
    el('path', { class: 'curve', d: 'M' + this.points.map((c) => `${this.x(c.meanMacs)},${this.y(c.accuracy)}`).join('L') }, svg);
    this.dots = new Map(this.points.map((c) => [c.index, el('circle', { class: 'point', cx: this.x(c.meanMacs), cy: this.y(c.accuracy), r: 3 }, svg)]));
    this.live = new Map();
    this.current = el('circle', { class: 'current', r: 6, cx: -20, cy: -20 }, svg);
    this.label = el('text', { class: 'current-label', x: -100, y: -100 }, svg);
  }

  /** Moves the marker to configuration `config` (an index); greys out points over `capMacs`. */
  update(config, perConfig, capMacs) {
    for (const c of this.points) this.dots.get(c.index).classList.toggle('capped', capMacs !== null && c.meanMacs > capMacs);
    for (const [index, s] of perConfig) {
      if (s.labelled < 20) continue;
      const ring = this.live.get(index) ?? el('circle', { class: 'live', r: 4 }, this.svg);
      this.live.set(index, ring);
      ring.setAttribute('cx', Math.min(this.x(s.macs / s.frames), 316));
      ring.setAttribute('cy', this.y(s.correct / s.labelled));
    }
    const c = this.points.find((p) => p.index === config);
    if (!c) return this.current.setAttribute('cx', -20);
    const cx = this.x(c.meanMacs), cy = this.y(c.accuracy);
    this.current.setAttribute('cx', cx);
    this.current.setAttribute('cy', cy);
    this.svg.appendChild(this.current); // keep the marker on top of the live rings
    this.label.setAttribute('x', Math.min(cx + 8, 250));
    this.label.setAttribute('y', Math.max(cy - 8, 20));
    this.label.textContent = c.name;
  }
}

/** Bars of the last frame times; the dashed line is the budget, red bars are over it. */
export class FrameChart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    const style = getComputedStyle(canvas); // read once: drawing runs many times a second
    this.colors = Object.fromEntries(['--bad', '--accent', '--ink', '--muted'].map((v) => [v, style.getPropertyValue(v)]));
  }

  draw(frames, budgetMs) {
    const { ctx, colors } = this, { width: w, height: h } = this.canvas;
    ctx.clearRect(0, 0, w, h);
    const shown = frames.slice(-120);
    // Up to twice the budget: a frame beyond that is a full red bar.
    const top = budgetMs * 2;
    const bw = w / 120, y = (ms) => h - (Math.min(ms, top) / top) * h;
    shown.forEach((f, i) => {
      ctx.fillStyle = f.over ? colors['--bad'] : colors['--accent'];
      ctx.fillRect(i * bw, y(f.ms), Math.max(bw - 1, 1), h - y(f.ms));
    });
    ctx.strokeStyle = colors['--ink'];
    ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.moveTo(0, y(budgetMs));
    ctx.lineTo(w, y(budgetMs));
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.fillStyle = colors['--muted'];
    ctx.font = '22px system-ui, sans-serif';
    ctx.fillText(`budget ${budgetMs.toFixed(1)} ms`, 8, Math.max(y(budgetMs) - 6, 22));
  }
}

/** The exit histogram: one column per position (saver, exit 1…S, head). */
export function drawExits(container, counts) {
  if (container.children.length !== counts.length) {
    container.replaceChildren(...counts.map((_, p) => {
      const col = document.createElement('div');
      col.className = 'col';
      col.innerHTML = `<div class="fill"></div><span>${p === 0 ? 'saver' : p === counts.length - 1 ? 'head' : p}</span>`;
      return col;
    }));
  }
  const max = Math.max(...counts, 1), total = counts.reduce((a, b) => a + b, 0) || 1;
  counts.forEach((n, p) => {
    const col = container.children[p];
    col.firstChild.style.height = `${(n / max) * 100}%`;
    col.title = `${p === 0 ? 'saver' : p === counts.length - 1 ? 'head' : `exit after stage ${p}`}: ${n} (${((n / total) * 100).toFixed(1)} %)`;
  });
}
