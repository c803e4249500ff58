// Low-level binding of the browser module (wasm/dist/dyce.mjs): loads the
// Emscripten module and wraps the C API in a small class. Works in Node,
// browsers and workers. The user-facing API (preprocessing, cascade,
// governor) builds on this.
import { CONFIDENCE_KINDS, ROLES } from './codes.mjs';
import { DyceError, shown } from './errors.mjs';
import { checkBudget, checkOptions, checkSplitMinMacs } from './options.mjs';

// This entry's options, checked as load()'s are: a typo is refused, never ignored.
const ENGINE_OPTIONS = ['threads', 'variant', 'wasmPaths', 'wasmUrl', 'wasmBinary'];
import { loadVariant } from './variants.mjs';

export { DyceError };
export { detectVariant, WASM_FILES } from './variants.mjs';

/**
 * Compiles and instantiates the wasm module. Options: `variant`
 * ("relaxed", "simd" or "nosimd"; by default the best this host
 * validates, see variants.mjs), `threads` ('auto' (default): up to 4,
 * one per core; or a number: the threaded build and its workers where
 * the host allows them — Node, cross-origin-isolated pages — else one
 * thread, and `engine.threadsReason` says why), `wasmPaths` (the folder, or a table by
 * file name, where the three .wasm files are; the build is still picked
 * by feature detection), or one file: `wasmUrl` / `wasmBinary` (bytes),
 * whose build is recognised from the module (a `variant` contradicting it
 * is refused). Failures are DyceErrors: DYCE_FETCH_FAILED,
 * DYCE_WASM_COMPILE, DYCE_WASM_MISMATCH, with the URL.
 */
export async function createEngine(options = {}) {
  const { module, variant, threads, threadsReason } = await loadVariant(checkOptions(options, ENGINE_OPTIONS, 'createEngine()'));
  const engine = new Engine(module);
  engine.variant = variant;
  /** Threads a model of this engine may run on (1 + the workers that started). */
  engine.maxThreads = threads;
  engine.threaded = !!module.threads;
  /** Why fewer threads than asked for, or null. */
  engine.threadsReason = threadsReason;
  return engine;
}

export class Engine {
  constructor(module) {
    this.m = module;
    this.errorBytes = module._dyce_wasm_error_bytes();
    // One error record and one small result area for the whole engine, so
    // an inference allocates nothing (wasm calls never nest, so neither
    // is used by two calls at once). Freed with the module.
    this.err = module._malloc(this.errorBytes);
    this.out = module._malloc(64);
    if (!this.err || !this.out) throw new DyceError('DYCE_OUT_OF_MEMORY', 'cannot allocate the engine buffers');
  }

  /**
   * Resolves to the number of workers that entered the engine. They start
   * in the background when a model first splits a node (see startThreads),
   * or when this is read.
   */
  get threadsReady() {
    const t = this.m.threads;
    if (!t) return Promise.resolve(0);
    return (this.workersReady ??= t.ready.then(({ started, error }) => {
      if (error) this.threadsReason = error;
      // Workers that could not start: the parts they would take run on the
      // caller, so the models run on fewer threads than planned; say so.
      this.maxThreads = Math.min(this.maxThreads, 1 + started);
      return started;
    }));
  }

  /** Starts the worker threads (threaded builds; once): a model of this engine splits a node. */
  startThreads() {
    this.m.threads?.start();
    void this.threadsReady; // so that a failure to start shows in maxThreads and threadsReason
  }

  /** Stops the engine's worker threads (threaded builds); its models run on one thread after. */
  dispose() {
    this.m.threads?.terminate();
    this.maxThreads = 1;
  }

  /**
   * Runs every kernel family `rounds` times on small synthetic tensors
   * (dyce_warm_up): V8 runs wasm as baseline code until a function has run
   * enough, then optimises it in the background, so an engine that warms
   * up while its package downloads answers its first inference with
   * optimised kernels (docs/PERFORMANCE.md, "Cold start"). Its ~200 KB
   * buffer is kept until endWarmUp().
   */
  warmUp(rounds = 1) {
    const m = this.m;
    if (!this.warmBuffer) {
      this.warmBytes = m._dyce_warm_up_bytes();
      this.warmBuffer = m._malloc(this.warmBytes);
      if (!this.warmBuffer) throw new DyceError('DYCE_OUT_OF_MEMORY', `cannot allocate the warm-up's ${this.warmBytes} bytes`);
    }
    this.call(m._dyce_warm_up, this.warmBuffer, this.warmBytes, rounds);
  }

  /** Frees what warmUp() kept. */
  endWarmUp() {
    if (this.warmBuffer) this.m._free(this.warmBuffer);
    this.warmBuffer = 0;
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
    const status = fn(...args, this.err);
    if (status !== 0) {
      const code = this.m.UTF8ToString(this.m._dyce_status_name(status));
      throw new DyceError(code, this.m.UTF8ToString(this.m._dyce_wasm_error_message(this.err)));
    }
  }

  /** Loads a .dyce package from bytes (copied; the caller keeps them). */
  loadModel(bytes) {
    const data = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
    const m = this.m, ptr = m._malloc(Math.max(data.length, 1));
    if (!ptr) throw new DyceError('DYCE_OUT_OF_MEMORY', `cannot allocate ${data.length} bytes for the model file`);
    m.HEAPU8.set(data, ptr);
    return this.loadModelAt(ptr, data.length);
  }

  /**
   * Loads the package already in wasm memory at `ptr` (`length` bytes,
   * from malloc; see heap()), which the engine owns from now on, loaded or
   * refused. The model takes the file over and packs its weights in
   * place, so loading needs about one copy of the weights in wasm memory,
   * not two (wasm memory never shrinks).
   */
  loadModelAt(ptr, length) {
    const m = this.m;
    let owned = false;
    try {
      return this.withAlloc(8, (out) => {
        this.call(m._dyce_model_load_inplace, ptr, length, out);
        owned = true;
        return new Model(this, m.HEAPU32[out >> 2]);
      });
    } finally {
      if (!owned) m._free(ptr);
    }
  }

  /** The engine's heap as a place for a download to land in (io.mjs, streamBody). */
  heap() {
    const m = this.m;
    return { alloc: (n) => m._malloc(n), free: (p) => m._free(p), bytes: () => m.HEAPU8 };
  }
}

/** What a configuration table may hold: its own keys, and those a shipped one's description adds (model.configs[i]: name, accuracy, …), so that a shipped configuration can be copied and changed. */
const CUSTOM_KEYS = ['saver', 'saverThreshold', 'exits', 'thresholds', 'confidence', 'level'];
const CONFIG_KEYS = new Set([...CUSTOM_KEYS, 'index', 'name', 'accuracy', 'meanMacs', 'maxMacs']);

export class Model {
  constructor(engine, handle) {
    this.engine = engine;
    const m = engine.m;
    this.handle = handle;
    this.session = 0;
    try {
      this.session = engine.withAlloc(8, (out) => {
        // Planned once, on every thread the engine has (see setThreads).
        engine.call(m._dyce_session_create_threads, handle, engine.maxThreads, out);
        return m.HEAPU32[out >> 2];
      });
    } catch (e) {
      m._dyce_model_free(handle);
      throw e;
    }
    this.threadsIfSplit();
    const count = m._dyce_model_graph_count(handle);
    this.graphs = [];
    for (let g = 0; g < count; g++) {
      this.graphs.push({
        name: m.UTF8ToString(m._dyce_wasm_graph_name(handle, g)),
        source: m._dyce_wasm_graph_source(handle, g),
        macs: m._dyce_wasm_graph_macs(handle, g),
        outputDims: [0, 1, 2, 3].map((i) => m._dyce_wasm_graph_dim(handle, g, i)),
        ...int8Info(m._dyce_wasm_graph_int8(handle, g)),
      });
    }
    // 'int8' when any node runs on int8 tensors (docs/INT8.md).
    this.dtype = this.graphs.some((g) => g.int8Nodes > 0) ? 'int8' : 'float32';
    this.inputDims = [0, 1, 2, 3].map((i) => m._dyce_wasm_input_dim(handle, i));
    this.inputCount = this.inputDims.reduce((a, b) => a * b, 1);
    const head = this.graphs.findIndex((g) => g.name === 'head');
    this.defaultGraph = head >= 0 ? head : this.graphs.length - 1; // run()'s graph
    this.labels = [];
    for (let i = 0; i < m._dyce_model_label_count(handle); i++)
      this.labels.push(m.UTF8ToString(m._dyce_model_label(handle, i)));
    this.weightBytes = m._dyce_model_weight_bytes(handle);
    this.arenaBytes = m._dyce_session_arena_bytes(this.session);
    /* Width levels (REDS): [{name, macs: {graph name: MACs at the level}}]. */
    this.levels = Array.from({ length: m._dyce_model_level_count(handle) }, (_, l) => ({
      name: m.UTF8ToString(m._dyce_model_level_name(handle, l)),
      macs: Object.fromEntries(this.graphs.map((g, i) => [g.name, m._dyce_wasm_level_macs(handle, i, l)])),
    }));
    this.cascade = readCascade(engine, handle, this.graphs, this.levels);
    this.inputSpec = engine.withAlloc(4 * 9, (p) => {
      const c = m._dyce_wasm_input_spec(handle, p);
      const f = m.HEAPF32.slice(p >> 2, (p >> 2) + 1 + 2 * c);
      return { pixelScale: f[0], mean: Array.from(f.slice(1, 1 + c)), std: Array.from(f.slice(1 + c)) };
    });
  }

  /** Threads the model runs on (see setThreads; no more than the engine's threads that started). */
  get threads() {
    return Math.min(this.engine.m._dyce_session_threads(this.session), this.engine.maxThreads);
  }

  /** Convolutions of the model that run split across threads. */
  get splitNodes() {
    return this.engine.m._dyce_session_split_nodes(this.session);
  }

  /** Of those, the nodes that run in the parts of the node before them, with no wait between (docs/THREADS.md, "Chains"). */
  get chainedNodes() {
    return this.engine.m._dyce_session_chained_nodes(this.session);
  }

  /** A model whose costliest answer takes fewer MACs splits nothing (DYCE_SPLIT_MIN_MODEL_MACS, 100 M). */
  get splitMinMacs() {
    return this.engine.m._dyce_session_split_min_macs(this.session);
  }

  /** Sets that floor (a finite number >= 0; 0: small models split too). Replans memory when threaded. */
  setSplitMinMacs(macs) {
    checkSplitMinMacs(macs);
    this.engine.call(this.engine.m._dyce_session_set_split_min_macs, this.session, macs);
    this.threadsIfSplit();
  }

  /** The engine's workers start once a model splits a node (none for a model that never does). */
  threadsIfSplit() {
    if (this.splitNodes > 0) this.engine.startThreads();
  }

  /**
   * Runs on `n` threads from now on (1 to engine.maxThreads): large
   * convolutions split into bands of rows, bit-identical results. Replans
   * the model's working memory (allocates); not for every frame.
   */
  setThreads(n) {
    const max = this.engine.maxThreads;
    if (!Number.isInteger(n) || n < 1 || n > max)
      throw new DyceError('DYCE_INVALID_ARGUMENT', `threads must be a whole number from 1 to ${max}, not ${shown(n)}${max === 1 && this.engine.threadsReason ? ` (one thread: ${this.engine.threadsReason})` : ''}`, { field: 'threads' });
    this.engine.call(this.engine.m._dyce_session_set_threads, this.session, n);
    this.threadsIfSplit();
  }

  /** The package's configurations: [{name, accuracy, meanMacs, level, saver, exits}]. */
  get configs() {
    return this.cascade?.configs ?? [];
  }

  /** Switches to a shipped configuration (index or name). O(1), no allocation. */
  useConfig(which) {
    const i = typeof which === 'number' ? which : this.configs.findIndex((c) => c.name === which);
    if (!Number.isInteger(i) || i < 0 || i >= this.configs.length)
      throw new DyceError('DYCE_NOT_FOUND', `no configuration '${which}'`);
    this.engine.call(this.engine.m._dyce_session_use_config, this.session, i);
  }

  /**
   * Sets a custom configuration: { saver: name|null, saverThreshold,
   * exits: [name|null per position], thresholds: [per position],
   * confidence: 'max_softmax'|'margin'|'entropy', level: name|index }.
   */
  setConfig(config) {
    const c = this.cascade;
    if (!c) throw new DyceError('DYCE_NOT_FOUND', 'the package has no cascade');
    if (typeof config !== 'object' || config === null)
      throw new DyceError('DYCE_INVALID_ARGUMENT', `a configuration is an object, not ${config === null ? 'null' : typeof config}`, { field: 'config' });
    const unknown = Object.keys(config).filter((k) => !CONFIG_KEYS.has(k));
    if (unknown.length)
      throw new DyceError('DYCE_INVALID_ARGUMENT', `unknown configuration key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (a configuration table has ${CUSTOM_KEYS.join(', ')})`, { field: unknown[0] });
    for (const key of ['exits', 'thresholds']) {
      const v = config[key];
      if (v === undefined || v === null) continue;
      if (!Array.isArray(v))
        throw new DyceError('DYCE_INVALID_ARGUMENT', `${key} must be an array (one entry per exit position), not ${typeof v}`, { field: key });
      if (v.length > c.stageCount)
        throw new DyceError('DYCE_INVALID_ARGUMENT', `${key} has ${v.length} entries; the package has ${c.stageCount} exit position${c.stageCount === 1 ? '' : 's'} (positions left out have no exit)`, { field: key });
    }
    const m = this.engine.m, n = 1 + c.stageCount;
    // Each failure names the part of the configuration that is wrong.
    const id = (name, field) => {
      if (name == null) return -1;
      try {
        return this.graphIndex(name);
      } catch (e) {
        if (e instanceof DyceError) e.field = field;
        throw e;
      }
    };
    const threshold = (v, field) => {
      if (v === undefined) return 1;
      if (typeof v !== 'number' || !Number.isFinite(v))   // (-1: an exit that always answers)
        throw new DyceError('DYCE_INVALID_ARGUMENT', `${field} must be a finite number, not ${typeof v === 'string' ? JSON.stringify(v) : String(v)}`, { field });
      return v;
    };
    const graphs = [id(config.saver, 'saver'), ...Array.from({ length: c.stageCount }, (_, p) => id(config.exits?.[p], `exits[${p}]`))];
    // A classifier without its threshold would never answer (and still
    // cost its MACs). (A threshold where no classifier is, as the
    // package's own configurations carry them, means nothing: allowed.)
    const paired = (graph, value, name, tfield) => {
      if (graph >= 0 && (value === undefined || value === null))
        throw new DyceError('DYCE_INVALID_ARGUMENT', `${name} has no threshold: give ${tfield} (the confidence above which it answers; -1: always)`, { field: tfield });
    };
    paired(graphs[0], config.saverThreshold, `saver '${config.saver}'`, 'saverThreshold');
    for (let p = 0; p < c.stageCount; p++)
      paired(graphs[1 + p], config.thresholds?.[p], `exit '${config.exits?.[p]}'`, `thresholds[${p}]`);
    const thresholds = [threshold(config.saverThreshold ?? undefined, 'saverThreshold'),
      ...Array.from({ length: c.stageCount }, (_, p) => threshold(config.thresholds?.[p] ?? undefined, `thresholds[${p}]`))];
    const kind = CONFIDENCE_KINDS.indexOf(config.confidence ?? CONFIDENCE_KINDS[0]);
    if (kind < 0) throw new DyceError('DYCE_INVALID_ARGUMENT', `unknown confidence '${config.confidence}' (${CONFIDENCE_KINDS.join(', ')})`, { field: 'confidence' });
    const level = typeof config.level === 'string' ? this.levels.findIndex((l) => l.name === config.level) : (config.level ?? 0);
    if (!Number.isInteger(level) || level < 0 || level >= Math.max(1, this.levels.length))
      throw new DyceError('DYCE_INVALID_ARGUMENT', `unknown width level ${typeof config.level === 'string' ? `'${config.level}'` : config.level} (the package has ${this.levels.map((l, i) => `${i}: ${l.name}`).join(', ') || '0'})`, { field: 'level' });
    this.engine.withAlloc(8 * n, (p) => {
      m.HEAP32.set(graphs, p >> 2);
      m.HEAPF32.set(thresholds, (p >> 2) + n);
      try {
        this.engine.call(m._dyce_wasm_set_config, this.session, this.handle, p, p + 4 * n, n, kind, level);
      } catch (e) {
        // The engine names the graph it refuses ("'exit3_b' is not an exit
        // at position 1"): the field is the entry that holds it.
        const named = e instanceof DyceError && e.field === undefined ? /'([^']+)'/.exec(e.message)?.[1] : undefined;
        const exit = (config.exits ?? []).indexOf(named);
        if (named !== undefined) e.field = named === config.saver ? 'saver' : exit >= 0 ? `exits[${exit}]` : 'level';
        throw e;
      }
    });
  }

  /**
   * Runs the cascade on one input tensor under the current configuration:
   * { index, label, score, confidence, exit (graph name), position, macs,
   *   ms, budgetExhausted }. Options: layout, deadlineMs, macBudget.
   */
  classify(input, options) {
    const { layout = 'nchw', deadlineMs = 0, macBudget = 0 } = checkOptions(options, ['layout', 'deadlineMs', 'macBudget'], 'classify()');
    return this.classifyChecked(input, layout, checkBudget('deadlineMs', deadlineMs), checkBudget('macBudget', macBudget));
  }

  /** classify() on options already checked (the high-level API checks its own once). */
  classifyChecked(input, layout, deadlineMs, macBudget) {
    const m = this.engine.m, out = this.engine.out;
    this.setInput(input, layout);
    this.engine.call(m._dyce_wasm_classify, this.session, deadlineMs, macBudget, out);
    const r = m.HEAPF64.subarray(out >> 3, (out >> 3) + 8);
    return {
      index: r[0], label: this.labels[r[0]] ?? String(r[0]), score: r[1], confidence: r[2],
      exit: this.graphs[r[3]].name, position: r[4], macs: r[5], ms: r[6], budgetExhausted: r[7] === 1,
    };
  }

  setInput(input, layout) {
    if (!this.handle) throw new DyceError('DYCE_BAD_STATE', 'model was freed');
    if (!(input instanceof Float32Array))
      throw new DyceError('DYCE_INVALID_ARGUMENT', 'input must be a Float32Array');
    const layoutCode = layout === 'nchw' ? 1 : layout === 'nhwc' ? 0 : -1;
    if (layoutCode < 0)
      throw new DyceError('DYCE_INVALID_ARGUMENT', `unknown layout ${JSON.stringify(layout)}: 'nchw' or 'nhwc'`, { field: 'layout' });
    const m = this.engine.m;
    if (input.length === 0) {
      // Also what a detached buffer looks like; copying it would throw a TypeError.
      throw new DyceError('DYCE_BAD_INPUT', `input has 0 elements (empty or detached buffer); the model takes ${this.inputCount}`);
    }
    if (input.length !== this.inputCount) {
      // Refused by the engine with the shapes in the message.
      this.engine.withAlloc(input.byteLength, (ptr) => {
        m.HEAPF32.set(input, ptr >> 2);
        this.engine.call(m._dyce_session_set_input, this.session, ptr, input.length, layoutCode);
      });
      return;
    }
    // Staged in the session's scratch (dead between runs; no buffer of
    // our own: a 224x224x3 input would add 0.6 MB of wasm memory). None
    // after a failed setThreads: the engine then says why, and nothing
    // is written at address 0.
    const staging = m._dyce_session_input_staging(this.session);
    if (staging) m.HEAPF32.set(input, staging >> 2);
    this.engine.call(m._dyce_session_set_input, this.session, staging, input.length, layoutCode);
  }

  /** A graph by name or index (a whole number of the package's range). */
  graphIndex(name) {
    if (typeof name === 'number') {
      if (Number.isInteger(name) && name >= 0 && name < this.graphs.length) return name;
      throw new DyceError('DYCE_NOT_FOUND', `no graph ${name}: the package's are 0 to ${this.graphs.length - 1}`, { field: 'graph' });
    }
    const i = this.graphs.findIndex((g) => g.name === name);
    if (i < 0) throw new DyceError('DYCE_NOT_FOUND', `no graph named '${name}'`);
    return i;
  }

  /**
   * Runs graph `graph` (name or index; default "head" or the last graph) on
   * one input tensor (Float32Array, layout "nchw" or "nhwc") and returns a
   * copy of its output (NHWC).
   */
  run(input, options) {
    const { graph, layout = 'nchw' } = checkOptions(options, ['graph', 'layout'], 'run()');
    const m = this.engine.m;
    const g = graph == null ? this.defaultGraph : this.graphIndex(graph);
    this.setInput(input, layout);
    this.engine.call(m._dyce_session_run, this.session, g);
    return this.output(g);
  }

  /**
   * A copy of graph `graph`'s (name or index) output from the last run or
   * classify, without running anything (the session keeps every output of
   * the graphs that ran).
   */
  output(graph) {
    const m = this.engine.m, out = this.engine.out;
    const g = this.graphIndex(graph);
    if (this.graphs[g]?.outputType === 'int8') return this.int8Output(g);
    // dyce_session_output(session, graph, float **data, size_t *count): two 32-bit slots.
    this.engine.call(m._dyce_session_output, this.session, g, out, out + 4);
    const data = m.HEAPU32[out >> 2], count = m.HEAPU32[(out >> 2) + 1];
    return m.HEAPF32.slice(data >> 2, (data >> 2) + count);
  }

  /** An int8 output (a stage of an int8 package) as real values. */
  int8Output(g) {
    const m = this.engine.m, out = this.engine.out;
    // dyce_session_output_int8(session, graph, &data, &count, &scale, &zero_point)
    this.engine.call(m._dyce_session_output_int8, this.session, g, out, out + 4, out + 8, out + 12);
    const data = m.HEAPU32[out >> 2], count = m.HEAPU32[(out >> 2) + 1];
    const scale = m.HEAPF32[(out >> 2) + 2], zp = m.HEAP32[(out >> 2) + 3];
    const q = m.HEAP8.subarray(data, data + count), y = new Float32Array(count);
    for (let i = 0; i < count; i++) y[i] = (q[i] - zp) * scale;
    return y;
  }

  free() {
    const m = this.engine.m;
    if (this.session) m._dyce_session_free(this.session);
    if (this.handle) m._dyce_model_free(this.handle);
    this.session = this.handle = 0;
  }
}

/** The cascade roles and shipped configurations of a model, or null. */
/** dyce_wasm_graph_int8's answer: int8 nodes * 2 + (output is int8). */
function int8Info(v) {
  return { int8Nodes: v >> 1, outputType: v & 1 ? 'int8' : 'float32' };
}

function readCascade(engine, handle, graphs, levels) {
  const m = engine.m;
  return engine.withAlloc(16, (info) => {
    if (!m._dyce_wasm_cascade(handle, info)) return null;
    const [stageCount, saverCount, head, configCount] = m.HEAP32.slice(info >> 2, (info >> 2) + 4);
    const name = (g) => (g < 0 ? null : graphs[g].name);
    const cascade = {
      stageCount, head: name(head),
      savers: Array.from({ length: saverCount }, (_, i) => name(m._dyce_wasm_role_graph(handle, ROLES.SAVER, 0, i))),
      exits: Array.from({ length: stageCount }, (_, p) =>
        Array.from({ length: m._dyce_wasm_exit_count(handle, p + 1) }, (_, i) => name(m._dyce_wasm_role_graph(handle, ROLES.EXIT, p + 1, i)))),
      configs: [],
    };
    const n = 1 + stageCount;
    engine.withAlloc(8 * n + 48, (buf) => {
      const thresholds = buf + 4 * n, meta = buf + 8 * n + (8 - ((buf + 8 * n) % 8)) % 8;
      for (let i = 0; i < configCount; i++) {
        const cname = m._dyce_wasm_config(handle, i, buf, thresholds, meta);
        const g = m.HEAP32.slice(buf >> 2, (buf >> 2) + n), t = m.HEAPF32.slice(thresholds >> 2, (thresholds >> 2) + n);
        const [accuracy, meanMacs, confidence, level] = m.HEAPF64.slice(meta >> 3, (meta >> 3) + 4);
        cascade.configs.push({
          name: m.UTF8ToString(cname), accuracy, meanMacs,
          confidence: CONFIDENCE_KINDS[confidence], level: levels[level].name,
          saver: name(g[0]), saverThreshold: t[0],
          exits: Array.from(g.slice(1), name), thresholds: Array.from(t.slice(1)),
        });
      }
    });
    return cascade;
  });
}
