// A benchmark model's files (build/benchmodels, make_models.py) as
// runtimes.mjs takes them: the op list, and the bytes of each file.
import fs from 'node:fs';
import path from 'node:path';

export const EXTENSIONS = { dyce: 'dyce', onnx: 'onnx', tfjsBin: 'tfjs.bin' };

export function readModel(dir, name) {
  const read = (ext) => fs.readFileSync(path.join(dir, `${name}.${ext}`));
  const files = { plan: JSON.parse(read('tfjs.json')) };
  for (const [key, ext] of Object.entries(EXTENSIONS)) files[key] = read(ext);
  return files;
}
