// The options objects of dyce's calls are checked, not skimmed: a key the
// call does not know (a typo such as `thread: 2` or `deadline: 5`) would
// otherwise be ignored in silence and the call would run with the
// defaults. It is refused with DYCE_INVALID_ARGUMENT naming the key (as
// `field`) and the nearest known one.
import { DyceError, shown } from './errors.mjs';

/** Levenshtein distance of two short strings, case-insensitive. */
export function distance(a, b) {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++)
      next.push(Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    row = next;
  }
  return row[b.length];
}

/**
 * `options` of call `call` ("load()"), or {} for undefined / null; a
 * non-object, or an own key not in `known`, is a DyceError.
 */
export function checkOptions(options, known, call) {
  if (options === undefined || options === null) return {};
  if (typeof options !== 'object' || Array.isArray(options))
    throw new DyceError('DYCE_INVALID_ARGUMENT', `the options of ${call} must be an object, not ${Array.isArray(options) ? 'an array' : typeof options}`, { field: 'options' });
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    throw new DyceError('DYCE_INVALID_ARGUMENT', `${call} has no option '${key}'${didYouMean(key, known)}; its options are ${known.join(', ')}`, { field: key });
  }
  return options;
}

/** " (did you mean 'x'?)" for the entry of `known` nearest to a misspelt `key`, or ''. */
export function didYouMean(key, known) {
  const near = known.map((k) => [distance(key, k), k]).sort((a, b) => a[0] - b[0])[0];
  return near && near[0] <= Math.max(2, key.length / 3) ? ` (did you mean '${near[1]}'?)` : '';
}

/** The options load() takes (loadInWorker adds workerUrl). */
export const LOAD_OPTIONS = Object.freeze(['config', 'threads', 'splitMinMacs', 'variant', 'wasmPaths', 'wasmUrl', 'wasmBinary']);

/** The options classify() takes. */
export const CLASSIFY_OPTIONS = Object.freeze(['config', 'deadlineMs', 'macBudget', 'topK', 'invert']);

const bad = (field, what, v) => new DyceError('DYCE_INVALID_ARGUMENT', `${field} must be ${what}, not ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`, { field });

/** A budget (deadlineMs, macBudget): a finite number >= 0, 0 for none. */
export function checkBudget(field, v) {
  if (typeof v !== 'number' || !(v >= 0) || v === Infinity) throw bad(field, 'a finite number >= 0 (0: no limit)', v);
  return v;
}

/**
 * classify()'s options with their defaults, checked: budgets are finite
 * numbers >= 0 (0: none), topK a whole number >= 0, invert a boolean
 * (the string 'false' is truthy and would invert).
 */
export function classifyOptions(options) {
  const { config, deadlineMs = 0, macBudget = 0, topK = 3, invert = false } = checkOptions(options, CLASSIFY_OPTIONS, 'classify()');
  checkBudget('deadlineMs', deadlineMs);
  checkBudget('macBudget', macBudget);
  if (!Number.isInteger(topK) || topK < 0) throw bad('topK', 'a whole number >= 0', topK);
  if (typeof invert !== 'boolean') throw bad('invert', 'true or false', invert);
  return { config, deadlineMs, macBudget, topK, invert };
}

/** splitMinMacs as load() and setSplitMinMacs take it: a finite number of MACs >= 0 (checked before any work). */
export function checkSplitMinMacs(macs) {
  if (typeof macs !== 'number' || !(macs >= 0) || macs === Infinity)
    throw new DyceError('DYCE_INVALID_ARGUMENT', `splitMinMacs must be a finite number of MACs >= 0, not ${shown(macs)}`, { field: 'splitMinMacs' });
  return macs;
}

/**
 * `x` with every object and array in it frozen: what a model describes
 * itself with (configs, labels, input spec), which classify itself reads —
 * a page that sorted `model.labels` for a menu relabelled every answer.
 */
export function deepFreeze(x) {
  if (x && typeof x === 'object' && !Object.isFrozen(x)) {
    for (const v of Object.values(x)) deepFreeze(v);
    Object.freeze(x);
  }
  return x;
}
