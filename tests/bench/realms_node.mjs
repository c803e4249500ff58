// The Node host of threads.mjs: each (runtime, threads) in its own worker
// thread (threads_worker.mjs), because onnxruntime-web and
// tfjs-backend-wasm take one thread count per realm (runtimes.mjs).
import os from 'node:os';
import { Worker } from 'node:worker_threads';

import { realmApi } from './realm_api.mjs';

/** A worker realm → { runtime, threads, loadModel(name), warm, run, batch, output, free, close }. */
function nodeRealm(runtime, threads, splitMinMacs, dir) {
  const worker = new Worker(new URL('./threads_worker.mjs', import.meta.url), { workerData: { runtime, threads, splitMinMacs, dir } });
  const pending = new Map();
  let next = 0, dead = null;
  const failAll = (why) => {
    dead = why;
    for (const { reject } of pending.values()) reject(new Error(why));
    pending.clear();
  };
  worker.on('message', ({ id, result, error }) => {
    const p = pending.get(id);
    pending.delete(id);
    if (error !== undefined) p.reject(new Error(error));
    else p.resolve(result);
  });
  worker.on('error', (e) => failAll(`the worker failed: ${e.message}`));
  worker.on('exit', (code) => failAll(`the worker exited (${code})`));
  const call = (cmd, ...args) => (dead ? Promise.reject(new Error(dead)) : new Promise((resolve, reject) => {
    pending.set(++next, { resolve, reject });
    worker.postMessage({ id: next, cmd, args });
  }));
  return { ...realmApi(call, runtime, threads), close: () => worker.terminate() };
}

export async function openNodeRealms(configs, { dir }) {
  const realms = configs.map(({ runtime, threads, splitMinMacs }) => nodeRealm(runtime, threads, splitMinMacs, dir));
  return {
    host: 'node',
    about: `Node ${process.version}, ${os.cpus()[0].model}, ${os.cpus().length} cores; a worker thread per runtime and thread count`,
    realms,
    /** `ms` of one realm's runs back to back → CPU time / wall time (process.cpuUsage counts all threads), ms per run. */
    async alone(realm, ms) {
      const b = await realm.batch(ms);
      return { cpuOverWall: b.cpuMs / b.wallMs, msPerRun: b.wallMs / b.runs };
    },
    close: () => Promise.all(realms.map((r) => r.close())),
  };
}
