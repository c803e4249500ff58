#!/usr/bin/env node
// What Node answers for test images, as the page's test hook reports it
// (web/app.mjs classifyForTest): the same RGBA pixels (web/dataset.mjs
// sampleImage) through the same API (wasm/index.mjs) and preprocessing.
//   node [--experimental-wasm-relaxed-simd] node-classify.mjs MODEL VARIANT CONFIG INDEX,INDEX,…
// prints {variant, results: [{index, label, exit, position, macs, config}]}.
// A separate process because Node 20 runs the relaxed build only with that flag.
import fs from 'node:fs';

import { load } from '../../wasm/index.mjs';
import { readTestSet } from '../node/fmnist.mjs';

/** Sample i as RGBA pixel data, gray on every channel (web/dataset.mjs sampleImage). */
function sampleImage(set, i) {
  const n = set.w * set.h, rgba = new Uint8ClampedArray(n * 4);
  const px = set.pixels.subarray(i * n, (i + 1) * n);
  for (let k = 0; k < n; k++) {
    rgba[4 * k] = rgba[4 * k + 1] = rgba[4 * k + 2] = px[k];
    rgba[4 * k + 3] = 255;
  }
  return { data: rgba, width: set.w, height: set.h };
}

const [modelPath, variant, config, indices] = process.argv.slice(2);
const set = readTestSet();
const model = await load(new Uint8Array(fs.readFileSync(modelPath)), { variant });
const results = [];
for (const index of indices.split(',').map(Number)) {
  const r = await model.classify(sampleImage(set, index), { config });
  results.push({ index, label: r.label, exit: r.exit, position: r.position, macs: r.macs, config: r.config });
}
process.stdout.write(JSON.stringify({ variant: model.variant, results }));
model.dispose();
