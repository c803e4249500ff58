// What the governor is given, checked before it is used: a page that
// passes a frame time as a string, a battery level in percent or a budget
// of 0 gets a DyceError that says which field and why, not a governor that
// quietly ignores the signal or steers by a negative cost.
import { DyceError, shown } from './errors.mjs';

const SIGNALS = ['budgetMs', 'sample', 'battery', 'saver', 'pressure', 'hidden', 'override', 'maxThreads'];
const SAMPLE = ['config', 'ms', 'macs', 'exhausted', 'threads'];
const PRESSURES = ['nominal', 'fair', 'serious', 'critical'];

const refuse = (field, message) => {
  throw new DyceError('DYCE_INVALID_ARGUMENT', `governor: ${field} ${message}`, { field });
};
const isObject = (x) => typeof x === 'object' && x !== null && !Array.isArray(x);
const finite = (field, x, { min = -Infinity, max = Infinity, above = false } = {}) => {
  if (typeof x === 'number' && Number.isFinite(x) && (above ? x > min : x >= min) && x <= max) return;
  const range = above ? ` above ${min}${max < Infinity ? ` and at most ${max}` : ''}` : max < Infinity ? ` from ${min} to ${max}` : min > -Infinity ? ` of at least ${min}` : '';
  refuse(field, `must be a finite number${range}, not ${shown(x)}`);
};
const whole = (field, x, min, max = Infinity) => {
  if (!Number.isInteger(x) || x < min || x > max)
    refuse(field, `must be a whole number from ${min}${max < Infinity ? ` to ${max}` : ''}, not ${shown(x)}`);
};
const flag = (field, x) => {
  if (x !== undefined && typeof x !== 'boolean') refuse(field, `must be true or false, not ${shown(x)}`);
};
const onlyKeys = (field, object, known) => {
  const unknown = Object.keys(object).filter((k) => !known.includes(k));
  if (unknown.length) refuse(field, `has no option ${shown(unknown[0])} (it takes ${known.join(', ')})`);
};

/**
 * The signals of one step (govern(), Governor.update); `indices`, when
 * known (a Governor's), are the `index` of each configuration it was
 * given, which `override` and `sample.config` must be one of (any of them,
 * not only the governor's rungs).
 */
export function checkSignals(signals, indices = null) {
  if (!isObject(signals)) refuse('signals', `must be an object ({ budgetMs, sample, battery, … }), not ${shown(signals)}`);
  onlyKeys('signals', signals, SIGNALS);
  finite('budgetMs', signals.budgetMs, { min: 0, above: true });
  const { sample, battery, override } = signals;
  if (sample !== undefined && sample !== null) {
    if (!isObject(sample)) refuse('sample', `must be an object ({ config, ms, macs, exhausted, threads }) or null, not ${shown(sample)}`);
    onlyKeys('sample', sample, SAMPLE);
    whole('sample.config', sample.config, 0, Infinity);
    oneOf('sample.config', sample.config, indices);
    finite('sample.ms', sample.ms, { min: 0 });
    if (sample.macs !== undefined) finite('sample.macs', sample.macs, { min: 0 });
    flag('sample.exhausted', sample.exhausted);
    if (sample.threads !== undefined) whole('sample.threads', sample.threads, 1, 64);
  }
  if (battery !== undefined && battery !== null) {
    if (typeof battery !== 'object') refuse('battery', `must be { level, charging } or null (unknown), not ${shown(battery)}`);
    finite('battery.level', battery.level, { min: 0, max: 1 });
    if (typeof battery.charging !== 'boolean') refuse('battery.charging', `must be true or false, not ${shown(battery.charging)}`);
  }
  flag('saver', signals.saver);
  flag('hidden', signals.hidden);
  if (signals.pressure !== undefined && signals.pressure !== null && !PRESSURES.includes(signals.pressure))
    refuse('pressure', `must be one of ${PRESSURES.join(', ')} or null, not ${shown(signals.pressure)}`);
  if (override !== undefined && override !== null) {
    if (!Number.isInteger(override) || override < 0)
      refuse('override', `must be a configuration index or null (automatic), not ${shown(override)}`);
    oneOf('override', override, indices);
  }
  if (signals.maxThreads !== undefined) whole('maxThreads', signals.maxThreads, 1, 64);
}

/** `index`, a configuration's index, must be among `indices` (when known): said as a range where they are one. */
function oneOf(field, index, indices) {
  if (!indices || indices.has(index)) return;
  const sorted = [...indices].sort((a, b) => a - b);
  const range = sorted.at(-1) - sorted[0] === sorted.length - 1;
  refuse(field, `must be the index of a configuration the governor was given: ${range ? `from ${sorted[0]} to ${sorted.at(-1)}` : `one of ${sorted.join(', ')}`}, not ${shown(index)}`);
}

/** Parameters given to governorTable / govern / Governor, against DEFAULTS. */
// Each number's range: a share (0–1), a count of frames (whole, ≥ 1), …
// Out of range, a parameter makes no governor (slowWindow 0 crashed on the
// first step up; downAfter 0 stepped down on every frame).
const SHARE = { min: 0, max: 1 }, POSITIVE_SHARE = { min: 0, max: 1, above: true };
const FRAMES = 'frames';
const RANGES = {
  quantile: POSITIVE_SHARE, tailQuantile: POSITIVE_SHARE, fit: POSITIVE_SHARE, upFit: POSITIVE_SHARE,
  overheadShare: SHARE, lowBattery: SHARE, criticalBattery: SHARE, saverCap: SHARE, threadGain: SHARE,
  minGap: { min: 0 }, fasterBy: { min: 1 },
  tightWindow: { min: 0 }, // 0: no memory of frames without headroom
  window: FRAMES, minSamples: FRAMES, speedWindow: FRAMES, slowWindow: FRAMES,
  overheadWindow: FRAMES, macsWindow: FRAMES, trustSamples: FRAMES, downAfter: FRAMES, upAfter: FRAMES,
  probeFrames: FRAMES,
};

export function checkParams(params, defaults) {
  if (params === undefined || params === defaults) return;
  if (!isObject(params)) refuse('params', `must be an object of parameters, not ${Array.isArray(params) ? 'an array' : shown(params)}`);
  onlyKeys('params', params, Object.keys(defaults));
  for (const [key, value] of Object.entries(params)) {
    if (key === 'energy') {
      if (value === null) continue;
      if (!isObject(value)) refuse('energy', `must be { full, low } or null (no energy policy), not ${shown(value)}`);
      onlyKeys('energy', value, ['full', 'low']);
      finite('energy.full', value.full, { min: 0, max: 1 });
      finite('energy.low', value.low, { min: 0, max: 1 });
    } else if (key === 'pressureCaps') {
      if (!isObject(value)) refuse('pressureCaps', `must be an object such as { serious: 0.5, critical: 0.25 }, not ${shown(value)}`);
      onlyKeys('pressureCaps', value, PRESSURES);
      for (const [state, share] of Object.entries(value)) finite(`pressureCaps.${state}`, share, { min: 0, max: 1 });
    } else if (key === 'backoff') {
      if (!Array.isArray(value) || value.length !== 2) refuse('backoff', `must be [first, longest] frames, not ${shown(value)}`);
      value.forEach((frames, i) => finite(`backoff[${i}]`, frames, { min: 0 }));
      if (value[0] > value[1]) refuse('backoff', `must be [first, longest] with first ≤ longest, not ${shown(value)}`);
    } else if (RANGES[key] === FRAMES) {
      whole(key, value, 1);
    } else {
      finite(key, value, RANGES[key] ?? { min: 0 });
    }
  }
  // Pairs that only mean something one way round, as they take effect.
  const p = { ...defaults, ...params };
  if (p.upFit > p.fit) refuse('upFit', `must not exceed fit (${p.fit}): a step up must leave more room than a step down needs, not ${shown(p.upFit)}`);
  if (p.criticalBattery > p.lowBattery) refuse('criticalBattery', `must not exceed lowBattery (${p.lowBattery}), not ${shown(p.criticalBattery)}`);
}

/** A battery level for energyTolerance: a share from 0 to 1. */
export function checkLevel(level) {
  finite('level', level, SHARE);
}

/** The configurations a Governor switches between: a model's `configs`, at least one. */
export function checkConfigs(configs) {
  if (!Array.isArray(configs))
    refuse('configs', `must be a model's configurations (model.configs), not ${shown(configs)}`);
  if (!configs.length)
    refuse('configs', 'is empty: this model has no configurations to switch between (a package without a cascade, such as one converted graph, runs as it is; one with width levels but no searched configurations switches them with setConfig({ level }), or gets configurations from dyce search)');
  // The governor answers with each configuration's model index (what
  // setConfig and classify take), so a page may give a subset of them.
  const seen = new Set();
  for (const [i, c] of configs.entries()) {
    if (!isObject(c) || !Number.isInteger(c.index) || c.index < 0 || seen.has(c.index))
      refuse(`configs[${i}]`, `must be one of model.configs (an object with its own whole-number index), not ${isObject(c) ? `one with index ${shown(c.index)}${seen.has(c.index) ? ', given twice' : ''}` : shown(c)}`);
    seen.add(c.index);
  }
}

/** A table from governorTable: rungs, each naming its configuration. */
export function checkTable(table) {
  if (!Array.isArray(table) || !table.length || !table.every((r) => isObject(r) && Number.isInteger(r.config) && r.config >= 0))
    refuse('table', `must be the rungs governorTable(model.configs) made, not ${shown(Array.isArray(table) ? `an array of ${table.length}` : table)}`);
}

/** A rung of `table` to start from (initialState). */
export function checkStart(start, table) {
  whole('start', start, 0, table.length - 1);
}

/** A state that initialState(table) or govern() on this table made. */
export function checkState(state, table) {
  const ok = isObject(state) && Number.isInteger(state.rung) && state.rung >= 0 && state.rung < table.length &&
    Array.isArray(state.samples) && Array.isArray(state.blockedUntil) && state.blockedUntil.length === table.length;
  if (!ok) refuse('state', 'must be what initialState(table) or the last govern() on the same table returned (its `state`)');
}
