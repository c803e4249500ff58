// dyce's user-facing module. One call loads a package; the model classifies
// pictures or tensors through the cascade and switches configurations in
// O(1). The same API runs in Node, on a page's main thread and in a Worker
// (./worker-client.mjs mirrors it over postMessage).
//
//   import { load } from 'dyce';
//   const model = await load(new URL('fashion-mnist.dyce', location.href));
//   const { label, score, exit, macs, ms } = await model.classify(imageData);
//   await model.setConfig(model.configs[0].name);   // the cheapest
//   model.dispose();
import { createEngine } from './engine.mjs';
import { DyceError } from './errors.mjs';
import { absoluteUrl, isBlob, isLocal, isResponse, readBytes, readResponse } from './io.mjs';
import { checkOptions, checkSplitMinMacs, classifyOptions, deepFreeze, LOAD_OPTIONS } from './options.mjs';
import { decodeInput, needsDecoding, snapshotInput, toTensor } from './preprocess.mjs';
import { WARM_UP_PACKAGE } from './warm-up-package.mjs';

export { DyceError };
export { detectVariant } from './variants.mjs';

/**
 * Package bytes from bytes, a Blob or File (a file input, a drop), a fetch
 * Response, a URL (fetched) or a path (Node; read from the file system).
 * A download may land in the engine's memory as it arrives (`heap`, a
 * promise of Engine.heap()): then { ptr, length } (io.mjs, streamBody).
 */
async function readSource(source, heap) {
  if (source instanceof Uint8Array) return source;
  if (source instanceof ArrayBuffer) return new Uint8Array(source);
  if (ArrayBuffer.isView(source)) return new Uint8Array(source.buffer, source.byteOffset, source.byteLength);
  // Before isResponse: in Node, the first look at the global Response
  // loads its fetch implementation (undici), 8-20 ms of a cold start.
  if (typeof source === 'string' || source instanceof URL) return readBytes(source, 'model package', heap);
  if (isResponse(source)) return readResponse(source, 'model package', heap);
  if (isBlob(source)) {
    try {
      return new Uint8Array(await source.arrayBuffer());
    } catch (e) {
      throw new DyceError('DYCE_FETCH_FAILED', `cannot read the ${source.name ? `file '${source.name}'` : 'Blob'}: ${e.message}`, { field: 'source', cause: e });
    }
  }
  throw new DyceError('DYCE_INVALID_ARGUMENT', 'load() takes bytes (Uint8Array, ArrayBuffer), a Blob or File, a fetch Response, or a URL (under Node also a file path)', { field: 'source' });
}

// Rounds of the kernels' warm-up at most: in Node three took the first
// inference of the demo package from 12-15 to ~4 ms (steady 1.2); more
// changed nothing.
const WARM_UP_ROUNDS = 4;

/**
 * Two classifications of a tiny package (models/make_warm_up_package.py:
 * saver, stages, exit, head; 6 KB) through this API, freed after: what a
 * first classification runs beyond the kernels — this file's JavaScript,
 * the engine's loader, session and cascade — compiled and run once. A
 * second package's first classification then took 0.5-1.3 ms in Chromium
 * where the first package's took 3-11 (steady 0.3).
 */
let warmUpBytes = null; // decoded once, at the first warm-up

function warmUpClassify(engine) {
  warmUpBytes ??= Uint8Array.from(atob(WARM_UP_PACKAGE), (ch) => ch.charCodeAt(0));
  const model = new DyceModel(engine.loadModel(warmUpBytes), engine.variant);
  try {
    // Thresholds above 1: every graph runs (saver, stages, exit, head).
    model.setConfigNow({ saver: 'saver0', saverThreshold: 2, exits: ['exit1_a'], thresholds: [2] });
    const { width, height } = model.input, rgba = new Uint8ClampedArray(4 * width * height);
    for (let i = 0; i < rgba.length; i++) rgba[i] = (i * 29) & 255;
    model.classifyNow({ data: rgba, width, height });
    model.classifyNow({ data: rgba.subarray(0, width * height), width, height, channels: 1 });
  } finally {
    model.low.free(); // not dispose(): that stops the engine's threads
  }
}

/**
 * Lets the page's other tasks (the package's arrival) run between rounds:
 * a message to itself. (Not scheduler.yield: in Firefox ESR 153's Worker
 * it sometimes never resolved, and the demo's load() with it: 2 of 3 page
 * loads stalled; none of 4 with the message.)
 */
function nextTask() {
  return new Promise((resolve) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      resolve();
    };
    channel.port2.postMessage(null);
  });
}

/**
 * While the package is still on its way (a download; a local file is
 * usually read before the engine is ready), the engine classifies with the
 * tiny package (warmUpClassify), then warms its kernels up
 * (Engine.warmUp) a round at a time, stopping when the package is there.
 * Costs nothing the page was not already waiting for; never fails.
 */
async function warmUpWhileWaiting(starting, reading) {
  let arrived = false;
  reading.then(() => { arrived = true; }, () => { arrived = true; });
  let engine;
  try {
    engine = await starting;
    await nextTask(); // a package read meanwhile has now said so
    if (arrived) return;
    warmUpClassify(engine);
    await nextTask();
    for (let i = 0; i < WARM_UP_ROUNDS && !arrived; i++) {
      engine.warmUp(1);
      await nextTask();
    }
  } catch {
    // The engine's own failure is load()'s to report; a warm-up's is no one's.
  } finally {
    engine?.endWarmUp();
  }
}

/** The URL a package came from, when it had one (a URL, a path, a Response). */
function sourceUrl(source) {
  if (typeof source === 'string' || source instanceof URL) return absoluteUrl(source);
  return isResponse(source) && source.url ? source.url : undefined;
}

/**
 * Loads a .dyce package. `source`: Uint8Array / ArrayBuffer (copied; the
 * caller keeps it), a Blob or File, a fetch Response (a status other than
 * 2xx is DYCE_FETCH_FAILED with its url), a URL, or a path under Node. An
 * option load() does not know (a typo) is refused. Options: `config` (the
 * configuration to start with, name or index; default: the package's most
 * accurate one), `threads` ('auto' (default): up to 4, one per core,
 * where the host allows threads — Node, cross-origin-isolated pages —
 * else 1, and model.threadsReason says why; or a number),
 * `splitMinMacs` (threads split only a model whose costliest answer takes
 * at least this many MACs; default 100e6, 0: every model), and the
 * engine's: `variant` ("relaxed" | "simd" | "nosimd"), `wasmPaths`,
 * `wasmUrl`, `wasmBinary` (see engine.mjs). The
 * package is read while the wasm module compiles. Every failure is a
 * DyceError; one about the package carries its `url` when it had one.
 */
export async function load(source, options) {
  const { config, splitMinMacs, ...engineOptions } = checkOptions(options, LOAD_OPTIONS, 'load()');
  if (splitMinMacs !== undefined) checkSplitMinMacs(splitMinMacs);
  // Both started before either is awaited; a failure of one must not leave
  // the other's rejection unhandled.
  const starting = createEngine(engineOptions), heap = starting.then((engine) => engine.heap());
  heap.catch(() => {}); // the engine's failure is reported below, not as heap's
  const reading = readSource(source, heap);
  // A local file (Node) is read in milliseconds: the warm-up would only
  // delay the load it is meant to hide behind.
  const local = (typeof source === 'string' || source instanceof URL) && isLocal(source);
  const warming = local ? null : warmUpWhileWaiting(starting, reading);
  const [read, started] = await Promise.allSettled([reading, starting]);
  await warming;
  if (read.status === 'rejected') throw read.reason;
  if (started.status === 'rejected') throw started.reason;
  const bytes = read.value, engine = started.value;
  let low;
  try {
    low = bytes instanceof Uint8Array ? engine.loadModel(bytes) : engine.loadModelAt(bytes.ptr, bytes.length);
  } catch (e) {
    // The package is what was wrong: say which.
    if (e instanceof DyceError && sourceUrl(source)) e.url ??= sourceUrl(source);
    else if (e instanceof DyceError) e.field ??= 'source';
    throw e;
  }
  const model = new DyceModel(low, engine.variant);
  try {
    if (splitMinMacs !== undefined) low.setSplitMinMacs(splitMinMacs);
    if (model.configs.length) model.setConfigNow(config ?? model.defaultConfig);
    else if (config !== undefined) model.setConfigNow(config);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

/** The MACs a configuration spends when every enabled classifier runs. */
function worstCaseMacs(config, cascade, macsOf) {
  const at = (g) => macsOf(g, config.level);
  let total = config.saver ? at(config.saver) : 0;
  for (let p = 1; p <= cascade.stageCount; p++) {
    total += at(`stage${p}`);
    if (config.exits[p - 1]) total += at(config.exits[p - 1]);
  }
  return total + at(cascade.head);
}

export class DyceModel {
  /** Takes ownership of an engine Model (wasm/engine.mjs). */
  constructor(low, variant) {
    this.low = low;
    this.variant = variant;
    this.dtype = low.dtype;
    const [, height, width, channels] = low.inputDims;
    this.input = deepFreeze({ height, width, channels, ...structuredClone(low.inputSpec) });
    this.labels = deepFreeze([...low.labels]);
    const macsOf = (name, level) =>
      (level ? low.levels.find((l) => l.name === level)?.macs[name] : low.graphs.find((g) => g.name === name)?.macs) ?? 0;
    const cascade = low.cascade;
    this.backboneMacs = cascade
      ? Array.from({ length: cascade.stageCount }, (_, p) => macsOf(`stage${p + 1}`)).reduce((a, b) => a + b, 0) + macsOf(cascade.head)
      : low.graphs.reduce((a, g) => a + g.macs, 0);
    // The search measured accuracy and mean MACs on the validation split;
    // −1 (e.g. the "backbone" entry) means not measured: null here.
    this.configs = deepFreeze(low.configs.map((c, index) => ({
      index, name: c.name,
      accuracy: c.accuracy >= 0 ? c.accuracy : null,
      meanMacs: c.meanMacs >= 0 ? c.meanMacs : null,
      maxMacs: worstCaseMacs(c, cascade, macsOf),
      saver: c.saver, saverThreshold: c.saverThreshold,
      exits: [...c.exits], thresholds: [...c.thresholds],
      confidence: c.confidence, level: c.level,
    })));
    /** Width levels (REDS) of the package; one ("full") for most packages. */
    this.levels = deepFreeze(low.levels.map((l) => l.name));
    this.current = null;
    this.disposed = false;
    /** The calls made while one decodes its picture, settled in order (see inOrder). */
    this.tail = null;
  }

  /**
   * Runs `fn` now when no earlier call is still decoding its picture (the
   * usual case: no wait), else after the earlier calls: calls take effect
   * in the order they were made, as in the Worker.
   */
  inOrder(fn, slow = false) {
    if (!this.tail && !slow) return fn();
    const run = (this.tail ?? Promise.resolve()).then(fn);
    const tail = run.then(() => {}, () => {});
    this.tail = tail;
    tail.then(() => {
      if (this.tail === tail) this.tail = null;
    });
    return run;
  }

  /** Index of the most accurate configuration the search measured, else the last one; null without any. */
  get defaultConfig() {
    const measured = this.configs.filter((c) => c.accuracy !== null);
    const best = measured.reduce((a, c) => (!a || c.accuracy > a.accuracy ? c : a), null);
    return (best ?? this.configs.at(-1))?.index ?? null;
  }

  /** Name of the current configuration ("custom" after setConfig({...})), or null. */
  get config() {
    return this.current;
  }

  checkAlive() {
    if (this.disposed) throw new DyceError('DYCE_BAD_STATE', 'the model was disposed');
  }

  /**
   * Switches configuration: a shipped one by name or index (O(1), no
   * allocation), or a custom table { saver, saverThreshold, exits,
   * thresholds, confidence } (see wasm/engine.mjs).
   */
  async setConfig(which) {
    return this.inOrder(() => this.setConfigNow(which));
  }

  /** setConfig, now; errors name the argument as `field: 'config'`. */
  setConfigNow(which) {
    this.checkAlive();
    if (typeof which === 'string' || typeof which === 'number') {
      const c = typeof which === 'number' ? (Number.isInteger(which) ? this.configs[which] : undefined) : this.configs.find((x) => x.name === which);
      if (!c) {
        const names = this.configs.map((x) => x.name);
        throw new DyceError('DYCE_NOT_FOUND', `no configuration ${typeof which === 'string' ? JSON.stringify(which) : which}; the package has ${names.length ? `${names.join(', ')} (or an index 0–${names.length - 1})` : 'none'}`, { field: 'config' });
      }
      if (this.current !== c.name) this.low.useConfig(c.index);
      this.current = c.name;
    } else if (which && typeof which === 'object') {
      this.low.setConfig(which);
      this.current = 'custom';
      this.customConfig = which;
    } else {
      throw new DyceError('DYCE_INVALID_ARGUMENT', `setConfig() takes a configuration name, index or table, not ${which}`, { field: 'config' });
    }
  }

  /**
   * Classifies one input: ImageData, a byte image {data: Uint8Array |
   * Uint8ClampedArray, width, height, channels: 1 | 2 | 3 | 4}, a canvas, a
   * video, a VideoFrame, an ImageBitmap, an <img> (one still loading is
   * awaited), a Blob or File of an encoded image (decoded by
   * createImageBitmap), or a normalised tensor in the
   * explicit form {tensor: Float32Array, layout: "nchw" | "nhwc",
   * normalized: true} (a bare Float32Array is refused: it cannot say
   * whether it holds pixels or a normalised tensor).
   * Options: `config` (switch first, and stay), `deadlineMs` / `macBudget`
   * (anytime mode: stop before the next graph once spent), `topK` (3),
   * `invert` (light-on-dark pictures for a dark-on-light model); an
   * unknown or ill-typed option is refused. Calls take effect in the order
   * they were made, also while a picture decodes.
   * → { label, index, score, top, exit, position, macs, ms, config,
   *     budgetExhausted }; `ms` covers preprocessing and the cascade.
   */
  async classify(input, options) {
    if (!needsDecoding(input)) {
      if (!this.tail) return this.classifyNow(input, options);
      // Behind a call still decoding its picture: this one's picture is
      // taken now, as the page may draw the next one into it meanwhile.
      const taken = snapshotInput(input);
      return this.inOrder(() => {
        try {
          return this.classifyNow(taken.input, options);
        } finally {
          taken.close();
        }
      });
    }
    return this.inOrder(async () => {
      this.checkAlive();
      const decoded = await decodeInput(input);
      try {
        return this.classifyNow(decoded.input, options);
      } finally {
        decoded.close();
      }
    }, true);
  }

  /** classify, synchronously, for what needs no decoding (the Worker calls it). */
  classifyNow(input, options) {
    this.checkAlive();
    const { config, deadlineMs, macBudget, topK, invert } = classifyOptions(options);
    const start = performance.now();
    // A call refused for its input leaves the configuration as it was (as
    // in the Worker, which checks the picture before posting): the picture
    // first, and a switch the engine then refuses is undone.
    const { tensor, layout } = toTensor(input, this.low.inputDims, this.low.inputSpec, { invert });
    const before = this.current, beforeTable = this.customConfig;
    if (config !== undefined && config !== null) this.setConfigNow(config);
    let r;
    try {
      r = this.low.classifyChecked(tensor, layout, deadlineMs, macBudget);
    } catch (e) {
      if (e instanceof DyceError && e.code === 'DYCE_BAD_INPUT') e.field ??= 'input';
      if (config !== undefined && config !== null && before !== null) this.setConfigNow(before === 'custom' ? beforeTable : before);
      throw e;
    }
    const top = this.topOf(r.exit, topK);
    // One number for one probability: the engine's (float32) in both places.
    if (top[0]?.index === r.index) top[0].score = r.score;
    return {
      label: r.label, index: r.index, score: r.score, top,
      exit: r.exit, position: r.position, macs: r.macs,
      ms: performance.now() - start, config: this.current, budgetExhausted: r.budgetExhausted,
    };
  }

  /** The `k` most probable classes of graph `exit`'s output for the current input. */
  topOf(exit, k) {
    this.checkAlive();
    k = Math.max(0, Math.floor(k) || 0);
    const logits = this.low.output(exit);
    let max = -Infinity, sum = 0;
    for (const v of logits) if (v > max) max = v;
    for (const v of logits) sum += Math.exp(v - max);
    // Only the k best are kept, in order (a model may have 65 535 classes);
    // ties keep the lower index first, as a stable sort would.
    const best = [];
    for (let index = 0; index < logits.length && k > 0; index++) {
      const v = logits[index];
      if (best.length === k && !(v > logits[best[k - 1]])) continue;
      let at = best.length;
      while (at > 0 && logits[best[at - 1]] < v) at--;
      best.splice(at, 0, index);
      if (best.length > k) best.pop();
    }
    return best.map((index) => ({ index, label: this.labels[index] ?? String(index), score: Math.exp(logits[index] - max) / sum }));
  }

  /** Threads the model runs on now (1 .. maxThreads). */
  get threads() {
    return this.disposed ? 0 : this.low.threads;
  }

  /** Threads this model may use: 1 + the engine's workers (1 where the host allows no threads). */
  get maxThreads() {
    return this.low.engine.maxThreads;
  }

  /** Why maxThreads is 1 (or fewer than asked for), or null. */
  get threadsReason() {
    return this.low.engine.threadsReason;
  }

  /** Threads split only a model whose costliest answer takes this many MACs or more (load's `splitMinMacs`). */
  get splitMinMacs() {
    return this.disposed ? this.splitMinMacsAtDispose : this.low.splitMinMacs;
  }

  /**
   * Resolves to the number of worker threads that started. They start in
   * the background: until then their share of the work runs on this
   * thread, so load() never waits for them.
   */
  get threadsReady() {
    return this.low.engine.threadsReady;
  }

  /**
   * Runs on `n` threads (1 .. maxThreads) from the next classify: large
   * convolutions split across them, with bit-identical results (in a
   * model below `splitMinMacs`, none: it runs as on one thread). Replans
   * the working memory, so switch on a change of policy (the governor
   * does), not per frame.
   */
  async setThreads(n) {
    return this.inOrder(() => this.setThreadsNow(n));
  }

  setThreadsNow(n) {
    this.checkAlive();
    this.low.setThreads(n);
  }

  /**
   * Frees the wasm model and session and stops the engine's threads, now:
   * every call made before it has run, except those still waiting for
   * their picture to decode (a slow <img> must not hold the model), which
   * then reject with DYCE_BAD_STATE, as later calls do. Idempotent.
   */
  async dispose() {
    if (this.disposed) return;
    this.splitMinMacsAtDispose = this.low.splitMinMacs; // the session is freed below
    this.disposed = true;
    this.low.free();
    this.low.engine.dispose();
  }
}
