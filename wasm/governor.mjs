// The governor: which configuration to run next, from what the page
// measures and what the device says. `govern(signals, state, table)` is a
// pure function (docs/GOVERNOR.md has the policy and its parameters);
// `Governor` keeps the state and fires a "change" event with the reason.
//
// The table is a list of *rungs*: the package's Pareto configurations,
// cheapest first, each more accurate than the one before. Frame costs come
// from ./cost-model.mjs: measured at the current rung, predicted for the
// others from the MACs they spend and the speed the device shows now.
import { emptyCosts, macsQuantile, observe, paceOf, predict, quantile, slowSpeedOf } from './cost-model.mjs';
import { checkConfigs, checkLevel, checkParams, checkSignals, checkStart, checkState, checkTable } from './governor-checks.mjs';
import { chooseThreads, emptyThreadHold } from './thread-policy.mjs';

export const DEFAULTS = Object.freeze({
  quantile: 0.95,        // a rung's cost: this quantile of its frame times (the budget is met 95 % of the time)
  window: 40,            // frame times kept for the current rung's measured cost
  minSamples: 5,         // frames at a rung before its own cost counts as measured
  speedWindow: 12,       // recent frames (any rung) that set the device's speed
  slowWindow: 30,        // a step up must fit at the slowest speed seen over this many frames
  tightWindow: 100,      // a frame over upFit × budget keeps rungs whose dear frames spend as much out of reach this long ...
  fasterBy: 3,           // ... unless the device's pace has since dropped this many times (also ends back-offs)
  overheadWindow: 40,    // recent frames (any rung) the fixed per-frame cost is learned from
  macsWindow: 60,        // recent frames per rung that set its MACs quantile
  trustSamples: 45,      // frames at a rung before the most MACs it spent count instead of its tail bound
  tailQuantile: 0.975,   // the tail bound from a rung's mean MACs covers this share of its inputs
  minGap: 0.15,          // rungs: consecutive ones differ by at least this share of mean MACs
  overheadShare: 0.1,    // fixed per-frame cost before it is learned, as a share of the top rung's MACs
  fit: 0.8,              // stepping down picks a rung whose cost is ≤ fit × budget
  upFit: 0.6,            // stepping up needs ≤ upFit × budget (the hysteresis band)
  downAfter: 3,          // consecutive frames over budget that force a step down
  upAfter: 20,           // consecutive frames within fit × budget before a step up
  lowBattery: 0.2,       // battery level at or below which, discharging, compute is capped
  criticalBattery: 0.1,  // ... and at or below which only the cheapest rung runs
  saverCap: 0.25,        // MAC cap (share of the top rung's mean MACs) on low battery or saver
  // Discharging above lowBattery: the accuracy (a fraction) given up to save
  // energy, `full` at 100 % charge growing linearly to `low` at lowBattery;
  // null: always the most accurate rung that fits (docs/GOVERNOR.md).
  energy: Object.freeze({ full: 0.002, low: 0.01 }),
  pressureCaps: Object.freeze({ serious: 0.5, critical: 0.25 }),
  probeFrames: 30,       // a step up is on probation for this many frames: one frame over budget undoes it ...
  backoff: Object.freeze([100, 1600]), // ... and blocks that rung and all dearer ones 100, 200, … ≤ 1600 frames
  threadGain: 0.8,       // speed-up per extra thread assumed until measured (./thread-policy.mjs)
});

/**
 * `params` over DEFAULTS; `pressureCaps` key by key, so that giving one
 * pressure's cap keeps the other's default (a page that set `serious`
 * lost the `critical` cap).
 */
function withDefaults(params) {
  return { ...DEFAULTS, ...params, pressureCaps: { ...DEFAULTS.pressureCaps, ...params?.pressureCaps } };
}

/**
 * Rungs from a model's `configs` (index.mjs): the configurations whose
 * accuracy the search measured, sorted by mean MACs, keeping only those
 * more accurate than every cheaper one; then thinned from the top down so
 * that each rung's mean MACs are at least `minGap` (15 %) above the next
 * cheaper one's, keeping the most accurate of each cluster and always the
 * cheapest. A package without measured configurations gives all of them,
 * by worst-case MACs.
 * → [{config, name, accuracy, macs, maxMacs, saver, saverMacs}]
 */
export function governorTable(configs, params = DEFAULTS) {
  checkConfigs(configs);
  checkParams(params, DEFAULTS);
  const { minGap } = withDefaults(params);
  const measured = configs.filter((c) => c.accuracy !== null && c.meanMacs !== null);
  const pool = measured.length ? measured : configs;
  const macs = (c) => c.meanMacs ?? c.maxMacs;
  const sorted = [...pool].sort((a, b) => macs(a) - macs(b) || (b.accuracy ?? 0) - (a.accuracy ?? 0));
  const pareto = [];
  for (const c of sorted)
    if (!measured.length || !pareto.length || c.accuracy > pareto.at(-1).accuracy) pareto.push(c);
  const kept = [];
  for (let i = pareto.length - 1; i >= 0; i--)
    if (!kept.length || i === 0 || macs(pareto[i]) * (1 + minGap) <= macs(kept.at(-1))) kept.push(pareto[i]);
  // What an input that leaves at a saver costs is at most the mean MACs
  // of the cheapest configuration with that saver.
  const saverMacs = (saver) => (saver ? Math.min(...pool.filter((c) => c.saver === saver).map(macs)) : null);
  return kept.reverse().map((c) => ({
    config: c.index, name: c.name, accuracy: c.accuracy, macs: macs(c), maxMacs: c.maxMacs,
    saver: c.saver ?? null, saverMacs: saverMacs(c.saver),
  }));
}

/** A fresh state: at `start` (a rung; default the most accurate). */
export function initialState(table, start) {
  checkTable(table);
  if (start === undefined) start = table.length - 1;
  else checkStart(start, table);
  return {
    rung: start,
    frame: 0,                      // frames measured so far
    samples: [],                   // frame times at `rung` since it became current
    costs: emptyCosts(table),
    over: 0, calm: 0,              // consecutive frames over budget / within fit × budget
    probe: null,                   // {rung, from, frame} of the last step up, until it holds
    tight: [],                     // {frame, macs, pace} of recent frames over upFit × budget
    blockPace: null,               // the device's pace when the last back-off began
    blockedUntil: table.map(() => 0),
    backoff: table.map(() => 0),
    override: null, paused: false,
    capKind: null,                 // which compute cap holds (see computeCaps), to say when it starts or ends
    threads: null,                 // the thread count chosen (null until signals say how many there are)
    threadHold: emptyThreadHold(),
    reason: 'start: the most accurate configuration',
  };
}

const pct = (x) => `${Math.round(x * 100)} %`;
const fmtMs = (x) => `${x < 0.1 ? x.toPrecision(2) : x < 10 ? x.toFixed(1) : Math.round(x)} ms`;
/** `a` over `b` as "A over the B budget", with a decimal more where rounding would make them equal. */
const overBudget = (a, b) => (fmtMs(a) === fmtMs(b) ? `${a.toFixed(2)} ms over the ${b.toFixed(2)} ms budget` : `${fmtMs(a)} over the ${fmtMs(b)} budget`);

/**
 * Predicted frame time of every rung (ms; nulls before the first frame):
 * the current rung's own measured quantile once it has enough frames,
 * the cost model's prediction for the others.
 */
export function predictedCosts(state, table, params = DEFAULTS) {
  checkTable(table);
  checkState(state, table);
  checkParams(params, DEFAULTS);
  return costsOf(state, table, params);
}

/** predictedCosts() of a state and table already checked. */
function costsOf(state, table, params) {
  const p = withDefaults(params);
  const costs = predict(state.costs, table, p);
  if (state.samples.length >= p.minSamples) costs[state.rung] = quantile(state.samples, p.quantile);
  return costs;
}

/**
 * Every compute cap the signals ask for, [{kind, macs, reason}]. `kind`
 * names a cap without its changing figures (the battery's percentage), so
 * a new cap can be told from the same one restated.
 */
function computeCaps(signals, table, p) {
  const top = table.at(-1).macs, caps = [];
  const b = signals.battery;
  if (b && !b.charging && b.level <= p.criticalBattery)
    caps.push({ kind: 'battery critical', macs: table[0].macs, reason: `battery critical (${pct(b.level)}, discharging): the cheapest configuration` });
  else if (b && !b.charging && b.level <= p.lowBattery)
    caps.push({ kind: 'battery low', share: p.saverCap, reason: `battery low (${pct(b.level)}, discharging): compute capped at ${pct(p.saverCap)} of the MACs` });
  if (signals.saver)
    caps.push({ kind: 'battery saver', share: p.saverCap, reason: `battery saver on: compute capped at ${pct(p.saverCap)} of the MACs` });
  const pressure = p.pressureCaps[signals.pressure];
  if (pressure !== undefined)
    caps.push({ kind: `CPU pressure ${signals.pressure}`, share: pressure, reason: `CPU pressure ${signals.pressure}: compute capped at ${pct(pressure)} of the MACs` });
  return caps.map((c) => ({ kind: c.kind, macs: c.macs ?? c.share * top, reason: c.reason }));
}

/** The strictest of `caps`, or null. */
const strictest = (caps) => (caps.length ? caps.reduce((a, c) => (c.macs < a.macs ? c : a)) : null);

/** The most accurate rung within `cap` (all of them without one). */
function rungUnder(table, cap) {
  let rung = table.length - 1;
  while (cap && rung > 0 && table[rung].macs > cap.macs) rung--;
  return rung;
}

const pp = (x) => `${(x * 100).toFixed(2)} pp`;

/**
 * The accuracy given up for energy at charge `level` while discharging:
 * `p.energy.full` at 100 %, growing linearly to `p.energy.low` at
 * `p.lowBattery` and staying there below it (where the battery-low cap
 * also holds, and the stricter of the two wins).
 */
export function energyTolerance(level, params = DEFAULTS) {
  checkParams(params, DEFAULTS);
  checkLevel(level);
  return tolerance(level, withDefaults(params));
}

/** energyTolerance on a level and merged parameters already checked (every governor step). */
function tolerance(level, p) {
  if (!p.energy) return 0;
  const fallen = Math.min(Math.max((1 - level) / Math.max(1 - p.lowBattery, 1e-9), 0), 1);
  return p.energy.full + (p.energy.low - p.energy.full) * fallen;
}

/**
 * The energy policy as a cap. Plugged in, or with the battery unknown: none
 * (the most accurate rung that fits). Discharging above `lowBattery`: the
 * cheapest rung whose validation accuracy is within energyTolerance() of
 * the most accurate rung the other caps allow (`top`); the frame budget can
 * still move the governor lower. Null when that is `top` itself.
 */
function energyCap(battery, table, top, p) {
  // Below lowBattery too, at its largest tolerance, under the battery-low
  // cap: else that cap (a share of the MACs) let the governor spend more
  // at 20 % than the energy rule did at 21 %.
  if (!p.energy || !battery || battery.charging) return null;
  const best = table[top];
  if (best.accuracy === null) return null;
  const allowed = tolerance(battery.level, p);
  let rung = 0;
  // The accuracies are float32 in the package (0.004 reads back as
  // 0.0040000081): differences under 1e-6 (a hundredth of one image in
  // 10 000) are rounding, not accuracy.
  while (rung < top && !(table[rung].accuracy >= best.accuracy - allowed - 1e-6)) rung++;
  if (rung === top) return null;
  const r = table[rung];
  return {
    kind: 'battery energy', macs: r.macs,
    reason: `on battery (${pct(battery.level)}, discharging): ${r.name}, ${pp(best.accuracy - r.accuracy)} below ${best.name} ` +
      `for ${pct(r.macs / best.macs)} of its MACs (giving up at most ${pp(allowed)} at this charge)`,
  };
}

/**
 * The most accurate rung ≤ `max` whose predicted cost is ≤ limit, else 0.
 * Before any frame nothing is known: `max` (measuring will correct it).
 */
function bestFitting(costs, max, limit) {
  for (let l = max; l > 0; l--) if (costs[l] === null || costs[l] <= limit) return l;
  return 0;
}

function moveTo(s, rung, reason, p) {
  if (rung < s.rung && s.probe?.rung === s.rung) {
    // The last step up did not hold: keep away from that rung for a while.
    // Dearer rungs would cost at least as much: they wait as long.
    s.backoff[s.rung] = Math.min(Math.max(s.backoff[s.rung] * 2, p.backoff[0]), p.backoff[1]);
    for (let l = s.rung; l < s.blockedUntil.length; l++)
      s.blockedUntil[l] = Math.max(s.blockedUntil[l], s.frame + s.backoff[s.rung]);
    s.blockPace = paceOf(s.costs, p);
  }
  s.probe = rung > s.rung ? { rung, from: s.rung, frame: s.frame } : null;
  s.rung = rung;
  s.samples = [];
  s.over = s.calm = 0;
  s.reason = reason;
}

/** Records one frame measured at the current rung. */
function record(s, table, sample, budget, p) {
  s.frame++;
  s.samples.push(sample.ms);
  if (s.samples.length > p.window) s.samples.shift();
  observe(s.costs, table, { rung: s.rung, ms: sample.ms, macs: sample.macs, exhausted: sample.exhausted }, p);
  const over = sample.ms > budget || !!sample.exhausted;
  s.over = over ? s.over + 1 : 0;
  s.calm = sample.ms <= p.fit * budget && !sample.exhausted ? s.calm + 1 : 0;
  // Frames without headroom, remembered until they are old or the device
  // has clearly sped up since (then the back-offs end too).
  const pace = paceOf(s.costs, p);
  const faster = (then) => pace !== null && then !== null && pace * p.fasterBy < then;
  s.tight = s.tight.filter((m) => s.frame - m.frame < p.tightWindow && !faster(m.pace));
  if ((sample.ms > p.upFit * budget || sample.exhausted) && sample.macs > 0) s.tight.push({ frame: s.frame, macs: sample.macs, pace });
  if (faster(s.blockPace)) {
    s.blockedUntil = s.blockedUntil.map(() => 0);
    s.blockPace = null;
  }
  if (s.probe && s.frame - s.probe.frame > p.probeFrames) {
    s.backoff[s.probe.rung] = 0; // the step up held
    s.probe = null;
  }
}

/** Where to go from the current rung, or null to stay: {rung, reason}. */
function decide(s, table, budget, capRung, cap, p) {
  const costs = costsOf(s, table, p);
  const measured = s.samples.length >= p.minSamples;
  if (s.rung > capRung) {
    // Down to the cap, and below it when the cap's rung does not fit the
    // budget either: then the frame time chose the rung, and says so.
    const rung = bestFitting(costs, capRung, p.fit * budget);
    return { rung, reason: rung === capRung ? cap.reason
      : `${cap.reason}; below it, as ${table[capRung].name}'s p${Math.round(p.quantile * 100)} frame time ${fmtMs(costs[capRung])} leaves no headroom in the ${fmtMs(budget)} budget` };
  }
  if (s.probe && s.over > 0) // a step up on probation that misses a frame goes straight back
    return { rung: s.probe.from, reason: `${table[s.rung].name} missed the ${fmtMs(budget)} budget (${fmtMs(s.samples.at(-1))}) ${s.samples.length} frames after stepping up` };
  if (s.rung > 0 && s.over >= p.downAfter)
    return { rung: bestFitting(costs, s.rung - 1, p.fit * budget), reason: `${s.over} frames in a row over the ${fmtMs(budget)} budget` };
  if (s.rung > 0 && measured && costs[s.rung] > budget)
    return {
      rung: bestFitting(costs, s.rung - 1, p.fit * budget),
      reason: `p${Math.round(p.quantile * 100)} frame time ${overBudget(costs[s.rung], budget)}`,
    };
  if (measured && s.calm >= p.upAfter) {
    const slow = predict(s.costs, table, p, slowSpeedOf(s.costs));
    // Measured beats predicted: a frame that spent m MACs lately left no
    // headroom, so a rung whose dear frames spend m or more would not either.
    const tight = Math.min(...s.tight.map((m) => m.macs));
    for (let l = capRung; l > s.rung; l--)
      if (slow[l] <= p.upFit * budget && s.frame >= s.blockedUntil[l] && macsQuantile(s.costs, table, l, p) < tight)
        return { rung: l, reason: `headroom: frames take ${fmtMs(costs[s.rung])} of the ${fmtMs(budget)} budget, ${table[l].name} predicted ${fmtMs(slow[l])}` };
  }
  return null;
}

/**
 * One step of the policy. `signals`: {
 *   budgetMs,                         per-frame inference budget (from the target fps)
 *   sample: {config, ms, macs, exhausted}  the frame just measured (optional)
 *   battery: {level, charging} | null   (null: unknown, never treated as low)
 *   saver: boolean                    the user's battery-saver switch
 *   pressure: 'nominal'|'fair'|'serious'|'critical'|null
 *   hidden: boolean                   page not visible: pause
 *   override: config index | null     the user's manual choice
 *   maxThreads: number                threads the model may use (default 1)
 * } (a sample may say its `threads`: one run on another count is not
 * this choice's) → { configIndex, threads, rung, reason, changed,
 * paused, capMacs, caps, state }; `changed`: the configuration or the
 * thread count changed.
 * `capMacs`: the strictest cap's MACs (null: none); `caps`: every cap in
 * force, [{kind, macs, reason}] (a page shows them: the reason names only
 * the last move, which may be a frame-time one made under a cap).
 * `state` is not modified; the returned one replaces it.
 */
export function govern(signals, state, table, params = DEFAULTS) {
  checkTable(table);
  checkState(state, table);
  checkSignals(signals);
  checkParams(params, DEFAULTS);
  return step(signals, state, table, params);
}

/** govern() on signals and parameters already checked. */
function step(signals, state, table, params) {
  const p = withDefaults(params);
  const s = structuredClone(state);
  const before = s.override ?? table[s.rung].config;
  const budget = signals.budgetMs;
  const caps = computeCaps(signals, table, p);
  const other = strictest(caps);
  // The energy cap sits below every other cap's rung: when it holds, it is the strictest.
  const energy = energyCap(signals.battery, table, rungUnder(table, other), p);
  if (energy) caps.push(energy);
  const cap = energy ?? other;
  const capRung = rungUnder(table, cap);

  const maxThreads = Math.max(1, signals.maxThreads ?? 1);
  const threadsBefore = state.threads ?? maxThreads;
  s.paused = !!signals.hidden;
  // Hidden, nothing changes: not the thread count either (an update
  // without maxThreads would otherwise drop it to one, and back after).
  if (s.threads === null || (!s.paused && s.threads > maxThreads)) s.threads = maxThreads;
  s.override = Number.isInteger(signals.override) ? signals.override : null;
  if (state.override !== null && s.override === null) {
    s.samples = []; // measure afresh
    s.over = s.calm = 0;
    s.probe = null;
    s.reason = `manual override off: automatic from ${table[s.rung].name}`;
  }
  const sample = signals.sample;
  // A frame of another configuration (e.g. in flight during a switch) is not this rung's.
  if (sample && !s.paused && s.override === null && table[s.rung].config === sample.config && Number.isFinite(sample.ms) &&
      (sample.threads ?? s.threads) === s.threads)
    record(s, table, sample, budget, p);

  if (s.override === null && !s.paused) {
    // Threads first: more of them before any accuracy is given up, fewer
    // where the budget allows; frames on the new count are measured afresh.
    // A cap is obeyed at once all the same: a rung above it moves down in
    // the same step (with the battery critical, not a frame later).
    const threads = chooseThreads(s, signals, maxThreads, budget, p);
    const move = threads && s.rung <= capRung ? null : decide(s, table, budget, capRung, cap, p);
    // A cap that starts or ends without a move still changes why the
    // rung is what it is: say so (the saver switched on at a rung
    // already under its cap, or switched off, must not look ignored).
    const capNews = (cap?.kind ?? null) === s.capKind ? null
      : cap ? `${cap.reason}; ${table[s.rung].name} is within it` : `${s.capKind} ended: automatic from ${table[s.rung].name}`;
    if (threads) {
      s.threads = threads.threads;
      s.samples = [];
      s.over = s.calm = 0;
      s.reason = capNews ? `${capNews}; ${threads.reason}` : threads.reason;
    }
    // Both in one step: the thread change is said first, as it was decided first.
    if (move && move.rung !== s.rung) moveTo(s, move.rung, threads ? `${threads.reason}; ${move.reason}` : move.reason, p);
    else if (capNews && !threads) s.reason = capNews;
    s.capKind = cap?.kind ?? null;
  }
  const configIndex = s.override ?? table[s.rung].config;
  return {
    configIndex, threads: s.threads, rung: s.override === null ? s.rung : null,
    reason: s.paused ? 'paused: the page is hidden' : s.override !== null ? 'manual override' : s.reason,
    changed: configIndex !== before || s.threads !== threadsBefore, paused: s.paused, capMacs: cap ? cap.macs : null, caps, state: s,
  };
}

/**
 * The governor with its state: `update(signals)` runs one step and fires
 * a "change" event (detail: {from, to, name, threads, reason}) whenever
 * the configuration or the thread count changes. `configs` is a model's
 * `configs`, or some of them (e.g. without the unmeasured "backbone");
 * `configIndex`, `to` and `override` are model indices either way.
 */
export class Governor extends EventTarget {
  constructor(configs, params = {}) {
    super();
    checkParams(params, DEFAULTS);
    this.configs = configs;
    this.params = withDefaults(params);
    this.table = governorTable(configs, this.params);
    this.indices = new Set(configs.map((c) => c.index));
    this.state = initialState(this.table);
    this.last = null;
  }

  get configIndex() {
    return this.last?.configIndex ?? this.table[this.state.rung].config;
  }

  update(signals) {
    checkSignals(signals, this.indices);
    const from = this.configIndex;
    const out = step(signals, this.state, this.table, this.params);
    this.state = out.state;
    this.last = out;
    if (out.changed)
      this.dispatchEvent(new CustomEvent('change', {
        detail: { from, to: out.configIndex, name: this.configs.find((c) => c.index === out.configIndex).name, threads: out.threads, reason: out.reason },
      }));
    return out;
  }

  /** Predicted frame time per rung (ms), for display. */
  predictedCosts() {
    return costsOf(this.state, this.table, this.params);
  }
}
