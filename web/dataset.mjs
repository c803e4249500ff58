// Fashion-MNIST test images with their true labels, read from Debian's
// gzip'd IDX files (served by scripts/serve.mjs under /data/fashion-mnist/)
// and gunzipped by the browser.

// The labels of the set's classes 0..9 (a package with other labels gets no true labels from it).
export const LABELS = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];

async function gunzipped(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`cannot fetch ${url}: HTTP ${response.status}`);
  const stream = response.body.pipeThrough(new DecompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Big-endian u32 at `offset`. */
const u32 = (bytes, offset) => new DataView(bytes.buffer, bytes.byteOffset).getUint32(offset);

/** Parses IDX3 images and IDX1 labels: {count, width, height, pixels, labels}. */
export function parseIdx(images, labels) {
  if (u32(images, 0) !== 0x803 || u32(labels, 0) !== 0x801) throw new Error('not IDX image/label files');
  const count = u32(images, 4), height = u32(images, 8), width = u32(images, 12);
  if (u32(labels, 4) !== count) throw new Error(`${count} images but ${u32(labels, 4)} labels`);
  return { count, width, height, pixels: images.subarray(16), labels: labels.subarray(8) };
}

export async function loadTestSet(base = '/data/fashion-mnist/') {
  const [images, labels] = await Promise.all([
    gunzipped(`${base}t10k-images-idx3-ubyte.gz`), gunzipped(`${base}t10k-labels-idx1-ubyte.gz`),
  ]);
  return parseIdx(images, labels);
}

/** Sample i of the set as RGBA ImageData (gray on every channel). */
export function sampleImage(set, i) {
  const n = set.width * set.height, rgba = new Uint8ClampedArray(n * 4);
  const px = set.pixels.subarray(i * n, (i + 1) * n);
  for (let k = 0; k < n; k++) {
    rgba[4 * k] = rgba[4 * k + 1] = rgba[4 * k + 2] = px[k];
    rgba[4 * k + 3] = 255;
  }
  return new ImageData(rgba, set.width, set.height);
}
