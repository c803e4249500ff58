// The dyce API with the engine in a Worker: `loadInWorker(source, options)`
// resolves to a model shaped like index.mjs's DyceModel (configs, labels,
// input, classify, setConfig, dispose) whose calls travel by postMessage,
// so inference never blocks the page's main thread.
import { DyceError } from './engine.mjs';
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

/**
 * Starts a module Worker and loads a package in it. `source` as for
 * index.mjs's load (bytes are copied into the worker; a URL is fetched
 * there). Options: `workerUrl` (default: ./worker.mjs next to this file)
 * plus load()'s (`config`, `variant`, `wasmUrl`, `wasmBinary`).
 */
export async function loadInWorker(source, options = {}) {
  const { workerUrl = new URL('./worker.mjs', import.meta.url), ...loadOptions } = options;
  const worker = new Worker(workerUrl, { type: 'module' });
  const client = new WorkerModel(worker);
  try {
    // The worker resolves relative URLs against its own script: resolve here.
    const src = typeof source === 'string' || source instanceof URL ? new URL(source, globalThis.location?.href).href : source;
    client.adopt(await client.request('load', [src, loadOptions]));
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
      else p.reject(new DyceError(error.code, error.message));
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
