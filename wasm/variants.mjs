// The builds of the browser module and how to pick one:
//   relaxed     dist/dyce-relaxed.wasm     relaxed SIMD (FMA); a WASI
//                                          reactor built by clang-19
//   simd        dist/dyce.wasm             WebAssembly SIMD128 (Emscripten)
//   nosimd      dist/dyce-nosimd.wasm      no SIMD, for old browsers
//   relaxed-mt  dist/dyce-relaxed-mt.wasm  the first two with threads
//   simd-mt     dist/dyce-mt.wasm          (shared memory; threads.mjs)
// The SIMD level is picked by feature detection, threads where the host
// allows them (Node, cross-origin-isolated pages) and more than one is
// wanted. Every build exports the same C API; loadVariant returns an object shaped
// like an Emscripten module (_fn exports, HEAP views, UTF8ToString) so the
// Engine class does not care which one it got.
//
// Bundlers: each .wasm is named by a literal `new URL('./dist/….wasm',
// import.meta.url)`, which Vite, webpack and Rollup plugins follow and
// emit; the Emscripten glue is imported statically (a Worker bundle in
// Vite's default iife format cannot split code). The two Emscripten
// builds' glues differ only in the default file name, which is never used
// here (the module is compiled by io.mjs and handed over through
// instantiateWasm), so one glue serves both.
import createEmscriptenModule from './dist/dyce.mjs';
import { DyceError, ownFile } from './errors.mjs';
import { didYouMean } from './options.mjs';
import { absoluteUrl, compileWasm, isLocal } from './io.mjs';
import { ownFileUnderNode } from './own-files.mjs';
import { wasiImports } from './wasi-host.mjs';
import { autoThreadsReason, instantiateThreaded, isThreaded, lazyWorkers, threadsUnavailable, threadsWanted } from './threads.mjs';

// Smallest modules using one instruction of each feature:
// (func (result v128) v128.const 0 [v128.const 0 v128.const 0 f32x4.relaxed_madd])
const header = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0];
const v128Const = [0xfd, 0x0c, ...new Array(16).fill(0)];
const SIMD_PROBE = new Uint8Array([...header, 10, 22, 1, 20, 0, ...v128Const, 11]);
const RELAXED_PROBE = new Uint8Array([...header, 10, 61, 1, 59, 0,
  ...v128Const, ...v128Const, ...v128Const, 0xfd, 0x85, 0x02, 11]);

/** The best build this host can run: "relaxed", "simd" or "nosimd". */
export function detectVariant() {
  if (WebAssembly.validate(RELAXED_PROBE)) return 'relaxed';
  if (WebAssembly.validate(SIMD_PROBE)) return 'simd';
  return 'nosimd';
}

/** The .wasm file name of each build (the keys of a `wasmPaths` table). */
export const WASM_FILES = Object.freeze({ relaxed: 'dyce-relaxed.wasm', simd: 'dyce.wasm', nosimd: 'dyce-nosimd.wasm',
  'relaxed-mt': 'dyce-relaxed-mt.wasm', 'simd-mt': 'dyce-mt.wasm' });
/** The SIMD levels a caller may ask for (`variant`). */
const LEVELS = ['relaxed', 'simd', 'nosimd'];

/**
 * Where build `variant` is when nothing says otherwise: next to this
 * module, as bundlers see it (under Node, checked to be there, else the
 * installed package's: own-files.mjs).
 */
function defaultUrl(variant) {
  const url = bundledUrl(variant);
  return ownFileUnderNode(url, `wasm/dist/${WASM_FILES[variant]}`);
}

function bundledUrl(variant) {
  return ownFile(() => {
    switch (variant) {
      case 'relaxed': return new URL('./dist/dyce-relaxed.wasm', import.meta.url);
      case 'simd': return new URL('./dist/dyce.wasm', import.meta.url);
      case 'relaxed-mt': return new URL('./dist/dyce-relaxed-mt.wasm', import.meta.url);
      case 'simd-mt': return new URL('./dist/dyce-mt.wasm', import.meta.url);
      default: return new URL('./dist/dyce-nosimd.wasm', import.meta.url);
    }
  }, `wasm file ${WASM_FILES[variant]}`, 'wasmPaths');
}

/** A `wasmPaths` table ({ 'dyce.wasm': url, … }), not a folder (a string or URL). */
const isTable = (wasmPaths) => !!wasmPaths && typeof wasmPaths === 'object' && !(wasmPaths instanceof URL);

/**
 * Where build `variant` is under `wasmPaths`: a folder (string or URL;
 * relative to the page in a browser) holding the three .wasm files, or a
 * table { 'dyce.wasm': url, … } naming each file.
 */
export function wasmLocation(variant, wasmPaths) {
  const file = WASM_FILES[variant];
  if (wasmPaths === undefined || wasmPaths === null) return defaultUrl(variant);
  if (isTable(wasmPaths)) {
    const url = wasmPaths[file];
    if (url === undefined)
      throw new DyceError('DYCE_INVALID_ARGUMENT', `wasmPaths has no entry for '${file}', the build this host runs (${variant}); give a folder, or every file: ${Object.values(WASM_FILES).join(', ')}`, { field: `wasmPaths['${file}']` });
    return url;
  }
  const folder = String(wasmPaths).replace(/\/?$/, '/');
  if (isLocal(folder) && !/^file:/i.test(folder)) return folder + file; // a folder path under Node
  return new URL(file, new URL(folder, globalThis.location?.href));
}

const HEAP_TYPES = { HEAP8: Int8Array, HEAPU8: Uint8Array, HEAP16: Int16Array,
  HEAPU16: Uint16Array, HEAP32: Int32Array, HEAPU32: Uint32Array,
  HEAPF32: Float32Array, HEAPF64: Float64Array };

/** A WASI reactor's exports dressed as an Emscripten module (`memory`: the threaded builds import theirs). */
function reactorModule(exports, memory = exports.memory) {
  const m = {};
  for (const [name, value] of Object.entries(exports))
    if (typeof value === 'function') m[`_${name}`] = value;
  let buffer = null, views = null;
  const view = () => {
    if (buffer !== memory.buffer) { // memory grew: new views
      buffer = memory.buffer;
      views = Object.fromEntries(Object.entries(HEAP_TYPES)
        .map(([name, Type]) => [name, new Type(buffer)]));
    }
    return views;
  };
  for (const name of Object.keys(HEAP_TYPES))
    Object.defineProperty(m, name, { get: () => view()[name] });
  const decoder = new TextDecoder();
  m.UTF8ToString = (ptr) => {
    if (!ptr) return '';
    const heap = view().HEAPU8;
    let end = ptr;
    while (heap[end]) end++;
    // A copy: TextDecoder refuses views of shared memory.
    return decoder.decode(heap.slice(ptr, end));
  };
  return m;
}

/** A WASI command (dyce-wasi.wasm: `_start`, no `_initialize`), not the reactor. */
const isCommandLine = (module) => {
  const names = WebAssembly.Module.exports(module).map((e) => e.name);
  return !names.includes('_initialize') && names.includes('_start');
};

/** The relaxed build is the WASI reactor; the other two are Emscripten modules. */
const isReactor = (module) => WebAssembly.Module.imports(module).some((i) => i.module === 'wasi_snapshot_preview1');

async function instantiate(compiled, url, threads) {
  const failed = (e) => new DyceError('DYCE_WASM_COMPILE', `cannot instantiate the wasm module ${url}: ${e.message ?? e}`, { url, cause: e });
  if (isThreaded(compiled)) {
    let module;
    try {
      const { exports, memory } = await instantiateThreaded(compiled);
      module = reactorModule(exports, memory);
      module.threads = lazyWorkers(compiled, exports, memory, threads - 1);
    } catch (e) {
      throw failed(e);
    }
    return module;
  }
  if (isReactor(compiled)) {
    try {
      let instance = null; // its memory is an export: there once instantiated
      instance = await WebAssembly.instantiate(compiled, { wasi_snapshot_preview1: wasiImports(() => instance.exports.memory) });
      instance.exports._initialize();
      return reactorModule(instance.exports);
    } catch (e) {
      throw isCommandLine(compiled) ? new DyceError('DYCE_WASM_COMPILE', `${url} is dyce's command-line program (dyce-wasi.wasm, run by node:wasi or wasmtime), not a browser module: give one of wasm/dist's dyce.wasm, dyce-relaxed.wasm, dyce-nosimd.wasm (or leave wasmUrl out: the build is then chosen for the host)`, { url, cause: e }) : failed(e);
    }
  }
  // The glue instantiates through our hook; a failure there rejects `failure`
  // (the glue itself would only print it).
  let reject;
  const failure = new Promise((_, r) => { reject = r; });
  const ready = createEmscriptenModule({
    print() {}, printErr() {},
    instantiateWasm(imports, receive) {
      WebAssembly.instantiate(compiled, imports).then((instance) => receive(instance, compiled), (e) => reject(failed(e)));
      return {};
    },
  });
  return Promise.race([ready, failure]);
}

const asBytes = (b) => (b instanceof Uint8Array ? b : ArrayBuffer.isView(b) ? new Uint8Array(b.buffer, b.byteOffset, b.byteLength) : new Uint8Array(b));

/** The SIMD level of an instantiated build (dyce_wasm_build_features). */
const levelOf = (module) => LEVELS[2 - (module._dyce_wasm_build_features() & 3)];

/**
 * A `wasmPaths` table's keys must be build file names and its values
 * URLs or paths: a misspelt entry would otherwise surface only on a host
 * that needs that build.
 */
function checkWasmTable(wasmPaths) {
  if (!isTable(wasmPaths)) return;
  const files = Object.values(WASM_FILES);
  for (const [file, url] of Object.entries(wasmPaths)) {
    if (!files.includes(file))
      throw new DyceError('DYCE_INVALID_ARGUMENT', `wasmPaths has no file '${file}'${didYouMean(file, files)}; its keys are the builds' file names: ${files.join(', ')}`, { field: `wasmPaths['${file}']` });
    if (typeof url !== 'string' && !(url instanceof URL))
      throw new DyceError('DYCE_INVALID_ARGUMENT', `wasmPaths['${file}'] must be a URL or a path (a string or URL), not ${url === null ? 'null' : typeof url}`, { field: `wasmPaths['${file}']` });
  }
}

/**
 * Compiles and instantiates a build → { module, variant, threads,
 * threadsReason }. Options: `variant` (the SIMD level; default: the best
 * this host validates), `threads` ('auto': up to 4, one per core; or a
 * number; the threaded build is used where the host allows it and more
 * than one is wanted, else `threadsReason` says why not), `wasmPaths`
 * (where the .wasm files are; detection still picks one), or one file —
 * `wasmUrl` or `wasmBinary` (bytes) — whose build is recognised from the
 * module itself; a `variant` that contradicts it, or a file this host
 * cannot compile, is refused with DYCE_WASM_MISMATCH / DYCE_WASM_COMPILE
 * naming the URL.
 */
export async function loadVariant(options = {}) {
  const { variant: asked, wasmBinary, wasmUrl, wasmPaths } = options;
  checkWasmTable(wasmPaths);
  if (asked !== undefined && !LEVELS.includes(asked))
    throw new DyceError('DYCE_INVALID_ARGUMENT', `unknown variant '${asked}'; the builds are ${LEVELS.join(', ')}`, { field: 'variant' });
  const wanted = threadsWanted(options.threads);
  const given = [wasmBinary && 'wasmBinary', wasmUrl && 'wasmUrl', wasmPaths && 'wasmPaths'].filter(Boolean);
  if (given.length > 1)
    throw new DyceError('DYCE_INVALID_ARGUMENT', `give one of wasmBinary, wasmUrl and wasmPaths, not ${given.join(' and ')}`, { field: given[1] });
  const result = (variant, module, reason) => {
    const t = module.threads;
    return { variant, module, threads: 1 + (t?.workers ?? 0), threadsReason: reason ?? t?.error ?? autoThreadsReason(options.threads) };
  };
  if (wasmBinary || wasmUrl) {
    // Resolved against the page first, so that every error names the URL
    // fetched, as the Worker's (resolved before posting) does.
    const url = wasmBinary ? '(wasmBinary)' : absoluteUrl(wasmUrl);
    const compiled = await compileWasm(wasmBinary ? { bytes: asBytes(wasmBinary) } : { source: url });
    const threaded = isThreaded(compiled);
    if (threaded && threadsUnavailable())
      throw new DyceError('DYCE_WASM_MISMATCH', `${url} is a threaded build, which this host cannot run: ${threadsUnavailable()}; give the single-threaded build, or wasmPaths`, { url, field: 'wasmUrl' });
    const module = await instantiate(compiled, url, threaded ? wanted : 1);
    const kind = levelOf(module);
    if (asked !== undefined && asked !== kind) {
      module.threads?.terminate();
      throw new DyceError('DYCE_WASM_MISMATCH', `${url} is ${kind === 'relaxed' ? 'a relaxed-SIMD build (dyce-relaxed.wasm)' : `a ${kind} build`}, not the ${asked} build asked for; to keep the choice of build automatic, give wasmPaths (the folder of the builds) instead`, { url, field: 'variant' });
    }
    return result(kind, module, threaded ? null : wanted > 1 ? `${url} is a single-threaded build` : null);
  }
  const variant = asked ?? detectVariant();
  const table = isTable(wasmPaths);
  const blocker = wanted < 2 ? null : variant === 'nosimd' ? 'the no-SIMD build has no threads'
    : threadsUnavailable() ?? (table && wasmPaths[WASM_FILES[`${variant}-mt`]] === undefined ? `wasmPaths has no entry for '${WASM_FILES[`${variant}-mt`]}', the threaded build` : null);
  const file = wanted > 1 && !blocker ? `${variant}-mt` : variant;
  if (file !== variant) {
    // A folder or server without the threaded files still gets an engine.
    const source = wasmLocation(file, wasmPaths);
    try {
      const compiled = await compileWasm({ source });
      return result(variant, await instantiate(compiled, String(source), wanted), null);
    } catch (e) {
      if (!(e instanceof DyceError) || !['DYCE_FETCH_FAILED', 'DYCE_NOT_FOUND'].includes(e.code)) throw e;
      const source1 = wasmLocation(variant, wasmPaths);
      return result(variant, await instantiate(await compileWasm({ source: source1 }), String(source1), 1), e.message);
    }
  }
  const source = wasmLocation(variant, wasmPaths);
  const compiled = await compileWasm({ source });
  return result(variant, await instantiate(compiled, String(source), 1), blocker);
}
