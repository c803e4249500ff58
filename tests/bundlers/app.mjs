// A fresh app with dyce installed from its `npm pack` tarball, as a new
// user would have it: the tarball is unpacked into the app's
// node_modules/dyce (offline; the same files `npm install ./dyce.tgz`
// puts there). Everything lives in a temporary folder; nothing tracked is
// written.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { load } from '../../wasm/node.mjs';
import { readTestSet } from '../node/fmnist.mjs';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function run(cmd, args, cwd) {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  const r = spawnSync(cmd, args, { cwd, env, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/**
 * Packs the project and installs the tarball into a new app folder with
 * `files` ({relative path: text}). → {dir, tarball, packedFiles, remove()}
 */
export function packedApp(prefix, files) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `dyce-${prefix}-`));
  const [info] = JSON.parse(run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', tmp], root));
  const tarball = path.join(tmp, info.filename);
  const dir = path.join(tmp, 'app'), pkg = path.join(dir, 'node_modules/dyce');
  fs.mkdirSync(pkg, { recursive: true });
  run('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1'], tmp);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { dyce: `file:${tarball}` } }));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return { dir, tmp, tarball, packedFiles: info.files.map((f) => f.path), remove: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

/**
 * Fashion-MNIST test images `samples` as 28x28 gray bytes one after the
 * other, and the labels the Node API gives them with `model` (a package
 * path): what every bundled app must answer. → {pixels, want}
 */
export async function imagesAndLabels(model, samples) {
  const set = readTestSet();
  const pixels = Buffer.concat(samples.map((i) => set.pixels.subarray(i * 784, (i + 1) * 784)));
  const m = await load(model);
  const want = [];
  for (let i = 0; i < samples.length; i++)
    want.push((await m.classify({ data: pixels.subarray(i * 784, (i + 1) * 784), width: 28, height: 28, channels: 1 })).label);
  await m.dispose();
  return { pixels, want };
}
