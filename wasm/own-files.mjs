// dyce's own files (its .wasm builds, the Node thread worker) under Node,
// when a server bundle has moved them. A literal
// `new URL('./dist/dyce.wasm', import.meta.url)` is what bundlers follow,
// and for a browser bundle they emit the file; a server bundle does the
// same and leaves a URL no file system path leads to: Next.js (webpack and
// Turbopack) gives '/_next/static/media/dyce.<hash>.wasm' in a URL class of
// its own, Vite SSR with `noExternal` a file: URL beside the bundle where
// no file was written. Then the package installed beside the app has them.
// Node's modules are reached through process.getBuiltinModule, not
// imported, so that browser bundles of this file see no `node:` import.
import { DyceError } from './errors.mjs';

const builtin = (name) => globalThis.process?.getBuiltinModule?.(name) ?? null;

/** The file `relative` (e.g. 'wasm/dist/dyce.wasm') of an installed dyce package, or null. */
function installed(relative, fs, path, module) {
  const bases = [globalThis.process.cwd() + '/'];
  if (/^file:/i.test(import.meta.url ?? '')) bases.unshift(import.meta.url);
  for (const base of bases) {
    try {
      const file = path.join(path.dirname(module.createRequire(base).resolve('dyce/package.json')), relative);
      if (fs.existsSync(file)) return file;
    } catch { /* not resolvable from there */ }
  }
  return null;
}

/**
 * Under Node, the file: URL of dyce's file `relative` (a path inside the
 * package) given the URL the bundle made for it: that one when it is a file
 * that exists, else the installed package's; a DyceError naming the
 * remedies when neither is there. Elsewhere, `url` as it is.
 */
export function ownFileUnderNode(url, relative) {
  const fs = builtin('node:fs'), path = builtin('node:path'), nodeUrl = builtin('node:url'), module = builtin('node:module');
  if (!fs || !path || !nodeUrl || !module) return url;
  const href = String(url?.href ?? url);
  let local = null;
  try {
    local = nodeUrl.fileURLToPath(href);
  } catch { /* not a file: URL */ }
  if (local !== null && fs.existsSync(local)) return nodeUrl.pathToFileURL(local);
  const found = installed(relative, fs, path, module);
  if (found) return nodeUrl.pathToFileURL(found);
  throw new DyceError('DYCE_NOT_FOUND', `cannot find dyce's ${relative}: a bundler moved it to ${href}, which is no file here, and no dyce package is installed beside the app (${globalThis.process.cwd()}); keep dyce out of the server bundle (Next.js: serverExternalPackages: ['dyce']; Vite: ssr.external) or give wasmPaths, the folder of dyce's wasm/dist files`, { url: href, field: 'wasmPaths' });
}
