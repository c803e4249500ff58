// One (runtime, thread count) in its own realm — a Node worker thread
// (threads_worker.mjs) or a page's iframe (isolated_server.mjs) — driven by
// threads.mjs, which interleaves the realms' runs. Every time is taken
// here, inside the realm, so the driver's messages are not in it.
import { RUNTIMES } from './runtimes.mjs';

/**
 * cpuMs: this host's process CPU clock in ms (Node: process.cpuUsage,
 * which counts every thread), or null where the driver measures CPU
 * from outside (pages); splitMinMacs: dyce's (undefined: the engine's).
 */
export function createRunner(runtime, threads, { cpuMs = null, splitMinMacs } = {}) {
  if (!RUNTIMES[runtime]) throw new Error(`unknown runtime ${runtime}`);
  let r = null;
  return {
    /** Loads a model (runtimes.mjs `files`) → the threads the runtime reports it runs on. */
    async load(files) {
      r = await RUNTIMES[runtime].load(files, { threads, splitMinMacs });
      return { threads: r.threads(), note: r.threadsNote() };
    },
    /** At least `runs` runs and `ms` milliseconds (JIT tiers, caches, thread pools). */
    async warm(runs, ms) {
      const start = performance.now();
      for (let i = 0; i < runs || performance.now() - start < ms; i++) await r.run();
    },
    /** One timed run → ms. */
    async run() {
      const t0 = performance.now();
      await r.run();
      return performance.now() - t0;
    },
    /** Back-to-back runs for at least `ms` → { runs, wallMs, cpuMs } (cpuMs null: measured outside). */
    async batch(ms) {
      const c0 = cpuMs?.(), t0 = performance.now();
      let runs = 0;
      while (runs < 3 || performance.now() - t0 < ms) {
        await r.run();
        runs++;
      }
      const wallMs = performance.now() - t0;
      return { runs, wallMs, cpuMs: cpuMs ? cpuMs() - c0 : null };
    },
    /** The output of one more run, as a plain array (it crosses realms). */
    async output() {
      return Array.from(await r.run());
    },
    free() {
      r?.free();
      r = null;
    },
  };
}
