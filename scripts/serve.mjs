#!/usr/bin/env node
// A tiny static server for the demo page, on 127.0.0.1 only.
//   node scripts/serve.mjs [--port N]    (default 8080; 0 picks a free port)
// Serves the page (web/), the runtime (wasm/), the model packages (models/,
// build/fmnist-smoke/*.dyce) and Debian's Fashion-MNIST test files under
// /data/fashion-mnist/. Nothing else of the repository is reachable.
// Also importable: `startServer({port})` → {server, url} (the browser tests).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const DATA_DIR = '/usr/share/datasets/fashion-mnist';

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8', '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json', '.wasm': 'application/wasm', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.ico': 'image/x-icon', '.dyce': 'application/octet-stream',
  '.gz': 'application/gzip', '.ts': 'text/plain; charset=utf-8',
};

// URL prefix → directory it maps to, and which files there may be served.
const MOUNTS = [
  ['/web/', path.join(root, 'web'), () => true],
  ['/wasm/', path.join(root, 'wasm'), (f) => !f.endsWith('.c')],
  ['/models/', path.join(root, 'models'), (f) => f.endsWith('.dyce')],
  ['/build/fmnist-smoke/', path.join(root, 'build/fmnist-smoke'), (f) => f.endsWith('.dyce')],
  ['/docs/', path.join(root, 'docs'), (f) => f.endsWith('.png')],
  ['/data/fashion-mnist/', DATA_DIR, (f) => /^t10k-(images-idx3|labels-idx1)-ubyte\.gz$/.test(f)],
];

/** The file a URL path names, or null when it is outside every mount. */
export function resolvePath(urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  for (const [prefix, dir, allowed] of MOUNTS) {
    if (!decoded.startsWith(prefix)) continue;
    const file = path.resolve(dir, '.' + decoded.slice(prefix.length - 1));
    if (!file.startsWith(dir + path.sep) || !allowed(path.basename(file))) return null;
    return file;
  }
  return null;
}

function handle(req, res) {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  if (pathname === '/' || pathname === '/web') {
    res.writeHead(302, { location: '/web/' }).end();
    return;
  }
  let file = resolvePath(pathname.endsWith('/') ? pathname + 'index.html' : pathname);
  fs.stat(file ?? '', (err, stat) => {
    if (err || !stat.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: ${pathname}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
}

/** Starts the server on 127.0.0.1. Resolves to {server, url}. */
export function startServer({ port = 8080 } = {}) {
  return new Promise((resolve, reject) => {
    const server = http.createServer(handle);
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/web/` });
    });
  });
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const i = process.argv.indexOf('--port');
  const port = i > 0 ? Number(process.argv[i + 1]) : Number(process.env.PORT ?? 8080);
  startServer({ port }).then(({ url }) => {
    console.log(`dyce demo: ${url}`);
  }, (err) => {
    console.error(`serve: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  });
}
