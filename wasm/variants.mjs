// The three builds of the browser module and how to pick one:
//   relaxed  dist/dyce-relaxed.wasm  relaxed SIMD (FMA); a WASI reactor
//                                    built by clang-19 (see CMakeLists.txt)
//   simd     dist/dyce.mjs + .wasm   WebAssembly SIMD128 (Emscripten)
//   nosimd   dist/dyce-nosimd.*      no SIMD, for old browsers (Emscripten)
// Every build exports the same C API; loadVariant returns an object shaped
// like an Emscripten module (_fn exports, HEAP views, UTF8ToString) so the
// Engine class does not care which one it got.

const isNode = typeof process === 'object' && !!process.versions?.node;

// Smallest modules using one instruction of each feature:
// (func (result v128) v128.const 0 [v128.const 0 v128.const 0 f32x4.relaxed_madd])
const header = [0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0];
const v128Const = [0xfd, 0x0c, ...new Array(16).fill(0)];
const SIMD_PROBE = new Uint8Array([...header, 10, 22, 1, 20, 0, ...v128Const, 11]);
const RELAXED_PROBE = new Uint8Array([...header, 10, 61, 1, 59, 0,
  ...v128Const, ...v128Const, ...v128Const, 0xfd, 0x85, 0x02, 11]);

/** The best build this host can run: "relaxed", "simd" or "nosimd". */
export function detectVariant() {
  if (WebAssembly.validate(RELAXED_PROBE)) return 'relaxed';
  if (WebAssembly.validate(SIMD_PROBE)) return 'simd';
  return 'nosimd';
}

const FILES = {
  relaxed: { wasm: './dist/dyce-relaxed.wasm' },
  simd: { wasm: './dist/dyce.wasm', glue: () => import('./dist/dyce.mjs') },
  nosimd: { wasm: './dist/dyce-nosimd.wasm', glue: () => import('./dist/dyce-nosimd.mjs') },
};

async function readBytes(url) {
  if (isNode) {
    const fs = await import('node:fs');
    return fs.readFileSync(url);
  }
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

const HEAP_TYPES = { HEAP8: Int8Array, HEAPU8: Uint8Array, HEAP16: Int16Array,
  HEAPU16: Uint16Array, HEAP32: Int32Array, HEAPU32: Uint32Array,
  HEAPF32: Float32Array, HEAPF64: Float64Array };

/** A WASI reactor's exports dressed as an Emscripten module. */
function reactorModule(exports) {
  const m = {};
  for (const [name, value] of Object.entries(exports))
    if (typeof value === 'function') m[`_${name}`] = value;
  let buffer = null, views = null;
  const view = () => {
    if (buffer !== exports.memory.buffer) { // memory grew: new views
      buffer = exports.memory.buffer;
      views = Object.fromEntries(Object.entries(HEAP_TYPES)
        .map(([name, Type]) => [name, new Type(buffer)]));
    }
    return views;
  };
  for (const name of Object.keys(HEAP_TYPES))
    Object.defineProperty(m, name, { get: () => view()[name] });
  const decoder = new TextDecoder();
  m.UTF8ToString = (ptr) => {
    if (!ptr) return '';
    const heap = view().HEAPU8;
    let end = ptr;
    while (heap[end]) end++;
    return decoder.decode(heap.subarray(ptr, end));
  };
  return m;
}

// The engine never prints, reads files or asks the time; every WASI call
// the C library links in answers ENOSYS.
const WASI_STUBS = new Proxy({}, { get: () => () => 52 });

/**
 * Instantiates build `variant`. `wasmBinary` (bytes) or `wasmUrl` override
 * where its .wasm comes from.
 */
export async function loadVariant(variant, { wasmBinary, wasmUrl } = {}) {
  const files = FILES[variant];
  if (!files) throw new Error(`unknown variant '${variant}'`);
  const url = wasmUrl ?? new URL(files.wasm, import.meta.url);
  if (!wasmBinary && (isNode || !files.glue)) wasmBinary = await readBytes(url);
  if (!files.glue) {
    const { instance } = await WebAssembly.instantiate(wasmBinary,
      { wasi_snapshot_preview1: WASI_STUBS });
    instance.exports._initialize();
    return reactorModule(instance.exports);
  }
  // Emscripten 3.1.6's glue cannot load files in an ES module under Node,
  // so Node hands it the bytes.
  const { default: create } = await files.glue();
  return create({ wasmBinary, locateFile: () => String(url) });
}
