// Fashion-MNIST test images for the Node tests, read from Debian's files
// (gzip'd IDX) and normalised by a model's input spec.
import fs from 'node:fs';
import zlib from 'node:zlib';

const dir = '/usr/share/datasets/fashion-mnist';

export function readTestSet() {
  const images = zlib.gunzipSync(fs.readFileSync(`${dir}/t10k-images-idx3-ubyte.gz`));
  const labels = zlib.gunzipSync(fs.readFileSync(`${dir}/t10k-labels-idx1-ubyte.gz`));
  const count = images.readUInt32BE(4), h = images.readUInt32BE(8), w = images.readUInt32BE(12);
  return { count, h, w, pixels: images.subarray(16), labels: labels.subarray(8), dir };
}

/** Sample i as a normalised Float32Array (1×1×H×W), as `dyce eval` makes it. */
export function sampleTensor(set, i, spec) {
  const n = set.h * set.w, x = new Float32Array(n);
  const px = set.pixels.subarray(i * n, (i + 1) * n);
  // Float32 arithmetic in the same order as the C CLI.
  for (let k = 0; k < n; k++) x[k] = Math.fround(Math.fround(Math.fround(px[k] * spec.pixelScale) - spec.mean[0]) / spec.std[0]);
  return x;
}
