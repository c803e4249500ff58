// The cross-origin-isolated site of realms_page.mjs, run as a child
// process (`node isolated_server.mjs ROOT`, prints its port) so that the
// process driving the browser does not serve while it measures.
// Every response carries COOP same-origin + COEP require-corp, which give
// pages SharedArrayBuffer and so threads. Only local files are served:
// dyce (wasm/), the benchmark (tests/bench/), the peers' dist/ folders
// and the models (build/benchmodels/).
//   /          an empty page that holds the realms' iframes
//   /frame     one realm: ?runtime=NAME&threads=N[&splitMinMacs=M] (realm_runner.mjs)
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

const ROOT = path.resolve(process.argv[2]);
const ALLOWED = ['/wasm/', '/tests/bench/', '/build/benchmodels/', '/node_modules/onnxruntime-web/dist/',
  '/node_modules/@tensorflow/tfjs-core/dist/', '/node_modules/@tensorflow/tfjs-backend-wasm/dist/'];
const TYPES = { '.mjs': 'text/javascript', '.js': 'text/javascript', '.wasm': 'application/wasm',
  '.json': 'application/json', '.html': 'text/html' };
const ISOLATION = { 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' };

// The packages' entries a page gets through a bundler; tfjs-backend-wasm's
// ES build imports Node built-ins it only uses under Node.
const IMPORTS = {
  'onnxruntime-web': '/node_modules/onnxruntime-web/dist/ort.bundle.min.mjs',
  '@tensorflow/tfjs-core': '/node_modules/@tensorflow/tfjs-core/dist/tf-core.fesm.js',
  '@tensorflow/tfjs-backend-wasm': '/node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.fesm.js',
  ...Object.fromEntries(['fs', 'path', 'os', 'perf_hooks', 'worker_threads'].map((m) => [m, '/empty.mjs'])),
};

const PARENT = '<!doctype html><link rel="icon" href="data:,"><body></body>';

const FRAME = `<!doctype html><link rel="icon" href="data:,">
<script type="importmap">${JSON.stringify({ imports: IMPORTS })}</script>
<script type="module">
window.errors = [];
window.addEventListener('error', (e) => window.errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => window.errors.push(String(e.reason?.message ?? e.reason)));
import { createRunner } from '/tests/bench/realm_runner.mjs';
const q = new URLSearchParams(location.search), threads = Number(q.get('threads'));
// tfjs-backend-wasm caps its thread pool at hardwareConcurrency / 2 (its
// backend.cc: one thread per physical core, it assumes), whatever
// setThreadsCount asks: on a 2-core machine that is 1. Its realm is told
// of 2 × N cores so that it gets the N threads the others get.
let note = null;
if (q.get('runtime') === 'tfjs-wasm' && threads > navigator.hardwareConcurrency / 2) {
  note = 'hardwareConcurrency ' + navigator.hardwareConcurrency + ' shown as ' + 2 * threads + ': tfjs caps its threads at half of it';
  Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', { get: () => 2 * threads, configurable: true });
}
const runner = createRunner(q.get('runtime'), threads, { splitMinMacs: q.has('splitMinMacs') ? Number(q.get('splitMinMacs')) : undefined });
const get = async (url) => {
  const r = await fetch(url);
  if (!r.ok) throw new Error(url + ': HTTP ' + r.status);
  return r;
};
const bytes = async (url) => new Uint8Array(await (await get(url)).arrayBuffer());
runner.loadModel = async (name) => {
  const base = '/build/benchmodels/' + name;
  const info = await runner.load({ plan: await (await get(base + '.tfjs.json')).json(), dyce: await bytes(base + '.dyce'),
    onnx: await bytes(base + '.onnx'), tfjsBin: await bytes(base + '.tfjs.bin') });
  return { ...info, note: [info.note, note].filter(Boolean).join('; ') || null };
};
window.runner = runner;
</script>`;

const server = http.createServer((req, res) => {
  const { pathname } = new URL(req.url, 'http://x');
  const send = (type, body) => res.writeHead(200, { ...ISOLATION, 'content-type': type }).end(body);
  if (pathname === '/') return send('text/html', PARENT);
  if (pathname === '/frame') return send('text/html', FRAME);
  if (pathname === '/empty.mjs') return send('text/javascript', 'export default {};');
  const file = path.join(ROOT, decodeURIComponent(pathname));
  if (!ALLOWED.some((p) => pathname.startsWith(p)) || !file.startsWith(ROOT + path.sep) || !fs.existsSync(file))
    return res.writeHead(404, ISOLATION).end();
  res.writeHead(200, { ...ISOLATION, 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' });
  fs.createReadStream(file).pipe(res);
});
server.listen(0, '127.0.0.1', () => console.log(server.address().port));
