// The dyce API with the engine in a Worker: `loadInWorker(source, options)`
// resolves to a model shaped like index.mjs's DyceModel (configs, labels,
// input, classify, setConfig, dispose) whose calls travel by postMessage,
// so inference never blocks the page's main thread.
import { DyceError, errorFromData, ownFile } from './errors.mjs';
import { isResponse, readResponse, resolveUrl } from './io.mjs';
import { checkOptions, deepFreeze, LOAD_OPTIONS } from './options.mjs';
import { classifiable, closedOrBad, copied, decodeInput, drawnPicture, emptySource, isA, needsDecoding, pixelChannels, snapshotBytes, sourceSize, unclassifiable } from './preprocess.mjs';

const DRAWABLES = ['HTMLCanvasElement', 'OffscreenCanvas', 'HTMLVideoElement', 'HTMLImageElement'];

/**
 * What to post for `input`, taken when classify() is called: a page may
 * draw its next picture into the same canvas or buffer right after the
 * call, while this one waits for the calls before it. Elements cannot
 * cross threads, so they are drawn here at the model's size as the main
 * thread draws them, before this returns (an <img> still loading is
 * awaited first; its picture does not change under the caller). A VideoFrame is cloned (the caller may close
 * it), an ImageBitmap copied; the bytes of pixel data and tensors are
 * copied. Anything else (a Blob or File: the worker decodes it) is
 * structured-cloned as it is. Resolves to [message, transfer, done?]:
 * `done` releases what was made for the call once it is posted.
 */
function transferable(input, dims) {
  try {
    if (isA(input, ...DRAWABLES)) {
      if (needsDecoding(input)) return decodeInput(input).then((d) => picture(d.input, dims));
      return picture(input, dims);
    }
    // As on the main thread: a closed frame or bitmap has no pixels.
    if (isA(input, 'VideoFrame', 'ImageBitmap')) {
      const { width, height } = sourceSize(input);
      if (!(width > 0 && height > 0)) throw emptySource(input);
    }
    if (isA(input, 'VideoFrame')) {
      const frame = copied(() => input.clone(), input);
      return Promise.resolve([frame, [], () => frame.close()]);
    }
    if (isA(input, 'ImageBitmap'))
      return copied(() => createImageBitmap(input), input).then((b) => [b, [b]], (e) => { throw closedOrBad(e, input); });
    // Checked here too: Chromium posts an ImageData whose buffer was
    // transferred away as a null message, which the worker cannot answer.
    if (input?.data !== undefined && input.width !== undefined) pixelChannels(input);
    // What no path takes (a <div>, a Response…) is said as the main thread says it.
    if (!classifiable(input)) throw unclassifiable(input);
    return Promise.resolve([snapshotBytes(input), []]);
  } catch (e) {
    return Promise.reject(e);
  }
}

/**
 * Drawable `source` (a canvas, a video, an <img>) as the model takes it:
 * drawn here at the model's size as the main thread's classify draws it,
 * and its bytes sent. Not createImageBitmap's crop-and-resize: Firefox
 * resamples differently there than in drawImage, so a picture answered
 * otherwise in the Worker than on the main thread (another exit, another
 * score), and an <img> of an SVG picture was drawn at half size.
 */
function picture(source, dims) {
  const drawn = drawnPicture(source, dims.width, dims.height);
  return Promise.resolve([drawn, [drawn.data.buffer]]);
}

/** Is `x` an ImageBitmap of cross-origin pixels (reading them is a SecurityError)? */
function tainted(x) {
  if (typeof ImageBitmap === 'undefined' || !(x instanceof ImageBitmap)) return false;
  try {
    const ctx = new OffscreenCanvas(1, 1).getContext('2d');
    ctx.drawImage(x, 0, 0, 1, 1);
    ctx.getImageData(0, 0, 1, 1);
    return false;
  } catch (e) {
    return e?.name === 'SecurityError';
  }
}

/**
 * `x` resolved against the page (a Worker would resolve it against its own
 * script), as a string (URL objects cannot be posted). A file path, in a
 * runtime with both Workers and a file system (Bun, Deno), stays a path:
 * the worker's load() reads it as load() here would (same working
 * directory); there is no page to resolve it against. `field` names the
 * option in the error for a string that resolves to no URL.
 */
function absolute(x, field) {
  try {
    return resolveUrl(x);
  } catch (e) {
    throw new DyceError('DYCE_INVALID_ARGUMENT', `cannot resolve ${field} '${String(x)}' to a URL${globalThis.location ? '' : ' (there is no page URL to resolve it against: give an absolute URL)'}`, { field, cause: e });
  }
}

/** load()'s options as the worker must see them: URLs absolute strings, wasmPaths tables included. */
function postableOptions(options) {
  const o = { ...options };
  if (o.wasmUrl !== undefined) o.wasmUrl = absolute(o.wasmUrl, 'wasmUrl');
  if (o.wasmPaths !== undefined && o.wasmPaths !== null) {
    o.wasmPaths = typeof o.wasmPaths === 'object' && !(o.wasmPaths instanceof URL)
      ? Object.fromEntries(Object.entries(o.wasmPaths).map(([file, url]) => [file, absolute(url, `wasmPaths['${file}']`)]))
      : absolute(String(o.wasmPaths).replace(/\/?$/, '/'), 'wasmPaths');
  }
  return o;
}

/** What to post for load's `source`: a Response is read here (it cannot be posted), a URL made absolute. */
async function postableSource(source) {
  if (typeof source === 'string' || source instanceof URL) return absolute(source, 'source');
  if (isResponse(source)) return readResponse(source, 'model package');
  return source; // bytes are copied, a Blob or File is read in the worker
}

/**
 * Starts a module Worker and loads a package in it. `source` as for
 * index.mjs's load (bytes are copied into the worker; a URL is fetched
 * there, a Blob read there; a Response is read here). Options:
 * `workerUrl` (default: ./worker.mjs next to this file, named literally
 * so that bundlers build and emit the worker) plus load()'s (`config`,
 * `threads`, `splitMinMacs`, `variant`, `wasmPaths`, `wasmUrl`,
 * `wasmBinary`; an unknown one is refused); relative URLs resolve
 * against the page.
 */
export async function loadInWorker(source, options) {
  const { workerUrl, ...loadOptions } = checkOptions(options, [...LOAD_OPTIONS, 'workerUrl'], 'loadInWorker()');
  if (typeof Worker === 'undefined')
    throw new DyceError('DYCE_UNSUPPORTED', 'loadInWorker() needs the Web Worker API (browsers); under Node use load(), which runs its threads in worker_threads itself');
  const src = await postableSource(source);
  const worker = workerUrl
    ? new Worker(workerUrl, { type: 'module' })
    : ownFile(() => new Worker(new URL('./worker.mjs', import.meta.url), { type: 'module' }), 'worker script worker.mjs', 'workerUrl');
  const client = new WorkerModel(worker, workerUrl === undefined ? undefined : absolute(workerUrl, 'workerUrl'));
  try {
    // Bytes read here from a Response are ours: moved, not copied.
    const transfer = isResponse(source) ? [src.buffer] : [];
    client.adopt(await client.request('load', [src, postableOptions(loadOptions)], transfer));
  } catch (e) {
    client.terminate(e);
    if (e instanceof DyceError && isResponse(source) && source.url) e.url ??= source.url;
    throw e;
  }
  return client;
}

export class WorkerModel {
  /** `workerUrl`: where the worker's script came from, for errors (default: the bundled worker.mjs). */
  constructor(worker, workerUrl) {
    this.worker = worker;
    this.pending = new Map();
    this.nextId = 1;
    this.closed = false; // the worker ended (disposed or terminated)
    /** Why the model ended (terminate's reason), for the calls made after; null: disposed. */
    this.endReason = null;
    this.disposing = null;
    // Requests are posted in the order they were made, also while a
    // picture becomes a bitmap here (see send), so the worker runs them so.
    this.sending = Promise.resolve();
    worker.onmessage = ({ data: { id, ok, value, error } }) => {
      const p = this.pending.get(id);
      if (!p) return;
      this.pending.delete(id);
      this.hold();
      if (ok) p.resolve(value);
      else p.reject(errorFromData(error));
    };
    worker.onerror = (event) => {
      event.preventDefault?.();
      const script = workerUrl ?? 'worker.mjs';
      // A browser says nothing of why a worker script failed to load: name
      // the usual causes. On a cross-origin-isolated page the script needs
      // COEP (or CORP) headers of its own (net::ERR_BLOCKED_BY_RESPONSE).
      const isolated = globalThis.crossOriginIsolated === true
        ? `; on this cross-origin-isolated page it must be served with Cross-Origin-Embedder-Policy: require-corp (or Cross-Origin-Resource-Policy) too${workerUrl ? '' : ', as must the page\'s other scripts'}` : '';
      const where = workerUrl ? '' : ' (the worker.mjs of dyce\'s wasm folder, as your bundler emitted it; workerUrl names another)';
      this.terminate(new DyceError('DYCE_WORKER_ERROR', `the dyce worker ${script}${where} failed: ${event.message ?? `could not start (is ${script} served as JavaScript, status 200${isolated}?)`}`, { url: workerUrl }));
    };
  }

  /**
   * Where a Worker can be ref'd and unref'd (Bun's, as Node's
   * worker_threads), it keeps the process alive only while a call waits
   * for it: a script that forgot dispose() still ends, as with load(),
   * whose threads are unref'd. Browsers have neither method; Deno has
   * neither (there, dispose() ends the worker).
   */
  hold() {
    if (this.pending.size) this.worker.ref?.();
    else this.worker.unref?.();
  }

  adopt({ config, ...description }) {
    Object.assign(this, deepFreeze(description));
    this.current = config;
  }

  /** The error for a call on an ended model: terminate's reason, else DYCE_BAD_STATE. */
  ended() {
    return this.endReason ?? new DyceError('DYCE_BAD_STATE', 'the model was disposed');
  }

  /** True once dispose() has been called (as DyceModel), or the worker ended. */
  get disposed() {
    return this.closed || !!this.disposing;
  }

  request(op, args, transfer = []) {
    if (this.disposed) return Promise.reject(this.ended());
    return new Promise((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.hold();
      try {
        this.worker.postMessage({ id, op, args }, transfer);
      } catch (e) {
        this.pending.delete(id);
        this.hold();
        // A bitmap of a cross-origin picture may not leave this thread.
        const foreign = transfer.some(tainted);
        for (const x of transfer) x?.close?.(); // a bitmap made for this call, not sent
        if (foreign) {
          reject(new DyceError('DYCE_CROSS_ORIGIN', 'cannot read the pixels of a cross-origin image: the server must allow it (Access-Control-Allow-Origin) and the page must ask (img.crossOrigin = \'anonymous\' before setting src)', { field: 'input', cause: e }));
          return;
        }
        // A function in the options, a DOM node as input…: not for a worker.
        reject(new DyceError('DYCE_INVALID_ARGUMENT', `cannot send ${op}()'s arguments to the worker: ${e?.message ?? e}`, { field: op === 'classify' ? 'input' : 'options', cause: e }));
      }
    });
  }

  /**
   * request(op, …) with the arguments `prepare()` resolves to ([args,
   * transfer]), posted after every earlier call's: the worker sees calls
   * in the order they were made.
   */
  send(op, prepare) {
    const reply = this.sending.then(async () => {
      const [args, transfer, done] = await prepare();
      try {
        return { answer: this.request(op, args, transfer) };
      } finally {
        done?.();
      }
    });
    this.sending = reply.then(() => {}, () => {});
    return reply.then(({ answer }) => answer);
  }

  /** Name of the current configuration, as in DyceModel. */
  get config() {
    return this.current;
  }

  /** As DyceModel.classify; the result's `ms` is measured in the worker. */
  async classify(input, options) {
    if (this.disposed) throw this.ended();
    let result;
    try {
      // The picture is taken now, though posted after the earlier calls.
      const taken = transferable(input, this.input);
      taken.catch(() => {}); // its error is the call's, below
      result = await this.send('classify', async () => {
        const [message, transfer, done] = await taken;
        return [[message, options], transfer, done];
      });
    } catch (e) {
      // The worker cannot know the address of the <img> it got as a bitmap.
      if (e instanceof DyceError && e.field === 'input' && input?.currentSrc) e.url ??= input.currentSrc;
      throw e;
    }
    this.current = result.config;
    return result;
  }

  /** As DyceModel.setConfig. */
  async setConfig(which) {
    this.current = await this.send('setConfig', () => [[which], []]);
  }

  /** As DyceModel.setThreads (`threads`, `maxThreads`, `threadsReason` are mirrored). */
  async setThreads(n) {
    this.threads = await this.send('setThreads', () => [[n], []]);
  }

  /** As DyceModel.threadsReady (and brings threadsReason, threads and maxThreads up to date). */
  get threadsReady() {
    return this.request('threadsReady', []).then(({ started, reason, threads, maxThreads }) => {
      Object.assign(this, { threadsReason: reason, threads, maxThreads });
      return started;
    });
  }

  /**
   * Frees the model and ends the worker after the calls already posted to
   * it; calls still preparing their picture here then reject with
   * DYCE_BAD_STATE, as in DyceModel. Idempotent (a second call waits for the first).
   */
  async dispose() {
    if (this.disposing) return this.disposing;
    if (this.closed) return;
    this.disposing = this.request('dispose', []).catch(() => {}).finally(() => {
      this.terminate(null);
      this.threads = 0;
    });
    return this.disposing;
  }

  /** Ends the worker; pending calls, and those still being prepared, reject with `reason` (null: DYCE_BAD_STATE). */
  terminate(reason) {
    if (this.closed) return;
    this.endReason = reason;
    reason ??= this.ended();
    this.closed = true;
    this.worker.terminate();
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }
}
