// A Node realm of threads.mjs: one worker thread holding one (runtime,
// threads) runner (realm_runner.mjs), called by messages
// { id, cmd, args } → { id, result } or { id, error }; `loadModel`
// reads build/benchmodels itself (workerData.dir).
import { parentPort, workerData } from 'node:worker_threads';

import { readModel } from './model_files.mjs';
import { createRunner } from './realm_runner.mjs';

const cpuMs = () => {
  const u = process.cpuUsage(); // the whole process: every thread of every runtime
  return (u.user + u.system) / 1000;
};
const runner = createRunner(workerData.runtime, workerData.threads, { cpuMs, splitMinMacs: workerData.splitMinMacs });
runner.loadModel = (name) => runner.load(readModel(workerData.dir, name));

parentPort.on('message', async ({ id, cmd, args }) => {
  try {
    parentPort.postMessage({ id, result: await runner[cmd](...args) });
  } catch (e) {
    parentPort.postMessage({ id, error: e?.message ?? String(e) });
  }
});
