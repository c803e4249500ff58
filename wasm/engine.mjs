// Low-level binding of the browser module (wasm/dist/dyce.mjs): loads the
// Emscripten module and wraps the C API in a small class. Works in Node,
// browsers and workers. The user-facing API (preprocessing, cascade,
// governor) builds on this.
import createDyceModule from './dist/dyce.mjs';

/** An engine error: `code` is the C status name, e.g. "DYCE_BAD_FORMAT". */
export class DyceError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'DyceError';
    this.code = code;
  }
}

const isNode = typeof process === 'object' && !!process.versions?.node;

/**
 * Instantiates the wasm module. Options: `wasmBinary` (bytes), or
 * `wasmUrl` (where to fetch dyce.wasm; defaults to next to this file).
 */
export async function createEngine(options = {}) {
  const wasmUrl = options.wasmUrl ?? new URL('./dist/dyce.wasm', import.meta.url);
  let wasmBinary = options.wasmBinary;
  if (!wasmBinary && isNode) {
    // Emscripten 3.1.6's glue cannot load files in an ES module under Node.
    const fs = await import('node:fs');
    wasmBinary = fs.readFileSync(wasmUrl);
  }
  const module = await createDyceModule({
    wasmBinary,
    locateFile: () => String(wasmUrl),
  });
  return new Engine(module);
}

export class Engine {
  constructor(module) {
    this.m = module;
    this.errorBytes = module._dyce_wasm_error_bytes();
  }

  /** Allocates `bytes` in wasm memory, runs fn(ptr), always frees. */
  withAlloc(bytes, fn) {
    const ptr = this.m._malloc(bytes);
    if (!ptr) throw new DyceError('DYCE_OUT_OF_MEMORY', `cannot allocate ${bytes} bytes`);
    try {
      return fn(ptr);
    } finally {
      this.m._free(ptr);
    }
  }

  /** Calls a C function whose last argument is a dyce_error*; throws on failure. */
  call(fn, ...args) {
    return this.withAlloc(this.errorBytes, (err) => {
      const status = fn(...args, err);
      if (status !== 0) {
        const code = this.m.UTF8ToString(this.m._dyce_status_name(status));
        throw new DyceError(code, this.m.UTF8ToString(err + 4));
      }
    });
  }

  /** Loads a .dyce package from bytes (copied; the caller keeps them). */
  loadModel(bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    return this.withAlloc(Math.max(data.length, 1), (ptr) => {
      this.m.HEAPU8.set(data, ptr);
      return this.withAlloc(8, (out) => {
        this.call(this.m._dyce_model_load, ptr, data.length, out);
        return new Model(this, this.m.HEAPU32[out >> 2]);
      });
    });
  }
}

export class Model {
  constructor(engine, handle) {
    this.engine = engine;
    const m = engine.m;
    this.handle = handle;
    this.session = 0;
    try {
      this.session = engine.withAlloc(8, (out) => {
        engine.call(m._dyce_session_create, handle, out);
        return m.HEAPU32[out >> 2];
      });
    } catch (e) {
      m._dyce_model_free(handle);
      throw e;
    }
    const count = m._dyce_model_graph_count(handle);
    this.graphs = [];
    for (let g = 0; g < count; g++) {
      this.graphs.push({
        name: m.UTF8ToString(m._dyce_wasm_graph_name(handle, g)),
        source: m._dyce_wasm_graph_source(handle, g),
        macs: m._dyce_wasm_graph_macs(handle, g),
        outputDims: [0, 1, 2, 3].map((i) => m._dyce_wasm_graph_dim(handle, g, i)),
      });
    }
    this.inputDims = [0, 1, 2, 3].map((i) => m._dyce_wasm_input_dim(handle, i));
    this.labels = [];
    for (let i = 0; i < m._dyce_model_label_count(handle); i++)
      this.labels.push(m.UTF8ToString(m._dyce_model_label(handle, i)));
    this.weightBytes = m._dyce_model_weight_bytes(handle);
    this.arenaBytes = m._dyce_session_arena_bytes(this.session);
  }

  graphIndex(name) {
    const i = this.graphs.findIndex((g) => g.name === name);
    if (i < 0) throw new DyceError('DYCE_NOT_FOUND', `no graph named '${name}'`);
    return i;
  }

  /**
   * Runs graph `graph` (name or index; default "head" or the last graph) on
   * one input tensor (Float32Array, layout "nchw" or "nhwc") and returns a
   * copy of its output (NHWC).
   */
  run(input, { graph, layout = 'nchw' } = {}) {
    if (!this.handle) throw new DyceError('DYCE_BAD_STATE', 'model was freed');
    const m = this.engine.m;
    if (!(input instanceof Float32Array))
      throw new DyceError('DYCE_INVALID_ARGUMENT', 'input must be a Float32Array');
    const g = typeof graph === 'number' ? graph
      : this.graphIndex(graph ?? (this.graphs.some((x) => x.name === 'head') ? 'head' : this.graphs.at(-1).name));
    const layoutCode = { nhwc: 0, nchw: 1 }[layout];
    if (layoutCode === undefined)
      throw new DyceError('DYCE_INVALID_ARGUMENT', `unknown layout '${layout}'`);
    this.engine.withAlloc(Math.max(input.byteLength, 4), (ptr) => {
      m.HEAPF32.set(input, ptr >> 2);
      this.engine.call(m._dyce_session_set_input, this.session, ptr, input.length, layoutCode);
    });
    this.engine.call(m._dyce_session_run, this.session, g);
    return this.engine.withAlloc(8, (out) => {
      this.engine.call(m._dyce_session_output, this.session, g, out, out + 4);
      const data = m.HEAPU32[out >> 2], count = m.HEAPU32[(out >> 2) + 1];
      return m.HEAPF32.slice(data >> 2, (data >> 2) + count);
    });
  }

  free() {
    const m = this.engine.m;
    if (this.session) m._dyce_session_free(this.session);
    if (this.handle) m._dyce_model_free(this.handle);
    this.session = this.handle = 0;
  }
}
