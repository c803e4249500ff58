import type { ClassifyOptions, Classification, ConfigInfo, CustomConfig, ImageInput, Model, Variant, WorkerLoadOptions } from './index.js';

/**
 * Loads a package in a module Worker; the model's calls travel by
 * postMessage. Relative URLs (source, wasmUrl, wasmPaths) resolve against
 * the page; a Blob or File is read in the worker, a Response here. Errors
 * as load()'s; an unknown option is refused before the worker starts.
 * Needs the Web Worker API (browsers, Bun, Deno): under Node it is
 * DYCE_UNSUPPORTED; use load(), whose threads already run in worker_threads.
 */
export declare function loadInWorker(source: Uint8Array | ArrayBuffer | Blob | Response | URL | string, options?: WorkerLoadOptions | null): Promise<WorkerModel>;

// Declared as the DOM library does (the members used here), so that a
// project without it (Node only) compiles; with it, it merges unchanged.
declare global {
  interface Worker { terminate(): void }
}

/** The Worker-side model's mirror on the page. */
export declare class WorkerModel implements Model {
  constructor(worker: Worker);
  /** The Worker itself. End it with `terminate()` or `dispose()`, not
   * `worker.terminate()`: a Worker ended directly tells nobody, so calls in
   * flight would never settle. */
  readonly worker: Worker;
  readonly configs: readonly ConfigInfo[];
  readonly levels: readonly string[];
  readonly labels: readonly string[];
  readonly input: Model['input'];
  readonly backboneMacs: number;
  readonly variant: Variant;
  readonly dtype: 'float32' | 'int8';
  readonly config: string | null;
  readonly defaultConfig: number | null;
  readonly disposed: boolean;
  readonly threads: number;
  readonly maxThreads: number;
  readonly threadsReason: string | null;
  readonly splitMinMacs: number;
  /** As Model.classify; an <img> or canvas becomes a bitmap here, a Blob is decoded in the worker. */
  classify(input: ImageInput, options?: ClassifyOptions | null): Promise<Classification>;
  setConfig(which: string | number | CustomConfig): Promise<void>;
  setThreads(n: number): Promise<void>;
  readonly threadsReady: Promise<number>;
  dispose(): Promise<void>;
  /** Ends the worker; pending calls reject with `reason` (omitted or null: a DYCE_BAD_STATE DyceError). */
  terminate(reason?: unknown): void;
}
