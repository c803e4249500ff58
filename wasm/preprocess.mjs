// Turns what a page has (ImageData, a canvas, a video, a VideoFrame, an
// ImageBitmap) into the model's input tensor, following the package's
// input spec: center-crop to the model's aspect ratio, resize, grayscale
// when the model takes one channel, then (pixel · pixelScale − mean) / std.
// Pixel arrays are resized here in plain JS (also under Node); drawable
// sources are cropped and resized by the browser on an OffscreenCanvas.
import { DyceError } from './engine.mjs';

const invalid = (message) => new DyceError('DYCE_INVALID_ARGUMENT', message);

/** The largest centered crop of a w×h image with the aspect ratio of outW×outH. */
export function centerCrop(w, h, outW, outH) {
  const scale = Math.min(w / outW, h / outH);
  const cw = outW * scale, ch = outH * scale;
  return { x: (w - cw) / 2, y: (h - ch) / 2, w: cw, h: ch };
}

/** Is `x` an ImageData or anything shaped like one ({data, width, height})? */
export function isPixelData(x) {
  return !!x && typeof x === 'object' && Number.isInteger(x.width) && Number.isInteger(x.height) &&
    (x.data instanceof Uint8ClampedArray || x.data instanceof Uint8Array);
}

/**
 * Box-filter resampling of the center crop of RGBA `src` (w×h) to outW×outH
 * RGBA. Every output pixel averages the source area it covers, weighting
 * the partly covered pixels at its edges, so downscaling does not alias.
 */
export function resizePixels({ data, width: w, height: h }, outW, outH) {
  if (data.length !== w * h * 4) throw invalid(`pixel data has ${data.length} bytes; ${w}×${h} RGBA needs ${w * h * 4}`);
  if (w === outW && h === outH) return data;
  const crop = centerCrop(w, h, outW, outH);
  const xs = spans(crop.x, crop.w / outW, outW), ys = spans(crop.y, crop.h / outH, outH);
  const out = new Uint8ClampedArray(outW * outH * 4);
  const acc = new Float64Array(4);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      acc.fill(0);
      let total = 0;
      for (const [sy, wy] of ys[oy]) {
        for (const [sx, wx] of xs[ox]) {
          const wgt = wy * wx, i = (sy * w + sx) * 4;
          acc[0] += wgt * data[i]; acc[1] += wgt * data[i + 1];
          acc[2] += wgt * data[i + 2]; acc[3] += wgt * data[i + 3];
          total += wgt;
        }
      }
      const o = (oy * outW + ox) * 4;
      for (let c = 0; c < 4; c++) out[o + c] = acc[c] / total;
    }
  }
  return out;
}

/** For each of `count` output pixels of width `step` from `start`: [[source index, coverage]]. */
function spans(start, step, count) {
  const result = [];
  for (let o = 0; o < count; o++) {
    const a = start + o * step, b = a + step, cells = [];
    for (let s = Math.floor(a); s < Math.ceil(b); s++) {
      const cover = Math.min(b, s + 1) - Math.max(a, s);
      if (cover > 1e-9) cells.push([s, cover]);
    }
    result.push(cells);
  }
  return result;
}

/**
 * RGBA bytes (width·height·4) → the model's input tensor, NCHW Float32Array
 * of 1×channels×height×width. One channel: BT.601 luma. `invert` maps p to
 * 255 − p first (a dark object on a light background, e.g. a camera picture,
 * for a model trained on light-on-dark images such as Fashion-MNIST).
 */
export function pixelsToTensor(rgba, width, height, channels, spec, { invert = false } = {}) {
  const n = width * height, x = new Float32Array(channels * n);
  for (let c = 0; c < channels; c++) {
    const scale = spec.pixelScale, mean = spec.mean[c], std = spec.std[c];
    for (let i = 0; i < n; i++) {
      const o = i * 4;
      let p = channels === 1 ? 0.299 * rgba[o] + 0.587 * rgba[o + 1] + 0.114 * rgba[o + 2] : rgba[o + c];
      if (invert) p = 255 - p;
      x[c * n + i] = (p * scale - mean) / std;
    }
  }
  return x;
}

/** Width and height of a drawable source, whatever its kind. */
export function sourceSize(source) {
  if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame)
    return { width: source.displayWidth, height: source.displayHeight };
  if (typeof HTMLVideoElement !== 'undefined' && source instanceof HTMLVideoElement)
    return { width: source.videoWidth, height: source.videoHeight };
  return { width: source.width, height: source.height };
}

const isDrawable = (x) => ['HTMLCanvasElement', 'OffscreenCanvas', 'HTMLVideoElement', 'VideoFrame', 'ImageBitmap', 'HTMLImageElement']
  .some((name) => typeof globalThis[name] !== 'undefined' && x instanceof globalThis[name]);

let scratch = null; // one reusable canvas: drawing is the hot path of a video loop

/** Center-crops and resizes a drawable source on an OffscreenCanvas; returns RGBA bytes. */
function drawPixels(source, outW, outH) {
  if (typeof OffscreenCanvas === 'undefined') throw invalid('drawing a canvas, video or bitmap needs OffscreenCanvas; pass ImageData or a Float32Array');
  const { width, height } = sourceSize(source);
  if (!(width > 0 && height > 0)) throw invalid(`the source has no pixels yet (${width}×${height}); is the video playing?`);
  if (!scratch || scratch.width !== outW || scratch.height !== outH) {
    scratch = new OffscreenCanvas(outW, outH);
    scratch.ctx = scratch.getContext('2d', { willReadFrequently: true });
  }
  const ctx = scratch.ctx, crop = centerCrop(width, height, outW, outH);
  ctx.imageSmoothingQuality = 'high';
  ctx.drawImage(source, crop.x, crop.y, crop.w, crop.h, 0, 0, outW, outH);
  return ctx.getImageData(0, 0, outW, outH).data;
}

/**
 * Any supported input → NCHW Float32Array for a model whose input is
 * [1, height, width, channels] (`dims`). A Float32Array is taken as the
 * already-normalised tensor and returned as is (the engine checks its size
 * and values).
 */
export function toTensor(input, dims, spec, options = {}) {
  const [, height, width, channels] = dims;
  if (input instanceof Float32Array) return input;
  let rgba;
  if (isPixelData(input)) rgba = resizePixels(input, width, height);
  else if (isDrawable(input)) rgba = drawPixels(input, width, height);
  else throw invalid(`cannot classify ${describe(input)}: pass ImageData, a canvas, a video, a VideoFrame, an ImageBitmap or a Float32Array`);
  return pixelsToTensor(rgba, width, height, channels, spec, options);
}

function describe(x) {
  if (x === null || x === undefined) return String(x);
  return x.constructor?.name ?? typeof x;
}
