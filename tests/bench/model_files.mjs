// A benchmark model's files (build/benchmodels, make_models.py and
// make_int8_models.py) as runtimes.mjs takes them: the op list, and the
// bytes of each file. The int8 files are optional: `files.missing` maps
// the key of each one that is not there to its file name (its runtime is
// skipped).
import fs from 'node:fs';
import path from 'node:path';

export const EXTENSIONS = { dyce: 'dyce', onnx: 'onnx', tfjsBin: 'tfjs.bin' };
/** NAME-<suffix>: the int8 package and its QDQ ONNX form. */
export const INT8_SUFFIXES = { dyceInt8: 'int8.dyce', onnxInt8: 'int8.qdq.onnx' };

export function readModel(dir, name) {
  const read = (ext) => fs.readFileSync(path.join(dir, `${name}.${ext}`));
  const files = { plan: JSON.parse(read('tfjs.json')), missing: {} };
  for (const [key, ext] of Object.entries(EXTENSIONS)) files[key] = read(ext);
  for (const [key, suffix] of Object.entries(INT8_SUFFIXES)) {
    const file = path.join(dir, `${name}-${suffix}`);
    if (fs.existsSync(file)) files[key] = fs.readFileSync(file);
    else files.missing[key] = `${name}-${suffix}`;
  }
  return files;
}
