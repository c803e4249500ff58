// The package's types: a strict TypeScript file importing every export of
// the `npm pack` tarball compiles with tsc --strict, without skipLibCheck;
// the tarball holds the LICENSE and the type files its exports name.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { packedApp, root } from './app.mjs';

const CHECK = `
import { load, detectVariant, DyceError, DyceModel } from 'dyce';
import type { Model, Classification, LoadOptions, PixelData, NormalizedTensor, ImageInput, ConfigInfo, DyceErrorCode } from 'dyce';
import { load as loadOneFile } from 'dyce/browser';
import { loadInWorker, WorkerModel } from 'dyce/worker';
import { Governor, govern, governorTable, initialState, predictedCosts, DEFAULTS } from 'dyce/governor';
import type { ChangeDetail, Decision } from 'dyce/governor';
import { watchDevice } from 'dyce/signals';
import { createEngine, Engine, WASM_FILES } from 'dyce/engine';
import type {} from 'dyce/wasi';

export async function main(bytes: Uint8Array, pixels: Uint8Array): Promise<string> {
  const options: LoadOptions = { wasmPaths: '/assets/', variant: detectVariant() };
  const model: Model = await load(bytes, options);
  const same: Model = await loadOneFile(bytes);
  const image: PixelData = { data: pixels, width: 28, height: 28, channels: 1 };
  const tensor: NormalizedTensor = { tensor: new Float32Array(784), layout: 'nchw', normalized: true };
  const inputs: ImageInput[] = [image, tensor];
  const r: Classification = await model.classify(inputs[0], { config: 0, deadlineMs: 5 });
  const configs: readonly ConfigInfo[] = model.configs;
  const governor = new Governor(configs);
  governor.addEventListener('change', (e: CustomEvent<ChangeDetail>) => console.log(e.detail.reason));
  governor.addEventListener('other', () => {});
  const d: Decision = governor.update({ budgetMs: 16 });
  const table = governorTable(configs, DEFAULTS);
  govern({ budgetMs: 16 }, initialState(table), table);
  predictedCosts(initialState(table), table);
  const inWorker: WorkerModel = await loadInWorker(new URL('m.dyce', 'https://example.com/'), { wasmPaths: new URL('https://example.com/wasm/') });
  await inWorker.classify(image);
  const gone: boolean = model.disposed || inWorker.disposed; // on every model load() gives
  if (gone) inWorker.terminate(); // the reason is optional
  const fromFile: Model = await load(new File(['…'], 'm.dyce'), null);
  await fromFile.classify(new Blob(['…'], { type: 'image/png' }), { invert: true });
  await loadInWorker(await fetch('m.dyce'), { workerUrl: 'w.mjs' });
  const device = watchDevice(() => {});
  device.stop();
  const engine: Engine = await createEngine({ wasmUrl: WASM_FILES.simd });
  const low = engine.loadModel(bytes);
  const logits: Float32Array = low.run(new Float32Array(784), { layout: 'nchw' });
  low.free();
  try {
    await load('missing.dyce');
  } catch (e) {
    if (e instanceof DyceError) {
      const code: DyceErrorCode = e.code;
      return code + (e.url ?? '') + (e.field ?? '');
    }
  }
  if (model instanceof DyceModel) model.classifyNow(tensor);
  return r.label + d.reason + logits.length;
}
`;

const NODE_ONLY = `
import { load, DyceError } from 'dyce';
import type { ImageInput } from 'dyce';
import { createEngine } from 'dyce/engine';
import { Governor } from 'dyce/governor';
import type { WorkerModel } from 'dyce/worker';
export async function main(bytes: Uint8Array, inWorker?: WorkerModel): Promise<string> {
  const model = await load(bytes);
  // A shipped configuration copied and changed (its arrays are readonly).
  await model.setConfig({ ...model.configs[0], thresholds: [0.5, 0.5] });
  const governor = new Governor(model.configs);
  governor.addEventListener('change', (e) => console.log(e.detail.reason), { once: true });
  inWorker?.worker.terminate();
  const image: ImageInput = { data: bytes, width: 28, height: 28, channels: 1 };
  // @ts-expect-error a string is no picture
  const text: ImageInput = 'x';
  try {
    return (await model.classify(image)).label + (await createEngine()).variant + String(text);
  } catch (e) {
    return e instanceof DyceError ? e.code : '';
  }
}
`;

const IN_WORKER = `
import { load } from 'dyce/browser';
export async function main(bytes: Uint8Array, bitmap: ImageBitmap, frame: VideoFrame, canvas: OffscreenCanvas): Promise<string> {
  const model = await load(bytes);
  return (await model.classify(bitmap)).label + (await model.classify(frame)).label + (await model.classify(canvas)).label;
}
`;

const TSCONFIG = {
  compilerOptions: {
    strict: true, noEmit: true, skipLibCheck: false, target: 'es2022', module: 'nodenext',
    moduleResolution: 'nodenext', lib: ['es2022', 'dom'], types: [],
  },
  files: ['check.ts'],
};

test('every export has types that compile under tsc --strict (no skipLibCheck), with Node\'s and bundlers\' resolution', { timeout: 120_000 }, () => {
  const app = packedApp('types', { 'check.ts': CHECK, 'tsconfig.json': JSON.stringify(TSCONFIG) });
  try {
    const tsc = path.join(root, 'node_modules/.bin/tsc');
    // moduleResolution "bundler" (what Vite and webpack apps' tsconfig says)
    const bundler = { compilerOptions: { ...TSCONFIG.compilerOptions, module: 'esnext', moduleResolution: 'bundler' }, files: TSCONFIG.files };
    fs.writeFileSync(path.join(app.dir, 'tsconfig.bundler.json'), JSON.stringify(bundler));
    const rb = spawnSync(tsc, ['-p', 'tsconfig.bundler.json'], { cwd: app.dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(rb.status, 0, `tsc --strict (bundler resolution) failed:\n${rb.stdout}\n${rb.stderr}`);
    const r = spawnSync(tsc, ['-p', 'tsconfig.json'], { cwd: app.dir, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, `tsc --strict failed:\n${r.stdout}\n${r.stderr}`);
    // Without the DOM library: a Node-only project and a Worker's
    // (`webworker` library), each with the inputs it has; a string is
    // still no input (the browser inputs declared for them are not `{}`).
    for (const [name, lib, types, code] of [['node', ['es2022'], ['node'], NODE_ONLY], ['webworker', ['es2022', 'webworker'], [], IN_WORKER]]) {
      fs.writeFileSync(path.join(app.dir, `${name}.ts`), code);
      const config = { compilerOptions: { ...TSCONFIG.compilerOptions, lib, types, typeRoots: [path.join(root, 'node_modules/@types')] }, files: [`${name}.ts`] };
      fs.writeFileSync(path.join(app.dir, `tsconfig.${name}.json`), JSON.stringify(config));
      const rn = spawnSync(tsc, ['-p', `tsconfig.${name}.json`], { cwd: app.dir, encoding: 'utf8', timeout: 120_000 });
      assert.equal(rn.status, 0, `tsc --strict without the DOM library (${name}) failed:\n${rn.stdout}\n${rn.stderr}`);
    }
    // A wrong use is caught: the types are not `any`.
    fs.writeFileSync(path.join(app.dir, 'check.ts'), `import { load } from 'dyce';\nexport const x = load(42);\n`);
    const bad = spawnSync(tsc, ['-p', 'tsconfig.json'], { cwd: app.dir, encoding: 'utf8', timeout: 120_000 });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stdout, /TS2345/);
  } finally {
    app.remove();
  }
});

test('the tarball holds LICENSE, the wasm builds, every file its exports name, and the same entries for resolvers without exports', () => {
  const app = packedApp('files', {});
  try {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    assert.equal(pkg.license, 'MIT');
    assert.ok(app.packedFiles.includes('LICENSE'));
    assert.match(fs.readFileSync(path.join(app.dir, 'node_modules/dyce/LICENSE'), 'utf8'), /^MIT License/);
    for (const f of ['wasm/dist/dyce.wasm', 'wasm/dist/dyce-relaxed.wasm', 'wasm/dist/dyce-nosimd.wasm', 'wasm/dist/dyce.mjs'])
      assert.ok(app.packedFiles.includes(f), f);
    const targets = (x) => (typeof x === 'string' ? [x] : Object.values(x).flatMap(targets));
    const named = targets(pkg.exports).map((f) => f.slice(2)).filter((f) => f !== 'package.json');
    assert.ok(named.includes('wasm/engine.d.ts') && named.includes('wasm/dist/dyce.node.mjs'));
    for (const f of named) assert.ok(app.packedFiles.includes(f), `exports name ${f}, which the tarball lacks`);
    // Resolvers that do not read "exports" (Parcel unless the app opts in):
    // the legacy fields and one package.json per subpath name the same files.
    const resolve = (dir, f) => path.posix.normalize(path.posix.join(dir, f));
    assert.equal(resolve('.', pkg.browser), resolve('.', pkg.exports['.'].default));
    assert.equal(resolve('.', pkg.main), resolve('.', pkg.exports['.'].node));
    for (const [sub, target] of Object.entries(pkg.exports)) {
      if (sub === '.' || sub === './package.json') continue;
      const file = `${sub.slice(2)}/package.json`;
      assert.ok(app.packedFiles.includes(file), `${file} is not packed`);
      const legacy = JSON.parse(fs.readFileSync(path.join(app.dir, 'node_modules/dyce', file), 'utf8'));
      const dir = sub.slice(2);
      // (dyce/wasi, the CLI, has no browser entry: its main is its node one)
      assert.equal(resolve(dir, legacy.browser ?? legacy.main), resolve('.', target.default ?? target.node), `${file}: browser entry`);
      assert.equal(resolve(dir, legacy.main), resolve('.', target.node ?? target.default), `${file}: main`);
      assert.equal(resolve(dir, legacy.types), resolve('.', target.types), `${file}: types`);
    }
  } finally {
    app.remove();
  }
});

test('under Node the package entry reads paths, and the browser entry is the same API', async () => {
  const app = packedApp('node', {
    // 'dyce' under Node is one file (wasm/dist/dyce.node.mjs); 'dyce/engine'
    // is the modules: one error type across both, and the bundle's workers start.
    'main.mjs': `import { load, DyceError } from 'dyce';
import { createEngine } from 'dyce/engine';
const model = await load(process.argv[2], { threads: 2 });
const engine = await createEngine();
const r = await model.classify({ data: new Uint8Array(784).fill(40), width: 28, height: 28, channels: 1 });
const caught = (f) => { try { f(); } catch (e) { return e; } };
const fromEngine = caught(() => engine.loadModel(new Uint8Array(3)));
const fromLoad = await load(new Uint8Array(3)).catch((e) => e);
console.log(JSON.stringify({ label: r.label, score: r.score, top: r.top, exit: r.exit, variant: model.variant, engine: engine.variant,
  workers: await model.threadsReady, engineError: fromEngine instanceof DyceError && fromEngine.code,
  loadError: fromLoad instanceof DyceError && fromLoad.code, plainError: new Error('x') instanceof DyceError }));
`,
  });
  try {
    const modelFile = path.join(root, 'models/fashion-mnist.dyce');
    const r = spawnSync(process.execPath, ['main.mjs', modelFile], { cwd: app.dir, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.engine, out.variant);
    assert.equal(out.workers, 1, 'the bundle started its worker');
    assert.equal(out.engineError, 'DYCE_BAD_FORMAT');
    assert.equal(out.loadError, 'DYCE_BAD_FORMAT');
    assert.equal(out.plainError, false);
    // The same answer as the modules by path, to the bit.
    const { load } = await import('../../wasm/node.mjs');
    const model = await load(modelFile, { threads: 1 });
    const want = await model.classify({ data: new Uint8Array(784).fill(40), width: 28, height: 28, channels: 1 });
    model.dispose();
    assert.equal(out.label, want.label);
    assert.deepEqual([out.score, out.top, out.exit], [want.score, want.top, want.exit]);
  } finally {
    app.remove();
  }
});

test('the package\'s bin is the CLI (the WASI build under node:wasi): npx dyce info, and usage with no command', () => {
  const app = packedApp('bin', {});
  try {
    // A real install from the tarball (offline: dyce has no dependencies), which links node_modules/.bin/dyce.
    const env = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    const install = spawnSync('npm', ['install', '--offline', '--ignore-scripts', '--no-audit', '--no-fund'], { cwd: app.dir, env, encoding: 'utf8', timeout: 120_000 });
    assert.equal(install.status, 0, install.stderr);
    const bin = path.join(app.dir, 'node_modules/.bin/dyce');
    const info = spawnSync(bin, ['info', path.join(root, 'models/fashion-mnist.dyce')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(info.status, 0, info.stderr);
    assert.match(info.stdout, /^graph saver0 <- input/m);
    const usage = spawnSync(bin, [], { encoding: 'utf8', timeout: 60_000 });
    assert.notEqual(usage.status, 0);
    assert.match(usage.stderr, /usage/i);
  } finally {
    app.remove();
  }
});
