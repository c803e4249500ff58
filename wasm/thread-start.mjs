// What a dyce thread does once its worker has the module and the memory
// (wasm/threads.mjs): instantiate the threaded build on the shared memory,
// take its own stack, say so, and enter the engine's worker loop, which
// never returns (src/core/pool_wasm.c). Shared by the browser worker
// (thread-worker.mjs) and the Node one (thread-worker-node.mjs).

import { wasiImports } from './wasi-host.mjs';

/** data: { module, memory, stackTop }; post(message) reaches the engine's thread. */
export function runThread(data, post) {
  let exports;
  try {
    const instance = new WebAssembly.Instance(data.module, { env: { memory: data.memory }, wasi_snapshot_preview1: wasiImports(data.memory) });
    exports = instance.exports;
    exports.__stack_pointer.value = data.stackTop;
  } catch (e) {
    post({ error: `cannot instantiate the engine in a worker: ${e.message ?? e}` });
    return;
  }
  post({ ready: true });
  exports.dyce_wasm_thread_main();
}
