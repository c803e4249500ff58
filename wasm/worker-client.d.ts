import type { Model, WorkerLoadOptions } from './index.js';

/** Loads a package in a module Worker; the model's calls travel by postMessage. */
export declare function loadInWorker(source: Uint8Array | ArrayBuffer | URL | string, options?: WorkerLoadOptions): Promise<Model>;
