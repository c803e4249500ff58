// The threaded builds (dyce-mt.wasm, dyce-relaxed-mt.wasm): one instance
// of the module on the engine's thread and one per worker, all on one
// shared memory; the C side hands out parts of large convolutions
// (src/core/pool_wasm.c). Threads need SharedArrayBuffer: always there
// under Node, in browsers only on cross-origin-isolated pages (COOP
// same-origin + COEP require-corp; docs/THREADS.md).
import { DyceError, ownFile, shown } from './errors.mjs';
import { host, isNode } from './io.mjs';
import { ownFileUnderNode } from './own-files.mjs';
import { wasiImports } from './wasi-host.mjs';

// The memory the threaded builds import: 4 MiB at first (--initial-memory
// in CMakeLists.txt), up to 2 GiB (--max-memory), in 64 KiB pages.
export const INITIAL_PAGES = 64;
export const MAX_PAGES = 32768;
// Each worker's stack (the engine's thread has the module's own, 256 KiB).
const STACK_BYTES = 256 * 1024;


/** The threaded build expects the memory from its host. */
export const isThreaded = (module) => WebAssembly.Module.imports(module).some((i) => i.kind === 'memory');

/** Why this host cannot run threads, or null when it can. */
export function threadsUnavailable() {
  if (typeof SharedArrayBuffer !== 'function') {
    if (isNode) return 'this Node has no SharedArrayBuffer';
    // WebKitGTK's MiniBrowser: isolated, yet no SharedArrayBuffer.
    if (globalThis.crossOriginIsolated === true) return 'this browser gives no SharedArrayBuffer, even to a cross-origin-isolated page';
    return 'SharedArrayBuffer is unavailable: the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  }
  if (!isNode && globalThis.crossOriginIsolated === false)
    return 'the page is not cross-origin isolated (serve it with Cross-Origin-Opener-Policy: same-origin and Cross-Origin-Embedder-Policy: require-corp)';
  if (!isNode && typeof Worker !== 'function') return 'this context cannot start Workers';
  return null;
}

/** Atomics.wait is allowed here: Node and workers, not a page's main thread. */
const canBlock = () => isNode || (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope);

/** Cores of this host (browsers: navigator.hardwareConcurrency), or null when it does not say. */
export function hostCores() {
  return globalThis.navigator?.hardwareConcurrency ?? host.cores?.() ?? null;
}

/** Why threads 'auto' gives one thread on this host, or null: it does not say how many cores it has. */
export function autoThreadsReason(threads) {
  if ((threads !== undefined && threads !== 'auto') || hostCores() !== null) return null;
  return 'the host does not say how many cores it has (no navigator.hardwareConcurrency; under Node, import \'dyce\', not \'dyce/browser\'): one thread; threads: n asks for more';
}

/** A worker_threads Worker dressed as the browser Worker this file uses. */
export function nodeThread(WorkerClass, url) {
  const worker = new WorkerClass(url);
  const thread = {
    onmessage: null, onerror: null,
    postMessage: (m) => worker.postMessage(m), terminate: () => worker.terminate(),
    // Once parked in the engine, a thread must not keep the process alive.
    park: () => worker.unref(),
  };
  worker.on('message', (data) => thread.onmessage?.({ data }));
  worker.on('error', (e) => thread.onerror?.({ message: e.message }));
  return thread;
}

function startThread() {
  if (host.startThread) return host.startThread();
  if (isNode) {
    // Imported by path rather than through the package's node entry: reach
    // worker_threads without an import a bundler would follow, and name the
    // Node-only worker relative to a variable, which no bundler follows
    // (a literal would be emitted into browser builds; an expression inside
    // new URL(…, import.meta.url) makes webpack warn "the request of a
    // dependency is an expression").
    const threads = globalThis.process.getBuiltinModule?.('node:worker_threads');
    if (!threads) throw new Error('worker_threads is unreachable (import dyce through its package entry)');
    const here = import.meta.url;
    return nodeThread(threads.Worker, ownFileUnderNode(new URL('./thread-worker-node.mjs', here), 'wasm/thread-worker-node.mjs'));
  }
  return ownFile(() => new Worker(new URL('./thread-worker.mjs', import.meta.url), { type: 'module' }), 'thread worker thread-worker.mjs', 'threads: 1', 'threads');
}

/** Instantiates a threaded build on a new shared memory → { exports, memory }. */
export async function instantiateThreaded(compiled) {
  const memory = new WebAssembly.Memory({ initial: INITIAL_PAGES, maximum: MAX_PAGES, shared: true });
  const instance = await WebAssembly.instantiate(compiled, { env: { memory }, wasi_snapshot_preview1: wasiImports(memory) });
  instance.exports._initialize();
  return { exports: instance.exports, memory };
}

/**
 * Starts `count` workers on an instantiated threaded build, without
 * waiting for them: until a worker has entered the engine, the parts it
 * would take run on the caller (a job never waits for a worker that has
 * not claimed a part), so loading costs no more than on one thread.
 * → { workers (started to start), ready (a promise of { started, error }:
 * each worker entered the engine or failed; error is the first failure),
 * terminate() }.
 */
export function startWorkers(compiled, exports, memory, count) {
  const threads = [];
  const errors = [];
  const starts = [];
  const stopped = []; // each start's resolve: terminate() settles them, so `ready` never hangs
  for (let i = 0; i < count; i++) {
    const stack = exports.malloc(STACK_BYTES);
    if (!stack) {
      errors.push('cannot allocate a worker stack');
      break;
    }
    let thread;
    try {
      thread = startThread();
      const started = new Promise((resolve) => {
        stopped.push(() => resolve(false));
        thread.onmessage = (e) => resolve(e.data.ready ? true : (errors.push(e.data.error), false));
        thread.onerror = (e) => {
          errors.push(`a worker failed: ${e.message ?? 'could not load wasm/thread-worker.mjs'}`);
          resolve(false);
        };
      });
      // Stacks grow down from their top, 16-byte aligned. A browser that
      // cannot send shared memory to a worker throws here (DataCloneError).
      thread.postMessage({ module: compiled, memory, stackTop: (stack + STACK_BYTES) & ~15 });
      threads.push(thread);
      starts.push(started);
    } catch (e) {
      errors.push(`cannot start a worker: ${e.message ?? e}`);
      thread?.terminate();
      exports.free(stack);
      break;
    }
  }
  exports.dyce_wasm_set_workers(threads.length, canBlock() ? 1 : 0);
  const ready = Promise.all(starts).then((oks) => {
    threads.forEach((t) => t.park?.());
    const started = oks.filter(Boolean).length;
    // Sessions planned for more threads stay correct (the caller takes
    // the parts nobody claims); new ones see the true count.
    if (started < threads.length) exports.dyce_wasm_set_workers(started, canBlock() ? 1 : 0);
    return { started, error: errors[0] ?? null };
  });
  return {
    workers: threads.length,
    error: errors[0] ?? null,
    ready,
    terminate: () => {
      threads.forEach((t) => t.terminate());
      stopped.forEach((stop) => stop()); // no-ops for the workers that had started
    },
  };
}

/**
 * `count` workers for an instantiated threaded build, started only when
 * first needed (start(), or reading `ready`): the engine's sessions plan
 * for them from the start, and until they run, the caller takes every
 * part. A model that splits nothing — every shipped package, which is
 * under the 100 M MACs floor (THREADS.md) — never starts a worker: no
 * isolate booting on the other core while the page loads, no memory for
 * it. → { workers, error, start(), ready, terminate() } as startWorkers.
 */
export function lazyWorkers(compiled, exports, memory, count) {
  exports.dyce_wasm_set_workers(count, canBlock() ? 1 : 0);
  let pool = null;
  const stopped = { workers: 0, ready: Promise.resolve({ started: 0, error: null }), terminate() {} };
  return {
    workers: count,
    error: null,
    start: () => (pool ??= startWorkers(compiled, exports, memory, count)),
    get ready() {
      return this.start().ready;
    },
    terminate() {
      pool?.terminate();
      pool ??= stopped; // never started after this
    },
  };
}

/** Threads asked for in load()/createEngine() options → a count ≥ 1, or a DyceError. */
export function threadsWanted(threads) {
  if (threads === undefined || threads === 'auto') return Math.max(1, Math.min(4, hostCores() ?? 1));
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new DyceError('DYCE_INVALID_ARGUMENT', `threads must be 'auto' or a whole number from 1 to 64, not ${shown(threads)}`, { field: 'threads' });
  return threads;
}
