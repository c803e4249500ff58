// The dyce API with the engine in a Worker: `loadInWorker(source, options)`
// resolves to a model shaped like index.mjs's DyceModel (configs, labels,
// input, classify, setConfig, dispose) whose calls travel by postMessage,
// so inference never blocks the page's main thread.
import { DyceError, errorFromData } from './errors.mjs';
import { centerCrop, sourceSize } from './preprocess.mjs';

const DRAWABLES = ['HTMLCanvasElement', 'OffscreenCanvas', 'HTMLVideoElement', 'HTMLImageElement'];

/**
 * What to post for `input`: elements cannot cross threads, so they become
 * an ImageBitmap already cropped and resized to the model's input by the
 * browser (a small transfer). Everything else is structured-cloned.
 */
async function transferable(input, { width, height }) {
  if (!DRAWABLES.some((name) => typeof globalThis[name] !== 'undefined' && input instanceof globalThis[name]))
    return [input, []];
  const size = sourceSize(input);
  if (!(size.width > 0 && size.height > 0))
    throw new DyceError('DYCE_INVALID_ARGUMENT', `the source has no pixels yet (${size.width}×${size.height}); is the video playing?`);
  const c = centerCrop(size.width, size.height, width, height);
  const bitmap = await createImageBitmap(input, c.x, c.y, c.w, c.h, { resizeWidth: width, resizeHeight: height, resizeQuality: 'high' });
  return [bitmap, [bitmap]];
}

/** `x` resolved against the page (a Worker would resolve it against its own script), as a string (URL objects cannot be posted). */
function absolute(x) {
  return x instanceof URL ? x.href : new URL(x, globalThis.location?.href).href;
}

/** load()'s options as the worker must see them: URLs absolute strings, wasmPaths tables included. */
function postableOptions(options) {
  const o = { ...options };
  if (o.wasmUrl !== undefined) o.wasmUrl = absolute(o.wasmUrl);
  if (o.wasmPaths !== undefined && o.wasmPaths !== null) {
    o.wasmPaths = typeof o.wasmPaths === 'object' && !(o.wasmPaths instanceof URL)
      ? Object.fromEntries(Object.entries(o.wasmPaths).map(([file, url]) => [file, absolute(url)]))
      : absolute(String(o.wasmPaths).replace(/\/?$/, '/'));
  }
  return o;
}

/**
 * Starts a module Worker and loads a package in it. `source` as for
 * index.mjs's load (bytes are copied into the worker; a URL is fetched
 * there). Options: `workerUrl` (default: ./worker.mjs next to this file,
 * named literally so that bundlers build and emit the worker) plus
 * load()'s (`config`, `variant`, `wasmPaths`, `wasmUrl`, `wasmBinary`);
 * relative URLs resolve against the page.
 */
export async function loadInWorker(source, options = {}) {
  const { workerUrl, ...loadOptions } = options;
  const worker = workerUrl
    ? new Worker(workerUrl, { type: 'module' })
    : new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' });
  const client = new WorkerModel(worker);
  try {
    const src = typeof source === 'string' || source instanceof URL ? absolute(source) : source;
    client.adopt(await client.request('load', [src, postableOptions(loadOptions)]));
  } catch (e) {
    client.terminate(e);
    throw e;
  }
  return client;
}

export class WorkerModel {
  constructor(worker) {
    this.worker = worker;
    this.pending = new Map();
    this.nextId = 1;
    this.disposed = false;
    worker.onmessage = ({ data: { id, ok, value, error } }) => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      if (ok) p.resolve(value);
      else p.reject(errorFromData(error));
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      this.terminate(new DyceError('DYCE_WORKER_ERROR', `the dyce worker failed: ${event.message ?? 'could not start (is worker.mjs served as JavaScript?)'}`));
    };
  }

  adopt({ config, ...description }) {
    Object.assign(this, description);
    this.current = config;
  }

  request(op, args, transfer = []) {
    if (this.disposed) return Promise.reject(new DyceError('DYCE_BAD_STATE', 'the model was disposed'));
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, op, args }, transfer);
    });
  }

  /** Name of the current configuration, as in DyceModel. */
  get config() {
    return this.current;
  }

  /** As DyceModel.classify; the result's `ms` is measured in the worker. */
  async classify(input, options = {}) {
    if (this.disposed) throw new DyceError('DYCE_BAD_STATE', 'the model was disposed');
    const [message, transfer] = await transferable(input, this.input);
    const result = await this.request('classify', [message, options], transfer);
    this.current = result.config;
    return result;
  }

  /** As DyceModel.setConfig. */
  async setConfig(which) {
    this.current = await this.request('setConfig', [which]);
  }

  /** As DyceModel.setThreads (`threads`, `maxThreads`, `threadsReason` are mirrored). */
  async setThreads(n) {
    this.threads = await this.request('setThreads', [n]);
  }

  /** As DyceModel.threadsReady (and brings threadsReason up to date). */
  get threadsReady() {
    return this.request('threadsReady', []).then(({ started, reason }) => {
      this.threadsReason = reason;
      return started;
    });
  }

  /** Frees the model and ends the worker. Idempotent. */
  async dispose() {
    if (this.disposed) return;
    try {
      await this.request('dispose', []);
    } finally {
      this.terminate(new DyceError('DYCE_BAD_STATE', 'the model was disposed'));
    }
  }

  terminate(reason) {
    this.disposed = true;
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }
}
