#!/usr/bin/env node
// A tiny static server for the demo page, on 127.0.0.1 only.
//   node scripts/serve.mjs [--port N] [--no-isolation]
//     (port 8080 by default; 0 picks a free port)
// Serves the page (web/), the runtime (wasm/), the model packages (models/,
// build/fmnist-smoke/*.dyce) and Debian's Fashion-MNIST test files under
// /data/fashion-mnist/. Nothing else of the repository is reachable.
// Every response carries COOP same-origin + COEP require-corp, so the page
// is cross-origin isolated and dyce runs its threaded build (docs/THREADS.md);
// --no-isolation (startServer({isolated: false})) leaves them out.
// Also importable: `startServer({port, isolated})` → {server, url} (the browser tests).
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

// What makes a page cross-origin isolated (SharedArrayBuffer, threads).
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

function handle(req, res, headers) {
  const { pathname } = new URL(req.url, 'http://localhost');
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', ...headers }).end();
    return;
  }
  if (pathname === '/' || pathname === '/web') {
    res.writeHead(302, { location: '/web/', ...headers }).end();
    return;
  }
  let file = resolvePath(pathname.endsWith('/') ? pathname + 'index.html' : pathname);
  fs.stat(file ?? '', (err, stat) => {
    if (err || !stat.isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(`not found: ${pathname}\n`);
      return;
    }
    res.writeHead(200, {
      'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream',
      'content-length': stat.size,
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      ...headers,
    });
    if (req.method === 'HEAD') res.end();
    else fs.createReadStream(file).pipe(res);
  });
}

/** Starts the server on 127.0.0.1. Resolves to {server, url}. */
export function startServer({ port = 8080, isolated = true } = {}) {
  const headers = isolated ? ISOLATION : {};
  return new Promise((resolve, reject) => {
    const server = http.createServer((req, res) => handle(req, res, headers));
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      resolve({ server, url: `http://127.0.0.1:${server.address().port}/web/` });
    });
  });
}

/** The command line → {port, isolated}; --help or anything unknown prints the usage and exits. */
function parseArgs(args) {
  const usage = 'usage: node scripts/serve.mjs [--port N] [--no-isolation]\n  (port 8080 by default, or $PORT; 0 picks a free port)';
  let port = Number(process.env.PORT ?? 8080), isolated = true;
  for (let k = 0; k < args.length; k++) {
    if (args[k] === '--no-isolation') isolated = false;
    else if (args[k] === '--port' && /^\d+$/.test(args[k + 1] ?? '') && Number(args[k + 1]) <= 65535) port = Number(args[++k]);
    else {
      const help = args[k] === '--help' || args[k] === '-h';
      (help ? console.log : console.error)(help ? usage : `serve: unexpected argument '${args[k]}'${args[k] === '--port' ? ' (a port number from 0 to 65535 must follow it)' : ''}\n${usage}`);
      process.exit(help ? 0 : 2);
    }
  }
  return { port, isolated };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { port, isolated } = parseArgs(process.argv.slice(2));
  startServer({ port, isolated }).then(({ url }) => {
    console.log(`dyce demo: ${url}${isolated ? ' (cross-origin isolated: threads on)' : ' (not isolated: one thread)'}`);
  }, (err) => {
    console.error(`serve: cannot listen on 127.0.0.1:${port}: ${err.message}`);
    process.exit(1);
  });
}
