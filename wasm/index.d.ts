// Types of dyce's user-facing module (wasm/index.mjs) and its Worker
// mirror (wasm/worker-client.mjs).

/** An error from dyce: `code` is the engine's status name, e.g. "DYCE_BAD_FORMAT". */
export declare class DyceError extends Error {
  readonly code:
    | 'DYCE_INVALID_ARGUMENT' | 'DYCE_BAD_FORMAT' | 'DYCE_UNSUPPORTED' | 'DYCE_LIMIT'
    | 'DYCE_OUT_OF_MEMORY' | 'DYCE_NOT_FOUND' | 'DYCE_BAD_INPUT' | 'DYCE_BAD_STATE'
    | 'DYCE_WORKER_ERROR' | 'DYCE_INTERNAL' | (string & {});
}

/** Which wasm build runs: relaxed SIMD, SIMD128, or none (old browsers). */
export type Variant = 'relaxed' | 'simd' | 'nosimd';

export interface LoadOptions {
  /** Configuration to start with (name or index); default: the most accurate measured one. */
  config?: string | number;
  /** The wasm build; default: the best this host validates. */
  variant?: Variant;
  /** Where that build's .wasm is; default: next to the module (`new URL(…, import.meta.url)`). */
  wasmUrl?: string | URL;
  /** The .wasm bytes themselves. */
  wasmBinary?: Uint8Array | ArrayBuffer;
}

export interface WorkerLoadOptions extends LoadOptions {
  /** Where worker.mjs is; default: next to worker-client.mjs. */
  workerUrl?: string | URL;
}

/** A shipped configuration: which exits are on, and what the search measured. */
export interface ConfigInfo {
  readonly index: number;
  readonly name: string;
  /** Top-1 accuracy on the validation split, or null when not measured (e.g. "backbone"). */
  readonly accuracy: number | null;
  /** Mean MACs per input on the validation split, or null when not measured. */
  readonly meanMacs: number | null;
  /** MACs when every enabled classifier runs (the worst case). */
  readonly maxMacs: number;
  readonly saver: string | null;
  readonly saverThreshold: number;
  /** Exit graph per backbone position (1…S), or null. */
  readonly exits: readonly (string | null)[];
  readonly thresholds: readonly number[];
  readonly confidence: 'max_softmax' | 'margin' | 'entropy';
  /** Width level (REDS nested subnetwork) the configuration runs at. */
  readonly level: string;
}

/** A custom configuration table for setConfig. */
export interface CustomConfig {
  saver?: string | null;
  saverThreshold?: number;
  exits?: (string | null)[];
  thresholds?: number[];
  confidence?: 'max_softmax' | 'margin' | 'entropy';
  /** Width level by name or index (default 0, the full network). */
  level?: string | number;
}

/** ImageData or anything shaped like it (RGBA bytes). */
export interface PixelData {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
}

export type ImageInput =
  | PixelData | ImageBitmap | VideoFrame | OffscreenCanvas
  | HTMLCanvasElement | HTMLVideoElement | HTMLImageElement
  /** The normalised input tensor itself (1×C×H×W, or 1×H×W×C with layout "nhwc"). */
  | Float32Array;

export interface ClassifyOptions {
  /** Switch to this configuration first (O(1)); it stays current. */
  config?: string | number;
  /** Anytime mode: once this many ms have passed, stop before the next graph. */
  deadlineMs?: number;
  /** Anytime mode: stop before a graph that would spend more MACs than this. */
  macBudget?: number;
  /** How many classes `top` lists (default 3). */
  topK?: number;
  /** Layout of a Float32Array input (default "nchw"). */
  layout?: 'nchw' | 'nhwc';
  /** Map each pixel p to 255 − p first (dark objects on light backgrounds). */
  invert?: boolean;
}

export interface Classification {
  label: string;
  index: number;
  /** Top-1 softmax probability of the classifier that answered. */
  score: number;
  top: { index: number; label: string; score: number }[];
  /** The graph that answered: "saver0", "exit3_b", "head", … */
  exit: string;
  /** 0 the saver, p the exit after stage p, S + 1 the head. */
  position: number;
  /** MACs of exactly the graphs that ran. */
  macs: number;
  /** Preprocessing and cascade, in the thread that ran them. */
  ms: number;
  /** The configuration used. */
  config: string | null;
  /** The deadline or MAC budget stopped the cascade early. */
  budgetExhausted: boolean;
}

export interface Model {
  readonly configs: readonly ConfigInfo[];
  /** Names of the package's width levels; ["full"] without LEVL. */
  readonly levels: readonly string[];
  readonly labels: readonly string[];
  /** The package's input: size and normalisation (x = (p · pixelScale − mean) / std). */
  readonly input: { height: number; width: number; channels: number; pixelScale: number; mean: number[]; std: number[] };
  /** MACs of the full backbone (every stage and the head). */
  readonly backboneMacs: number;
  readonly variant: Variant;
  /** Name of the current configuration ("custom" after a table), or null. */
  readonly config: string | null;
  /** Index of the most accurate measured configuration (what load starts with), or null. */
  readonly defaultConfig: number | null;
  classify(input: ImageInput, options?: ClassifyOptions): Promise<Classification>;
  setConfig(which: string | number | CustomConfig): Promise<void>;
  /** Frees the wasm memory (and ends the worker). Idempotent. */
  dispose(): Promise<void>;
}

/** Loads a .dyce package: bytes (copied), a URL, or a file path under Node. */
export declare function load(source: Uint8Array | ArrayBuffer | ArrayBufferView | URL | string, options?: LoadOptions): Promise<Model>;
