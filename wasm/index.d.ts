// Types of dyce's user-facing module (wasm/index.mjs) and its Worker
// mirror (wasm/worker-client.mjs).

export type DyceErrorCode =
  | 'DYCE_INVALID_ARGUMENT' | 'DYCE_BAD_FORMAT' | 'DYCE_UNSUPPORTED' | 'DYCE_LIMIT'
  | 'DYCE_OUT_OF_MEMORY' | 'DYCE_NOT_FOUND' | 'DYCE_BAD_INPUT' | 'DYCE_BAD_STATE'
  /** A fetch failed (network, HTTP status) or a file could not be read; `url` says which. */
  | 'DYCE_FETCH_FAILED'
  /** A .wasm did not compile or instantiate on this host; `url` says which. */
  | 'DYCE_WASM_COMPILE'
  /** `wasmUrl` / `wasmBinary` is not the build `variant` names. */
  | 'DYCE_WASM_MISMATCH'
  /**
   * The picture is cross-origin and its pixels cannot be read (a tainted
   * canvas): the server must send Access-Control-Allow-Origin and the
   * page set `img.crossOrigin = 'anonymous'`; `url` says which image.
   */
  | 'DYCE_CROSS_ORIGIN'
  | 'DYCE_WORKER_ERROR' | 'DYCE_INTERNAL' | (string & {});

/**
 * Every failure dyce reports: `code` says what kind (the engine's status
 * names plus the JS-side ones above); `url` or `field` what it was about.
 * `instanceof DyceError` holds for an error from any entry of the package
 * (`dyce`, `dyce/browser`, `dyce/worker`, `dyce/engine`), each its own copy.
 */
export declare class DyceError extends Error {
  constructor(code: DyceErrorCode, message: string, details?: { url?: string | URL; field?: string; status?: number; cause?: unknown });
  readonly code: DyceErrorCode;
  /** The package, .wasm or worker script involved, when there was one (a worker script only when `workerUrl` named it: a browser does not say where its default one was emitted). */
  readonly url?: string;
  /**
   * The argument involved, e.g. "input.channels", "variant", "config",
   * "source", "wasmPaths['dyce.wasm']", or an option's name that the call
   * does not know ("thread").
   */
  readonly field?: string;
  /** The HTTP status of a failed fetch. */
  readonly status?: number;
}

/** Which wasm build runs: relaxed SIMD, SIMD128, or none (old browsers). */
export type Variant = 'relaxed' | 'simd' | 'nosimd';

/**
 * load()'s options. A key not listed here (a typo such as `thread`) is
 * refused with DYCE_INVALID_ARGUMENT, `field` the key, never ignored.
 */
export interface LoadOptions {
  /**
   * Configuration to start with (name or index); default: the most
   * accurate measured one. An unknown one is DYCE_NOT_FOUND (field
   * "config") listing the package's.
   */
  config?: string | number;
  /** The wasm build; default: the best this host validates. */
  variant?: Variant;
  /**
   * Threads: 'auto' (default; up to 4, one per core) or a whole number
   * from 1 to 64 (else DYCE_INVALID_ARGUMENT, field "threads"). More
   * than one runs the threaded build with its workers where the host
   * allows it (Node; browsers on cross-origin-isolated pages), else one
   * thread, and `threadsReason` says why.
   */
  threads?: 'auto' | number;
  /**
   * Threads split only a model whose costliest answer (a graph and all it
   * reads from) takes at least this many multiply-adds; a smaller one runs
   * as on one thread, where a second thread woken after a frame's idle gap
   * costs about what it saves. Default 100e6; 0 splits every model.
   */
  splitMinMacs?: number;
  /**
   * Where the .wasm files are, when not next to the module (where bundlers
   * put them by default): a folder (relative to the page in a browser; a
   * path or file: URL under Node) holding
   * dyce-relaxed.wasm, dyce.wasm and dyce-nosimd.wasm, or a table from
   * those names to URLs (a folder's trailing slash is optional). The
   * build is still chosen by feature detection.
   */
  wasmPaths?: string | URL | Partial<Record<'dyce-relaxed.wasm' | 'dyce.wasm' | 'dyce-nosimd.wasm' | 'dyce-relaxed-mt.wasm' | 'dyce-mt.wasm', string | URL>>;
  /**
   * One .wasm file to use. Its build is recognised from the module; a
   * `variant` it contradicts is refused (DYCE_WASM_MISMATCH), and a build
   * this host cannot compile fails with DYCE_WASM_COMPILE. Prefer
   * `wasmPaths`, which keeps feature detection.
   */
  wasmUrl?: string | URL;
  /** The .wasm bytes themselves (recognised as `wasmUrl` is). */
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
/**
 * A configuration table. An answer leaves when its confidence is strictly
 * above its threshold: a threshold below 0 always answers, one of 1 or
 * more never does. `exits` / `thresholds` list positions 1, 2, …; those
 * left out have no exit; more entries than the package has positions, or
 * a key not listed here (other than a shipped configuration's
 * description: name, index, accuracy, meanMacs, maxMacs, so that
 * `{...model.configs[i], thresholds}` works), is DYCE_INVALID_ARGUMENT.
 */
export interface CustomConfig {
  saver?: string | null;
  saverThreshold?: number;
  exits?: readonly (string | null)[];
  thresholds?: readonly number[];
  confidence?: 'max_softmax' | 'margin' | 'entropy';
  /** Width level by name or index (default 0, the full network). */
  level?: string | number;
}

/**
 * A byte image: ImageData (RGBA), or bytes of 1 (gray), 2 (gray + alpha),
 * 3 (RGB) or 4 (RGBA) channels per pixel, row by row (a Node Buffer is a
 * Uint8Array; transparent parts lie over black, as a browser draws them
 * on a cleared canvas; a 4-channel model takes alpha as it is). Fields a
 * decoder adds (pngjs: depth, colorType, …) are ignored; one that looks
 * like a misspelt field (`chanels`) is refused. `channels` defaults to what
 * `data.length / (width · height)` says (1, 3 or 4; gray + alpha must be
 * named). The picture, of any size, is center-cropped to the model's
 * aspect ratio, resized (box filter; smaller ones are scaled up),
 * converted (luma for a one-channel model) and normalised as the
 * package's input spec says. Other arrays, sizes that are not whole
 * numbers > 0, and lengths that do not fit are DYCE_INVALID_ARGUMENT with
 * `field` "input.data", "input.width", "input.height" or "input.channels".
 */
export interface PixelData {
  readonly data: Uint8ClampedArray | Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels?: 1 | 2 | 3 | 4;
}

/**
 * The model's input tensor itself, already normalised as the package's
 * input spec says (x = (pixel · pixelScale − mean) / std): 1×C×H×W
 * ("nchw") or 1×H×W×C ("nhwc"). Values no normalised picture can have
 * (raw 0–255 pixels, say) are refused with DYCE_BAD_INPUT. A bare
 * Float32Array is refused with DYCE_INVALID_ARGUMENT: it cannot say what
 * it holds.
 */
export interface NormalizedTensor {
  readonly tensor: Float32Array;
  readonly layout: 'nchw' | 'nhwc';
  readonly normalized: true;
}

// The browser inputs are declared here too, with the members dyce reads
// (as the DOM library declares them), so that these types compile in a
// project without the DOM library (Node only, or a Worker's `webworker`
// library): with it, each merges unchanged into the DOM's own interface.
declare global {
  interface HTMLCanvasElement { width: number; height: number }
  interface HTMLVideoElement { readonly videoWidth: number; readonly videoHeight: number }
  interface HTMLImageElement { readonly naturalWidth: number; readonly naturalHeight: number }
  interface ImageBitmap { readonly width: number; readonly height: number }
  interface VideoFrame { readonly displayWidth: number; readonly displayHeight: number }
  interface OffscreenCanvas { width: number; height: number }
}

/**
 * What classify takes. Browsers only: an `HTMLImageElement` still loading
 * is awaited (img.decode()); one that failed to load, or a `Blob` / `File`
 * that is not a picture createImageBitmap can decode, is DYCE_BAD_INPUT
 * (`url`: the image's); a canvas, video or bitmap without pixels is
 * DYCE_INVALID_ARGUMENT; a cross-origin image is DYCE_CROSS_ORIGIN. Under
 * Node a Blob is DYCE_UNSUPPORTED: decode it and pass PixelData.
 */
export type ImageInput =
  | PixelData | NormalizedTensor | ImageBitmap | VideoFrame | OffscreenCanvas
  | HTMLCanvasElement | HTMLVideoElement | HTMLImageElement | Blob;

/**
 * classify()'s options. A key not listed (a typo such as `deadline`) or a
 * value of the wrong type (`invert: 'false'`, `deadlineMs: '5'`, NaN) is
 * refused with DYCE_INVALID_ARGUMENT, `field` the option.
 */
export interface ClassifyOptions {
  /** Switch to this configuration first (O(1)); it stays current. */
  config?: string | number;
  /**
   * Anytime mode: once this many ms have passed, stop before the next graph.
   * The first answer (the saver's, else the first exit's, else the head's)
   * is always computed, however long it takes. 0 (the default): no deadline.
   */
  deadlineMs?: number;
  /**
   * Anytime mode: stop before a graph that would spend more MACs than this
   * in all. The first answer is always computed, whatever it costs (under
   * the `backbone` configuration that is the whole network): compare
   * `macs` with the budget. 0 (the default): no limit.
   */
  macBudget?: number;
  /** How many classes `top` lists (default 3). */
  topK?: number;
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
  /**
   * The deadline or MAC budget stopped the cascade before the answer its
   * configuration would have given (false when nothing was stopped, even
   * if the first answer alone went over the budget: `macs` / `ms` say by
   * how much). A larger budget is not always more accurate: the latest
   * classifier that ran may be an early exit less accurate than the saver
   * before it.
   */
  budgetExhausted: boolean;
}

export interface Model {
  readonly configs: readonly ConfigInfo[];
  /** Names of the package's width levels; ["full"] without LEVL. */
  readonly levels: readonly string[];
  readonly labels: readonly string[];
  /** The package's input: size and normalisation (x = (p · pixelScale − mean) / std). */
  readonly input: { readonly height: number; readonly width: number; readonly channels: number; readonly pixelScale: number; readonly mean: readonly number[]; readonly std: readonly number[] };
  /** MACs of the full backbone (every stage and the head). */
  readonly backboneMacs: number;
  readonly variant: Variant;
  /** 'int8' for a quantized package (docs/INT8.md: int8 weights and activations inside, float logits), else 'float32'. */
  readonly dtype: 'float32' | 'int8';
  /** Name of the current configuration ("custom" after a table), or null. */
  readonly config: string | null;
  /** Index of the most accurate measured configuration (what load starts with), or null. */
  readonly defaultConfig: number | null;
  /** True once dispose() has been called (every later call is DYCE_BAD_STATE). */
  readonly disposed: boolean;
  /** Threads the model runs on now (1 .. maxThreads; 0 once disposed). */
  readonly threads: number;
  /** 1 + the engine's workers: 1 where the host allows no threads. */
  readonly maxThreads: number;
  /** Why maxThreads is 1 or fewer than asked for, or null. */
  readonly threadsReason: string | null;
  /**
   * Resolves to the number of worker threads that started (in the background: load() does not wait).
   * They start when the model first splits a node, or when this is read: a model that splits
   * nothing (under `splitMinMacs`) runs without them.
   */
  readonly threadsReady: Promise<number>;
  /** The load option `splitMinMacs` in force (default 100e6). */
  readonly splitMinMacs: number;
  /**
   * Classifies one picture. Calls (classify, setConfig, setThreads)
   * take effect in the order they were made, also while a picture
   * decodes; dispose takes effect at once: the calls still waiting for a
   * picture to decode, and every later call, are DYCE_BAD_STATE.
   */
  classify(input: ImageInput, options?: ClassifyOptions | null): Promise<Classification>;
  /** An unknown name or index is DYCE_NOT_FOUND (field "config") listing the package's. */
  setConfig(which: string | number | CustomConfig): Promise<void>;
  /** Runs on `n` threads (1 .. maxThreads), bit-identical results; replans memory. */
  setThreads(n: number): Promise<void>;
  /** Frees the wasm memory (and ends the worker) now, not after calls still decoding their picture (they reject). Idempotent. */
  dispose(): Promise<void>;
}

/** What load() reads a package from (a path only under Node). */
export type PackageSource = Uint8Array | ArrayBuffer | ArrayBufferView | Blob | Response | URL | string;

/** The best wasm build this host can run. */
export declare function detectVariant(): Variant;

/**
 * Loads a .dyce package: bytes (copied), a Blob or File (a file input, a
 * drop), a fetch Response (`load(await fetch(url))`), a URL, or a file
 * path under Node. Failures: DYCE_FETCH_FAILED / DYCE_NOT_FOUND (with
 * `url`; a Response that is not 2xx too, with `status`),
 * DYCE_WASM_COMPILE, DYCE_BAD_FORMAT (with the package's `url` when it had
 * one, else `field` "source"), DYCE_NOT_FOUND (an unknown `config`),
 * DYCE_INVALID_ARGUMENT (with `field`: "source", an option, or an unknown
 * option's name).
 */
export declare function load(source: PackageSource, options?: LoadOptions | null): Promise<Model>;

/** The model load() returns (on the main thread or in Node). */
export declare class DyceModel implements Model {
  /** Takes ownership of a low-level engine model. */
  constructor(low: import('./engine.js').Model, variant: Variant);
  /** The low-level engine model underneath. */
  readonly low: import('./engine.js').Model;
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
  readonly threadsReady: Promise<number>;
  readonly splitMinMacs: number;
  setThreads(n: number): Promise<void>;
  setThreadsNow(n: number): void;
  classify(input: ImageInput, options?: ClassifyOptions | null): Promise<Classification>;
  /** classify, synchronously (what the Worker calls), for inputs that need no decoding (no Blob, no <img> still loading). */
  classifyNow(input: ImageInput, options?: ClassifyOptions | null): Classification;
  setConfig(which: string | number | CustomConfig): Promise<void>;
  setConfigNow(which: string | number | CustomConfig): void;
  /** The `k` most probable classes of graph `exit`'s output for the current input. */
  topOf(exit: string, k: number): { index: number; label: string; score: number }[];
  dispose(): Promise<void>;
}
