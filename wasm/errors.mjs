// dyce's one error type. Every failure the library reports — a fetch, a
// wasm compile, a bad package, a bad input — is a DyceError whose `code`
// says what kind it was (the C engine's status names, e.g.
// "DYCE_BAD_FORMAT", plus the JS-side "DYCE_FETCH_FAILED",
// "DYCE_WASM_COMPILE", "DYCE_WASM_MISMATCH", "DYCE_CROSS_ORIGIN",
// "DYCE_WORKER_ERROR") and, where one is involved,
// `url` (the resource) or `field` (the argument, e.g. "input.channels").

// Marks every DyceError, whichever copy of this module made it: an app
// may hold two (the one-file entries `dyce` under Node and `dyce/browser`
// inline this module; `dyce/engine` and `dyce/worker` import it), and
// `e instanceof DyceError` must hold across them.
const BRAND = Symbol.for('dyce.DyceError');

export class DyceError extends Error {
  /** True for a DyceError from any copy of dyce; a subclass checks as usual. */
  static [Symbol.hasInstance](value) {
    if (this !== DyceError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === 'object' && value !== null && value[BRAND] === true;
  }

  /**
   * `details`: { url, field, status, cause } — what the error is about
   * (each optional; set as properties of the error when given).
   */
  constructor(code, message, details = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'DyceError';
    this.code = code;
    if (details.url !== undefined) this.url = String(details.url);
    if (details.field !== undefined) this.field = details.field;
    if (details.status !== undefined) this.status = details.status;
  }
}

// Bundlers rename the class (esbuild: `_DyceError`); users and Node's
// printout of an uncaught error read these names.
Object.defineProperty(DyceError, 'name', { value: 'DyceError' });
Object.defineProperty(DyceError.prototype, 'name', { value: 'DyceError', writable: true, configurable: true });

/** The plain-data form of an error, for postMessage (a Worker's reply). */
export function errorToData(e) {
  const data = { code: e?.code ?? 'DYCE_INTERNAL', message: e?.message ?? String(e) };
  for (const key of ['url', 'field', 'status']) if (e?.[key] !== undefined) data[key] = e[key];
  return data;
}

/** The DyceError `errorToData` described. */
export function errorFromData({ code, message, ...details }) {
  return new DyceError(code, message, details);
}

Object.defineProperty(DyceError.prototype, BRAND, { value: true });

/** A value as an error message shows it: strings quoted ("2", not 2). */
export const shown = (x) => (typeof x === 'string' ? JSON.stringify(x) : typeof x === 'bigint' ? `${x}n` : String(x));

/**
 * `make()`, a literal `new URL('./…', import.meta.url)` (the form bundlers
 * follow and emit the file for), or a DyceError where this copy of dyce has
 * no import.meta.url: bundled as a classic script (esbuild's default
 * format, iife), it would otherwise fail with "Invalid URL". `what` names
 * the file, `instead` what to give instead (`field`: its option).
 */
export function ownFile(make, what, instead, field = instead) {
  try {
    return make();
  } catch (e) {
    // Bundled together, every module of dyce has import.meta or none has.
    if (import.meta.url) throw e;
    throw new DyceError('DYCE_UNSUPPORTED', `cannot locate dyce's ${what}: this copy of dyce has no import.meta.url, so it was bundled as a classic script (esbuild's default format is iife); bundle it as an ES module (esbuild --format=esm), or give ${instead}`, { field, cause: e });
  }
}
