// How dyce gets bytes and compiled wasm in every host: `fetch` (and
// streaming compilation) in browsers and workers, the file system under
// Node. This file imports nothing Node-only, so bundlers can take it into
// a browser build; the file system is reached through `host.readFile`,
// which wasm/node-io.mjs (imported by the package's `node` entries) sets,
// or, when the module was imported by path under Node ≥ 20.16, through
// process.getBuiltinModule (not an import a bundler would follow).
import { DyceError } from './errors.mjs';

/** How this host reads a local file (path or file: URL): readFile (into bytes) and open (into wasm memory, readLocalInto); set by node-io.mjs. */
export const host = { readFile: null, open: null };

/** Running under Node (its file paths, its worker_threads), not in a browser. */
export const isNode = typeof process === 'object' && !!process.versions?.node;

/** fs/promises' `name` (readFile, open) as this host has it, or null. */
function nodeFs(name) {
  return host[name] ?? globalThis.process?.getBuiltinModule?.('node:fs/promises')?.[name] ?? null;
}

/** The DyceError for local file `source` that could not be read. */
function unreadable(e, what, source) {
  return new DyceError(e.code === 'ENOENT' ? 'DYCE_NOT_FOUND' : 'DYCE_FETCH_FAILED',
    `cannot read the ${what} ${source}: ${e.message}`, { url: source, cause: e });
}

/** A file: URL, or under Node a string that is not a URL with a scheme (a path; "C:\…" too). */
export function isLocal(source) {
  if (source instanceof URL) return source.protocol === 'file:';
  if (/^file:/i.test(source)) return true;
  return isNode && (!/^[a-z][a-z0-9+.-]+:/i.test(source) || /^[a-z]:[\\/]/i.test(source));
}

/** A file: URL string is a URL, not a path named "file:…". */
const localPath = (source) => (typeof source === 'string' && /^file:/i.test(source) ? new URL(source) : source);

/**
 * A local file read straight into wasm memory once the engine is up
 * (`heap`, see streamBody) → { ptr, length }: no copy of the package in
 * JavaScript, whose fresh pages and second copy cost ~10 ms of a Node cold
 * start on this VM. null when that cannot be done (no engine, no memory,
 * a file that changed length while read): the caller reads it as bytes.
 */
async function readLocalInto(source, what, heap) {
  const open = nodeFs('open');
  if (!open) return null;
  let file, sink, ptr = 0;
  try {
    file = await open(localPath(source), 'r');
    const { size } = await file.stat();
    try {
      sink = await heap;
    } catch {
      return null; // the engine failed: load() reports that
    }
    if (!(size > 0) || !(ptr = sink.alloc(size))) return null;
    // A fresh view per read: memory that grew meanwhile (a warm-up's
    // allocation) has a new buffer.
    for (let at = 0; at < size;) {
      const { bytesRead } = await file.read(sink.bytes(), ptr + at, Math.min(size - at, 1 << 20), at);
      if (!bytesRead) return null; // shorter than it was: read it again as bytes
      at += bytesRead;
    }
    const done = { ptr, length: size };
    ptr = 0;
    return done;
  } catch (e) {
    throw unreadable(e, what, source);
  } finally {
    if (ptr) sink.free(ptr);
    await file?.close().catch(() => {});
  }
}

async function readLocal(source, what) {
  const readFile = nodeFs('readFile');
  if (!readFile)
    throw new DyceError('DYCE_FETCH_FAILED', `cannot read the ${what} ${source}: this host has no file system reader (under Node, import dyce through its package entry, which sets one)`, { url: source });
  try {
    // A view of Node's Buffer, not a copy: copying 2.5 MB into fresh
    // memory cost 6-9 ms of a cold start (page faults on this VM).
    const buffer = await readFile(localPath(source));
    return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
  } catch (e) {
    throw unreadable(e, what, source);
  }
}

/** fetch(url) that answers 2xx, else a DyceError naming the URL. */
async function fetchOk(url, what) {
  let response;
  try {
    response = await fetch(url);
  } catch (e) {
    // Node's fetch says only "fetch failed"; why (ECONNREFUSED, a DNS
    // failure…) is in its cause. Browsers give no reason at all.
    const why = e?.cause?.message ? `${e.message} (${e.cause.message})` : e?.message ?? String(e);
    throw new DyceError('DYCE_FETCH_FAILED', `cannot fetch the ${what} ${url}: ${why}`, { url, cause: e });
  }
  if (!response.ok)
    throw new DyceError('DYCE_FETCH_FAILED', `cannot fetch the ${what} ${url}: HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`, { url, status: response.status });
  return response;
}

/**
 * The bytes of an answer (`name` names it in errors), refused when the
 * server sent an HTML page instead: development servers (Vite's, single-page-app hosts) answer an
 * unknown path with their index.html and status 200.
 */
async function bodyBytes(response, what, url, name = url) {
  let bytes;
  try {
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (e) {
    throw new DyceError('DYCE_FETCH_FAILED', `cannot read the ${what} ${name}: ${e.message}`, { url, cause: e });
  }
  refuseHtml(response, bytes, what, url, name);
  return bytes;
}

/** Refuses an HTML page served where a file was asked for (see bodyBytes). */
function refuseHtml(response, head, what, url, name) {
  const type = response.headers?.get?.('content-type') ?? '';
  if (/^\s*text\/html/i.test(type) && /^\s*</.test(new TextDecoder().decode(head.subarray(0, 64))))
    throw new DyceError('DYCE_FETCH_FAILED', `the server answered the ${what} URL ${name} with an HTML page (content-type ${type}), not the file: is the path right? (a development server answers an unknown path with its index.html)`, { url, status: response.status });
}

/**
 * The body of an answer written into wasm memory while it downloads, when
 * the answer says its length and is not compressed: `heap` resolves to the
 * engine's heap ({ alloc(n) → ptr or 0, free(ptr), bytes() → its current
 * Uint8Array view }) once the engine is ready, and every chunk from then on
 * (the earlier ones first) is copied in as it arrives. The pages the
 * package lands on are then touched during the download, not after it,
 * and the page holds no second copy of the package (on this VM a fresh
 * page costs ~10 µs: 2.5 MB, ~6 ms). Resolves to { ptr, length } (the
 * caller owns ptr) or, when that cannot be done (no length, a compressed
 * or longer or shorter body than announced, no engine, no memory), to the
 * bytes as bodyBytes would.
 */
export async function streamBody(response, what, url, name, heap) {
  const length = Number(response.headers?.get?.('content-length'));
  const coding = response.headers?.get?.('content-encoding');
  if (!heap || typeof response.body?.getReader !== 'function' || !(length > 0) || (coding && coding !== 'identity'))
    return bodyBytes(response, what, url, name);
  let sink = null, ptr = 0, at = 0;
  heap.then((h) => { sink = h; }, () => {});
  const chunks = []; // not yet in wasm memory
  const toHeap = () => {
    if (!ptr && sink && !(ptr = sink.alloc(length))) sink = null; // no memory: stay in JS
    while (ptr && chunks.length) {
      const chunk = chunks.shift();
      if (at + chunk.length > length) { // longer than announced: gather it in JS
        chunks.unshift(sink.bytes().slice(ptr, ptr + at), chunk);
        sink.free(ptr);
        ptr = 0;
        sink = null;
        return;
      }
      sink.bytes().set(chunk, ptr + at);
      at += chunk.length;
    }
  };
  try {
    const reader = response.body.getReader();
    for (let first = true; ; first = false) {
      let next;
      try {
        next = await reader.read();
      } catch (e) {
        throw new DyceError('DYCE_FETCH_FAILED', `cannot read the ${what} ${name}: ${e.message}`, { url, cause: e });
      }
      if (next.done) break;
      if (first) refuseHtml(response, next.value, what, url, name);
      chunks.push(next.value);
      toHeap();
    }
    if (ptr && at === length) {
      const done = { ptr, length };
      ptr = 0;
      return done;
    }
    if (ptr) chunks.unshift(sink.bytes().slice(ptr, ptr + at)); // shorter than announced
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
    chunks.reduce((o, c) => (bytes.set(c, o), o + c.length), 0);
    return bytes;
  } finally {
    if (ptr) sink.free(ptr);
  }
}

/**
 * The bytes of a fetch Response the caller made (`load(await fetch(url))`):
 * a status other than 2xx (or an opaque no-cors answer) is
 * DYCE_FETCH_FAILED with its `url` and `status`, as a URL load()
 * fetched itself would be; a body already read is DYCE_INVALID_ARGUMENT.
 * With `heap` (see streamBody) it may resolve to { ptr, length } instead.
 */
export async function readResponse(response, what, heap) {
  // A Response made by the page (new Response(…)) has no URL.
  const url = response.url || undefined, named = url ?? '(a Response without a URL)';
  if (!response.ok) {
    const why = response.type === 'opaque' ? 'an opaque answer (fetched with mode: \'no-cors\'), whose bytes a page cannot read'
      : `HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ''}`;
    throw new DyceError('DYCE_FETCH_FAILED', `cannot fetch the ${what} ${named}: ${why}`, { url, status: response.status });
  }
  if (response.bodyUsed)
    throw new DyceError('DYCE_INVALID_ARGUMENT', `the Response for the ${what} ${named} was already read; pass a fresh one (or response.clone())`, { url, field: 'source' });
  return streamBody(response, what, url, named, heap);
}

/** Is `x` a fetch Response (or one from another realm, e.g. a polyfill)? */
export const isResponse = (x) => (typeof Response !== 'undefined' && x instanceof Response) ||
  (!!x && typeof x === 'object' && typeof x.arrayBuffer === 'function' && typeof x.ok === 'boolean' && 'bodyUsed' in x);

/** Is `x` a Blob or File? */
export const isBlob = (x) => typeof Blob !== 'undefined' && x instanceof Blob;

/**
 * The bytes at `source` (URL or string; a path under Node). `what` names it
 * in errors ("model package"). With `heap`, a download may resolve to
 * { ptr, length } in wasm memory instead (streamBody).
 */
export async function readBytes(source, what, heap) {
  if (isLocal(source)) return (heap && await readLocalInto(source, what, heap)) || readLocal(source, what);
  const url = absoluteUrl(source);
  return streamBody(await fetchOk(url, what), what, url, url, heap);
}

/**
 * `x` (URL or string) as fetch resolves it: against the page, or a
 * worker's script; a local path (Node) as it is. Throws (TypeError) when
 * it resolves to no URL.
 */
export function resolveUrl(x) {
  if (x instanceof URL) return x.href;
  const s = String(x);
  if (isLocal(s) && !/^file:/i.test(s)) return s;
  return new URL(s, globalThis.location?.href).href;
}

/**
 * `source` resolved (resolveUrl) where there is a page or script to
 * resolve against, so that an error names the URL that was asked for, as
 * loadInWorker's (which resolves before posting) does; else unchanged.
 */
export function absoluteUrl(source) {
  if (!globalThis.location?.href) return String(source);
  try {
    return resolveUrl(source);
  } catch {
    return String(source); // fetch will say what is wrong with it
  }
}

// Compiling a build again costs code memory Chromium does not give back
// (~0.6 MB per load() → dispose() of a page that loads models over and
// over), so each URL or path is compiled once per realm; a failed compile
// is forgotten, so a later call tries again.
const compiledBySource = new Map();

/**
 * Compiles the wasm module at `source` (URL or string) or in `bytes`.
 * Served as application/wasm, a remote module compiles while it downloads
 * (WebAssembly.compileStreaming). Failures: DYCE_FETCH_FAILED or
 * DYCE_WASM_COMPILE with the URL.
 */
export function compileWasm({ source, bytes }) {
  if (bytes) return compileUncached({ bytes });
  const key = String(source);
  let compiled = compiledBySource.get(key);
  if (!compiled) {
    compiled = compileUncached({ source });
    compiledBySource.set(key, compiled);
    compiled.catch(() => compiledBySource.delete(key));
  }
  return compiled;
}

async function compileUncached({ source, bytes }) {
  const url = source === undefined ? '(wasmBinary)' : String(source);
  try {
    if (bytes) return await WebAssembly.compile(bytes);
    if (isLocal(source)) return await WebAssembly.compile(await readLocal(source, 'wasm module'));
    const response = await fetchOk(source, 'wasm module');
    const type = response.headers.get('content-type') ?? '';
    if (typeof WebAssembly.compileStreaming === 'function' && type.split(';')[0].trim() === 'application/wasm')
      return await WebAssembly.compileStreaming(response);
    return await WebAssembly.compile(await response.arrayBuffer());
  } catch (e) {
    if (e instanceof DyceError) throw e;
    // Chromium names 'unsafe-eval', Firefox only "blocked by CSP"; the
    // directive that allows WebAssembly alone is 'wasm-unsafe-eval'.
    const csp = /\bCSP\b|Content.Security.Policy|unsafe-eval/i.test(e.message)
      ? "; the page's Content-Security-Policy forbids compiling WebAssembly: add 'wasm-unsafe-eval' to its script-src" : '';
    throw new DyceError('DYCE_WASM_COMPILE', `cannot compile the wasm module ${url}: ${e.message}${csp}`, { url, cause: e });
  }
}
