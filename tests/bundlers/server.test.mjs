// dyce in server bundles, as a new user's server-side rendering builds it
// from the `npm pack` tarball: the bundler follows dyce's
// `new URL('./dist/….wasm', import.meta.url)` and rewrites it into its own
// asset path, where no file system path leads under Node. Next.js does it
// with webpack's public path ('/_next/static/media/dyce.<hash>.wasm', in a
// URL class of its own) — built here by plain webpack for Node with
// Next's public path — and Vite SSR with `ssr.noExternal` does it with a
// file: URL beside its bundle where it wrote no file. dyce must then take
// its files (the .wasm builds, the Node thread worker) from the package
// installed beside the app (wasm/own-files.mjs), classify as the Node API
// does, and start its threads.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { imagesAndLabels, packedApp, root } from './app.mjs';

const MODEL = path.join(root, 'models/fashion-mnist.dyce');
const SAMPLES = [0, 1, 2, 3, 4];

// A server module: classify the images of argv[2] with the model argv[3]
// on two threads, splitting every node, and print what happened.
const SERVER = `import { load } from 'dyce';
import fs from 'node:fs';
(async () => {
  const pixels = fs.readFileSync(process.argv[2]);
  const model = await load(process.argv[3], { threads: 2, splitMinMacs: 0 });
  const started = await model.threadsReady;
  const labels = [];
  for (let i = 0; i < pixels.length / 784; i++)
    labels.push((await model.classify({ data: pixels.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 })).label);
  console.log(JSON.stringify({ labels, threads: model.threads, started, reason: model.threadsReason }));
  await model.dispose();
})().catch((e) => { console.log(JSON.stringify({ error: \`\${e.code ?? e.name}: \${e.message}\` })); });
`;

const BUILDS = {
  // Next.js's server build, reduced to its cause: webpack for Node, assets under a public path.
  webpack: {
    files: { 'webpack.config.cjs': `module.exports = { mode: 'production', target: 'node', entry: './server.js',
  output: { path: require('path').join(__dirname, 'dist-webpack'), filename: 'server.cjs', publicPath: '/_next/' } };\n` },
    args: [path.join(root, 'node_modules/webpack-cli/bin/cli.js'), '--config', 'webpack.config.cjs'],
    out: 'dist-webpack/server.cjs',
    // the bundle names the .wasm by the public path and a hash, as Next's does
    emitted: [/"\/_next\/"/, /"[0-9a-f]{16,}\.wasm"/],
  },
  // `vite build --ssr` with dyce bundled in (ssr.noExternal).
  'vite ssr': {
    files: { 'vite.config.js': "export default { ssr: { noExternal: true }, logLevel: 'warn' };\n" },
    args: [path.join(root, 'node_modules/vite/bin/vite.js'), 'build', '--ssr', 'server.js', '--outDir', 'dist-vite'],
    out: 'dist-vite/server.js',
    emitted: [/dyce[\w.-]*\.wasm/],
  },
};

test('server bundles (webpack for Node with a public path, as Next.js builds; Vite SSR with noExternal) take dyce\'s files from the installed package, classify as Node does and start threads', { timeout: 240_000 }, async (t) => {
  const { pixels, want } = await imagesAndLabels(MODEL, SAMPLES);

  const app = packedApp('server', { 'server.js': SERVER });
  t.after(() => app.remove());
  const images = path.join(app.dir, 'images.bin');
  fs.writeFileSync(images, pixels);
  for (const [name, build] of Object.entries(BUILDS)) {
    const dir = path.join(app.tmp, name.replace(' ', '-'));
    fs.cpSync(app.dir, dir, { recursive: true });
    for (const [file, text] of Object.entries(build.files)) fs.writeFileSync(path.join(dir, file), text);
    const env = { ...process.env, NODE_TEST_CONTEXT: '' };
    const b = spawnSync(process.execPath, build.args, { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(b.status, 0, `${name} build failed:\n${b.stdout}\n${b.stderr}`);
    // The bundle did rewrite dyce's file URLs (else this test tests nothing).
    const code = fs.readFileSync(path.join(dir, build.out), 'utf8');
    for (const re of build.emitted) assert.match(code, re, `${name}: the bundle does not name a moved .wasm`);
    const r = spawnSync(process.execPath, [build.out, images, MODEL], { cwd: dir, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    const result = JSON.parse(r.stdout.trim().split('\n').pop());
    assert.equal(result.error, undefined, `${name}: ${result.error}`);
    assert.deepEqual(result.labels, want, name);
    assert.deepEqual([result.threads, result.started, result.reason], [2, 1, null], `${name}: threads`);
    t.diagnostic(`${name}: labels ${result.labels.join(', ')} on ${result.threads} threads`);
  }
});
