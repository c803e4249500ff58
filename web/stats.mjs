// What the page shows about the frames so far: live accuracy, exits,
// MACs saved, frame times against the budget. Plain counters, no DOM.

export class LiveStats {
  /** `positions`: saver (0), exits 1…S, head (S+1). */
  constructor({ stageCount, backboneMacs, keep = 2000 }) {
    this.backboneMacs = backboneMacs;
    this.keep = keep;
    this.exits = new Array(stageCount + 2).fill(0);
    this.frames = [];      // the last `keep` frames, oldest first
    this.perConfig = new Map();
    this.total = 0;
    this.labelled = 0;
    this.correct = 0;
    this.macs = 0;
  }

  /** frame: {t, config, ms, budgetMs, position, macs, exhausted, correct (bool | null)} */
  add(frame) {
    this.total++;
    this.exits[frame.position]++;
    this.macs += frame.macs;
    if (frame.correct !== null) {
      this.labelled++;
      this.correct += frame.correct ? 1 : 0;
    }
    const c = this.perConfig.get(frame.config) ?? { frames: 0, labelled: 0, correct: 0, macs: 0 };
    c.frames++;
    c.macs += frame.macs;
    if (frame.correct !== null) {
      c.labelled++;
      c.correct += frame.correct ? 1 : 0;
    }
    this.perConfig.set(frame.config, c);
    this.frames.push({ ...frame, over: frame.ms > frame.budgetMs });
    if (this.frames.length > this.keep) this.frames.shift();
  }

  get accuracy() {
    return this.labelled ? this.correct / this.labelled : null;
  }

  /** Accuracy over the last n labelled frames. */
  recentAccuracy(n = 100) {
    const recent = this.frames.filter((f) => f.correct !== null).slice(-n);
    return recent.length ? recent.filter((f) => f.correct).length / recent.length : null;
  }

  /** Share of the backbone's MACs not spent, over every frame. */
  get saved() {
    return this.total ? 1 - this.macs / (this.total * this.backboneMacs) : null;
  }

  /** Share of frames since time t (ms) within their budget, and how many. */
  withinBudget(since = -Infinity) {
    const frames = this.frames.filter((f) => f.t >= since);
    return { frames: frames.length, share: frames.length ? frames.filter((f) => !f.over).length / frames.length : null };
  }
}
