import type { ClassifyOptions, Classification, ConfigInfo, CustomConfig, ImageInput, Model, Variant, WorkerLoadOptions } from './index.js';

/**
 * Loads a package in a module Worker; the model's calls travel by
 * postMessage. Relative URLs (source, wasmUrl, wasmPaths) resolve against
 * the page.
 */
export declare function loadInWorker(source: Uint8Array | ArrayBuffer | URL | string, options?: WorkerLoadOptions): Promise<WorkerModel>;

/** The Worker-side model's mirror on the page. */
export declare class WorkerModel implements Model {
  constructor(worker: Worker);
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
  classify(input: ImageInput, options?: ClassifyOptions): Promise<Classification>;
  setConfig(which: string | number | CustomConfig): Promise<void>;
  setThreads(n: number): Promise<void>;
  readonly threadsReady: Promise<number>;
  dispose(): Promise<void>;
  /** Ends the worker; pending calls reject with `reason`. */
  terminate(reason: unknown): void;
}
