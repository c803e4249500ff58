// The Worker side of ./worker-client.mjs: one model per worker, requests
// handled one at a time in arrival order (a classify sent right after
// load waits for it). Replies {id, ok, value} or {id, ok: false, error}.
import { DyceError, errorToData } from './errors.mjs';
import { load } from './index.mjs';
import { decodeInput } from './preprocess.mjs';

let model = null;
let queue = Promise.resolve();

/** The plain-data description the client mirrors. */
function describe(m) {
  return {
    configs: m.configs, levels: m.levels, labels: m.labels, input: m.input, backboneMacs: m.backboneMacs,
    variant: m.variant, dtype: m.dtype, config: m.config, defaultConfig: m.defaultConfig,
    threads: m.threads, maxThreads: m.maxThreads, threadsReason: m.threadsReason,
    splitMinMacs: m.splitMinMacs,
  };
}

const handlers = {
  async load(source, options) {
    if (model) throw new DyceError('DYCE_BAD_STATE', 'this worker already holds a model');
    model = await load(source, options);
    return describe(model);
  },
  async classify(input, options) {
    try {
      // A Blob or File (an encoded image) is decoded here, off the page's thread.
      const decoded = await decodeInput(input);
      try {
        return model.classifyNow(decoded.input, options);
      } finally {
        decoded.close();
      }
    } finally {
      // Frames and bitmaps posted here are copies the client gave away.
      if (typeof input?.close === 'function') input.close();
    }
  },
  setConfig(which) {
    model.setConfigNow(which);
    return model.config;
  },
  setThreads(n) {
    model.setThreadsNow(n);
    return model.threads;
  },
  async threadsReady() {
    const started = await model.threadsReady;
    // workers that could not start lower these: the page's mirror follows
    return { started, reason: model.threadsReason, threads: model.threads, maxThreads: model.maxThreads };
  },
  async dispose() {
    await model?.dispose();
    model = null;
  },
};

self.onmessage = ({ data: { id, op, args } }) => {
  queue = queue.then(async () => {
    try {
      if (!handlers[op]) throw new DyceError('DYCE_INVALID_ARGUMENT', `unknown request '${op}'`);
      if (op !== 'load' && op !== 'dispose' && !model) throw new DyceError('DYCE_BAD_STATE', 'no model loaded');
      self.postMessage({ id, ok: true, value: await handlers[op](...args) });
    } catch (e) {
      self.postMessage({ id, ok: false, error: errorToData(e) });
    }
  });
};
