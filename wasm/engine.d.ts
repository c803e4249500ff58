// Types of dyce's low-level binding (wasm/engine.mjs, `dyce/engine`).
import type { DyceError, LoadOptions, Variant } from './index.js';

export { DyceError, Variant };

/** The best wasm build this host can run. */
export declare function detectVariant(): Variant;

/** The .wasm file of each build (the keys of a `wasmPaths` table). */
export declare const WASM_FILES: Readonly<Record<Variant | 'relaxed-mt' | 'simd-mt', string>>;

export type EngineOptions = Pick<LoadOptions, 'variant' | 'threads' | 'wasmPaths' | 'wasmUrl' | 'wasmBinary'>;

/** Compiles and instantiates the wasm module (see LoadOptions for where it comes from). */
export declare function createEngine(options?: EngineOptions): Promise<Engine>;

/** One instance of the wasm module; holds any number of models. */
export declare class Engine {
  /** The build that runs. */
  variant: Variant;
  /** Threads a model may run on: 1 + the workers that started. */
  maxThreads: number;
  /** The threaded build runs (even if no worker started). */
  threaded: boolean;
  /** Why maxThreads is 1 or fewer than asked for, or null. */
  threadsReason: string | null;
  /**
   * Resolves to the number of workers that entered the engine; until then their parts run on the
   * caller. They start when a model first splits a node (startThreads), or when this is read.
   */
  readonly threadsReady: Promise<number>;
  /** Starts the workers (once; a model of this engine splits a node). */
  startThreads(): void;
  /** Stops the worker threads; models run on one thread after. */
  dispose(): void;
  /** Loads a .dyce package from its bytes (copied; the caller keeps them). */
  loadModel(bytes: Uint8Array | ArrayBuffer): Model;
  /**
   * Loads the package already in wasm memory at `ptr` (`length` bytes,
   * allocated by heap().alloc), which the engine owns from then on, loaded
   * or refused.
   */
  loadModelAt(ptr: number, length: number): Model;
  /**
   * The engine's heap, for writing a download straight into wasm memory:
   * `alloc` answers 0 when out of memory; `bytes()` is the current view
   * (it changes when the memory grows).
   */
  heap(): { alloc(n: number): number; free(ptr: number): void; bytes(): Uint8Array };
  /**
   * Runs every kernel family `rounds` times on small synthetic tensors, so
   * that a JIT which optimises code by use (V8) has optimised them before
   * the first inference; for time spent waiting anyway (load() does it
   * while the package downloads). Keeps a ~200 KB buffer until endWarmUp().
   */
  warmUp(rounds?: number): void;
  /** Frees the buffer warmUp() kept. */
  endWarmUp(): void;
}

export interface GraphInfo {
  readonly name: string;
  /** Index of the graph whose output this one reads; −1 for the package input. */
  readonly source: number;
  readonly macs: number;
  /** Output shape, NHWC. */
  readonly outputDims: number[];
  /** Nodes that run on int8 tensors (docs/INT8.md). */
  readonly int8Nodes: number;
  /** The output's type; output() dequantizes an int8 one. */
  readonly outputType: 'float32' | 'int8';
}

export interface CascadeConfig {
  name: string;
  /** What the search measured on val; -1 when not measured (the fixed-cost `backbone` configurations; the high-level API says null). */
  accuracy: number;
  /** Mean MACs per sample as the search measured them; -1 when not measured. */
  meanMacs: number;
  confidence: 'max_softmax' | 'margin' | 'entropy'; level: string;
  saver: string | null; saverThreshold: number;
  exits: (string | null)[]; thresholds: number[];
}

export interface EngineClassification {
  index: number; label: string; score: number; confidence: number;
  /** The graph that answered. */
  exit: string; position: number; macs: number; ms: number; budgetExhausted: boolean;
}

/** A loaded package and its session. Inputs are normalised Float32Array tensors. */
export declare class Model {
  readonly engine: Engine;
  readonly graphs: readonly GraphInfo[];
  /** 'int8' when any node runs on int8 tensors, else 'float32'. */
  readonly dtype: 'float32' | 'int8';
  /** [1, height, width, channels]. */
  readonly inputDims: number[];
  readonly inputCount: number;
  readonly labels: string[];
  readonly weightBytes: number;
  readonly arenaBytes: number;
  readonly levels: { name: string; macs: Record<string, number> }[];
  readonly cascade: {
    stageCount: number; head: string | null; savers: (string | null)[];
    exits: (string | null)[][]; configs: CascadeConfig[];
  } | null;
  /** x = (pixel · pixelScale − mean[c]) / std[c]. */
  readonly inputSpec: { pixelScale: number; mean: number[]; std: number[] };
  readonly configs: CascadeConfig[];
  /** Threads the model runs on. */
  readonly threads: number;
  /** Convolutions that run split across threads. */
  readonly splitNodes: number;
  /** Of those, the nodes that run in the parts of the node before them, with no wait between. */
  readonly chainedNodes: number;
  /** A model whose costliest answer takes fewer MACs splits nothing (default 100e6). */
  readonly splitMinMacs: number;
  /** Sets that floor (finite, >= 0; 0: every model splits); replans the working memory when threaded. */
  setSplitMinMacs(macs: number): void;
  /** 1 .. engine.maxThreads; replans the working memory. */
  setThreads(n: number): void;
  useConfig(which: number | string): void;
  setConfig(config: import('./index.js').CustomConfig): void;
  classify(input: Float32Array, options?: { layout?: 'nchw' | 'nhwc'; deadlineMs?: number; macBudget?: number }): EngineClassification;
  /** Runs one graph (default "head" or the last) and returns a copy of its output (NHWC). */
  run(input: Float32Array, options?: { graph?: string | number; layout?: 'nchw' | 'nhwc' }): Float32Array;
  /** A copy of a graph's output from the last run or classify (NHWC), without running anything. */
  output(graph: string | number): Float32Array;
  graphIndex(name: string): number;
  free(): void;
}
