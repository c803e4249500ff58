// Pixel arithmetic, the same everywhere a picture becomes a tensor
// (docs/FORMAT.md, "Image files"; models/dyce_build/images.py and the C
// preprocessing follow the same steps): the centred crop, the box-filter
// resize, alpha over black, gray or BT.601 luma, one rounding to a byte,
// then (pixel · pixelScale − mean) / std.
import { DyceError } from './errors.mjs';

const invalid = (message, field = 'input') => new DyceError('DYCE_INVALID_ARGUMENT', message, { field });

/** The largest centered crop of a w×h image with the aspect ratio of outW×outH. */
export function centerCrop(w, h, outW, outH) {
  const scale = Math.min(w / outW, h / outH);
  const cw = outW * scale, ch = outH * scale;
  return { x: (w - cw) / 2, y: (h - ch) / 2, w: cw, h: ch };
}

/**
 * Byte pixels with alpha (`ch` 2 or 4) laid over black, as a browser
 * draws a picture on a cleared canvas: each colour byte becomes
 * round(v · a / 255) and alpha 255, as models/dyce_build/images.py and
 * the engine's PNG decoder do, so that bytes, pictures and training
 * images agree on transparent parts (a cut-out whose background is white
 * but transparent reads as black everywhere). A copy, or `data` itself
 * when every pixel is opaque (a video frame, a JPEG).
 */
export function overBlack(data, ch) {
  let i = ch - 1;
  while (i < data.length && data[i] === 255) i += ch;
  if (i >= data.length) return data;
  const out = new Uint8ClampedArray(data.length);
  for (let i = 0; i < data.length; i += ch) {
    const a = data[i + ch - 1];
    for (let c = 0; c < ch - 1; c++) out[i + c] = Math.floor((data[i + c] * a + 127) / 255);
    out[i + ch - 1] = 255;
  }
  return out;
}

/**
 * Box-filter resampling of the center crop of byte image `src` (w×h, `ch`
 * = 1, 2, 3 or 4 channels) to
 * outW×outH with the same channels. Every output pixel
 * averages the source area it covers, weighting the partly covered pixels
 * at its edges, so downscaling does not alias. The values are returned
 * unrounded (Float64Array; the bytes themselves when the size is already
 * right): they are rounded once, after luma, as docs/FORMAT.md says.
 */
export function resizePixels(src, outW, outH, ch) {
  const { data, width: w, height: h } = src;
  if (w === outW && h === outH) return data;
  const crop = centerCrop(w, h, outW, outH);
  const xs = spans(crop.x, crop.w / outW, outW, w), ys = spans(crop.y, crop.h / outH, outH, h);
  // Separable, rows first then columns, each a sum in the same order as
  // src/cli/image_input.c (and images.py's Wy @ plane @ Wx.T), so that a
  // value at a rounding tie rounds the same way in every implementation.
  const out = new Float64Array(outW * outH * ch), row = new Float64Array(w * ch);
  for (let oy = 0; oy < outH; oy++) {
    row.fill(0);
    for (const [sy, wy] of ys[oy])
      for (let i = 0, at = sy * w * ch; i < w * ch; i++) row[i] += wy * data[at + i];
    for (let ox = 0; ox < outW; ox++) {
      const o = (oy * outW + ox) * ch;
      for (const [sx, wx] of xs[ox])
        for (let c = 0; c < ch; c++) out[o + c] += row[sx * ch + c] * wx;
    }
  }
  return out;
}

/**
 * For each of `count` output pixels of width `step` from `start`: [[source
 * index, weight]], the coverage of source pixels 0..size-1 normalised to sum 1.
 */
function spans(start, step, count, size) {
  const result = [];
  for (let o = 0; o < count; o++) {
    const a = start + o * step, b = a + step, cells = [];
    let sum = 0;
    for (let s = Math.floor(a); s < Math.ceil(b); s++) {
      const cover = Math.min(b, s + 1) - Math.max(a, s);
      if (cover > 1e-9 && s >= 0 && s < size) {
        cells.push([s, cover]);
        sum += cover;
      }
    }
    result.push(cells.map(([s, c]) => [s, c / sum]));
  }
  return result;
}

/**
 * A pixel value (resized, or luma of colour) rounded half to even to a
 * byte, as the build holds its training data (models/dyce_build/images.py)
 * and the engine's C preprocessing rounds.
 */
function byteOf(v) {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Whether every pixel of `data` (`ch` ≥ 3 channels) has R = G = B. */
export function grayPixels(data, ch) {
  for (let i = 0; i < data.length; i += ch)
    if (data[i] !== data[i + 1] || data[i + 1] !== data[i + 2]) return false;
  return true;
}

/**
 * Pixel values (bytes, or a resize's unrounded values) of `pixelChannels`
 * channels per pixel (1 gray, 2 gray + alpha, 3 RGB, 4 RGBA; default 4) →
 * the model's input tensor, NCHW Float32Array of 1×channels×height×width.
 * A one-channel model takes the gray value of a gray picture (`gray`: one
 * or two channels, or colour whose every pixel has R = G = B, as the C
 * decoders decide) and BT.601 luma of colour; a three-channel model takes
 * gray replicated. Each value is rounded to a byte (byteOf). `invert` maps
 * p to 255 − p then (a dark object on a light background, e.g. a camera
 * picture, for a model trained on light-on-dark images such as
 * Fashion-MNIST).
 */
export function pixelsToTensor(pixels, width, height, channels, spec,
  { invert = false, pixelChannels: pc = 4, gray: grayColour = false } = {}) {
  const gray = pc <= 2, luma = !gray && !grayColour;
  if (channels !== 1 && gray && channels !== 3)
    throw invalid(`the model takes ${channels} channels; a gray image cannot give them`, 'input.channels');
  if (channels !== 1 && channels !== 3 && pc !== channels)
    throw invalid(`the model takes ${channels} channels; pass an image with ${channels}`, 'input.channels');
  const n = width * height, x = new Float32Array(channels * n);
  for (let c = 0; c < channels; c++) {
    const scale = spec.pixelScale, mean = spec.mean[c], std = spec.std[c];
    for (let i = 0; i < n; i++) {
      const o = i * pc;
      let p = byteOf(gray ? pixels[o]
        : channels !== 1 ? pixels[o + c]
          : luma ? 0.299 * pixels[o] + 0.587 * pixels[o + 1] + 0.114 * pixels[o + 2] : pixels[o]);
      if (invert) p = 255 - p;
      x[c * n + i] = (p * scale - mean) / std;
    }
  }
  return x;
}
