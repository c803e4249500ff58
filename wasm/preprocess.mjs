// Turns what a page has (ImageData, byte images of 1, 3 or 4 channels, a
// canvas, a video, a VideoFrame, an ImageBitmap) into the model's input
// tensor, following the package's input spec: center-crop to the model's
// aspect ratio, resize, grayscale when the model takes one channel, then
// (pixel · pixelScale − mean) / std. Pixel arrays are resized here in plain
// JS (also under Node); drawable sources are cropped and resized by the
// browser on an OffscreenCanvas. A float tensor is taken only in the
// explicit form {tensor, layout, normalized: true}, and only with values a
// normalised picture can have: a bare Float32Array (raw pixels? 0–1?
// normalised?) is refused rather than answered wrongly.
import { encodedDamage, encodedKind } from './encoded.mjs';
import { DyceError, shown } from './errors.mjs';
import { isNode } from './io.mjs';
import { distance } from './options.mjs';
import { centerCrop, grayPixels, overBlack, pixelsToTensor, resizePixels } from './pixels.mjs';

const invalid = (message, field = 'input') => new DyceError('DYCE_INVALID_ARGUMENT', message, { field });

/**
 * Is `x` meant as an ImageData or a byte image ({data, width, height,
 * channels?})? Its parts are checked by pixelChannels, which names the
 * one that is wrong.
 */
export function isPixelData(x) {
  return !!x && typeof x === 'object' && 'data' in x && 'width' in x && 'height' in x;
}

const PIXEL_KEYS = ['data', 'width', 'height', 'channels', 'colorSpace']; // colorSpace: ImageData's
const TENSOR_KEYS = ['tensor', 'layout', 'normalized'];

/**
 * A key of a plain input object that looks like a misspelt one it takes
 * (`chanels`, `Width`, `normalised`: otherwise ignored, and the channels
 * guessed) is refused. Other keys are left alone: decoders hand back
 * objects with more fields (pngjs: depth, colorType, gamma, …). Objects
 * of a class (ImageData, a polyfill's) are left as they are.
 */
function onlyKeys(x, known) {
  const proto = Object.getPrototypeOf(x);
  if (proto !== Object.prototype && proto !== null) return;
  for (const key of Object.keys(x)) {
    const meant = known.includes(key) ? undefined : known.find((k) => misspelt(key, k));
    if (meant !== undefined)
      throw invalid(`input has no field ${shown(key)} (did you mean ${shown(meant)}?); ${known === TENSOR_KEYS ? 'a tensor is {tensor, layout, normalized: true}' : 'pixels are {data, width, height, channels}'}`, `input.${key}`);
  }
}

/** Is `key` `known` in another case, or (for names of 4 letters or more) at most two edits from it? */
function misspelt(key, known) {
  return known.length < 4 ? key.toLowerCase() === known.toLowerCase() : distance(key, known) <= 2;
}

const TYPED_SLICE = Object.getPrototypeOf(Uint8Array).prototype.slice;

/**
 * Pixel data or a tensor form with its bytes copied (a call that runs
 * later must see them as they were when it was made); ImageData becomes
 * {data, width, height} (its fields are getters, and it cannot always be
 * rebuilt with its colour space). Anything else as it is.
 */
export function snapshotBytes(input) {
  if (input === null || typeof input !== 'object') return input;
  const plain = [Object.prototype, null].includes(Object.getPrototypeOf(input));
  // TypedArray's own slice (a copy): a Node Buffer's slice() is a view.
  if (isTensorForm(input) && ArrayBuffer.isView(input.tensor) && plain)
    return { ...input, tensor: TYPED_SLICE.call(input.tensor) };
  if (!isPixelData(input) || !ArrayBuffer.isView(input.data)) return input;
  const data = TYPED_SLICE.call(input.data);
  if (plain) return { ...input, data };
  const copy = { data, width: input.width, height: input.height };
  if (input.channels !== undefined) copy.channels = input.channels;
  return copy;
}

/** make() (a copy of bitmap or frame `input`), or the DyceError of a closed one. */
export function copied(make, input) {
  try {
    return make();
  } catch (e) {
    throw closedOrBad(e, input);
  }
}

export function closedOrBad(e, input) {
  const name = input.constructor?.name;
  return new DyceError('DYCE_BAD_INPUT', `cannot copy the ${name}${e?.name === 'InvalidStateError' ? ' (was it closed?)' : ''}: ${e?.message ?? e}`, { field: 'input', cause: e });
}

/**
 * `input` as it is now, for a call that runs after an earlier one still
 * decoding its picture: bytes copied (snapshotBytes); a canvas, video or
 * ImageBitmap drawn as it is on a canvas of its own, a VideoFrame cloned
 * (the page may draw, play on, or close them meanwhile). A Blob or an
 * <img> does not change under the caller. → { input, close }.
 */
export function snapshotInput(input) {
  if (isPixelData(input) || isTensorForm(input)) return { input: snapshotBytes(input), close() {} };
  if (isA(input, 'VideoFrame')) {
    const frame = copied(() => input.clone(), input);
    return { input: frame, close: () => frame.close() };
  }
  if (typeof OffscreenCanvas !== 'undefined' && isA(input, 'HTMLCanvasElement', 'OffscreenCanvas', 'HTMLVideoElement', 'ImageBitmap')) {
    const { width, height } = sourceSize(input);
    if (width > 0 && height > 0) {
      const copy = new OffscreenCanvas(width, height);
      copy.getContext('2d').drawImage(input, 0, 0);
      return { input: copy, close() {} };
    }
  }
  return { input, close() {} };
}

/**
 * The channel count of byte image `x`: `x.channels` (1 gray, 2 gray +
 * alpha, 3 RGB or 4 RGBA), else what its length says (1, 3 or 4;
 * ImageData: 4; two bytes a pixel could as well be 16-bit gray, so gray +
 * alpha must be named). Refuses data that is not bytes, a size that is not
 * whole pixels and a length that does not fit.
 */
export function pixelChannels(x) {
  onlyKeys(x, PIXEL_KEYS);
  const { data, width: w, height: h, channels } = x;
  if (!(data instanceof Uint8ClampedArray || data instanceof Uint8Array))
    throw invalid(`input.data must be a Uint8Array or Uint8ClampedArray of bytes (0–255), not ${describe(data)}${typeof data === 'function' ? ' (a canvas of a Node library? pass its getContext(\'2d\').getImageData(0, 0, width, height))' : ''}`, 'input.data');
  for (const [name, v] of [['width', w], ['height', h]])
    if (!(Number.isInteger(v) && v > 0)) throw invalid(`input.${name} must be a whole number of pixels > 0, not ${describe(v, true)}`, `input.${name}`);
  if (channels !== undefined && ![1, 2, 3, 4].includes(channels))
    throw invalid(`channels is ${describe(channels, true)}; byte images have 1 (gray), 2 (gray + alpha), 3 (RGB) or 4 (RGBA) channels`, 'input.channels');
  const c = channels ?? data.length / (w * h);
  if (![1, 3, 4].includes(c) && !(c === 2 && channels === 2) || data.length !== w * h * c)
    throw invalid(`pixel data has ${data.length} bytes; ${w}×${h} needs ${channels ? w * h * channels : `${w * h} (gray), ${w * h * 3} (RGB) or ${w * h * 4} (RGBA)${c === 2 ? ', or pass channels: 2 for gray + alpha' : ''}`}`, 'input.data');
  return c;
}

/**
 * The values a normalised input of channel c can take under `spec`:
 * [lo, hi] = the images of pixels 0 and 255.
 */
function normalisedRange(spec, c) {
  const a = (0 * spec.pixelScale - spec.mean[c]) / spec.std[c], b = (255 * spec.pixelScale - spec.mean[c]) / spec.std[c];
  return a < b ? [a, b] : [b, a];
}

/**
 * Checks the explicit tensor form {tensor: Float32Array, layout: "nchw" |
 * "nhwc", normalized: true}: a value no normalised picture can have (raw
 * 0–255 pixels, say) is refused with DYCE_BAD_INPUT. Sizes, NaN and
 * infinities are left to the engine, which names them.
 */
function checkTensorForm(input, dims, spec) {
  onlyKeys(input, TENSOR_KEYS);
  const { tensor, layout, normalized } = input;
  if (!(tensor instanceof Float32Array))
    throw invalid(`input.tensor must be a Float32Array, not ${describe(tensor)}`, 'input.tensor');
  if (layout !== 'nchw' && layout !== 'nhwc')
    throw invalid(`unknown layout ${JSON.stringify(layout)}: input.layout must be "nchw" or "nhwc"`, 'input.layout');
  if (normalized !== true)
    throw invalid('input.normalized must be true: a tensor is taken only already normalised as the package\'s input spec says ((pixel · pixelScale − mean) / std); pass pixels as {data, width, height, channels}', 'input.normalized');
  const [, height, width, channels] = dims, n = height * width;
  if (tensor.length !== n * channels) return;
  const ranges = Array.from({ length: channels }, (_, c) => normalisedRange(spec, c));
  for (let i = 0; i < tensor.length; i++) {
    const v = tensor[i], c = layout === 'nchw' ? Math.floor(i / n) : i % channels, [lo, hi] = ranges[c];
    const slack = 1e-4 * (hi - lo) + 1e-6;
    if (Number.isFinite(v) && (v < lo - slack || v > hi + slack))
      throw new DyceError('DYCE_BAD_INPUT', `input.tensor[${i}] is ${v}, outside [${lo.toFixed(4)}, ${hi.toFixed(4)}], the values a normalised input can take (pixel · ${spec.pixelScale} − ${spec.mean[c]}) / ${spec.std[c]}: raw pixels? pass them as {data, width, height, channels}`, { field: 'input.tensor' });
  }
}

/** Is `x` an instance of one of the named classes, where this host has them? */
export const isA = (x, ...names) => names.some((name) => typeof globalThis[name] === 'function' && x instanceof globalThis[name]);

/**
 * Width and height of a drawable source in the coordinates drawImage and
 * createImageBitmap crop in: an <img>'s natural size, not its width
 * attribute or layout size.
 */
export function sourceSize(source) {
  if (isA(source, 'VideoFrame')) return { width: source.displayWidth, height: source.displayHeight };
  if (isA(source, 'HTMLVideoElement')) return { width: source.videoWidth, height: source.videoHeight };
  if (isA(source, 'HTMLImageElement')) return { width: source.naturalWidth, height: source.naturalHeight };
  return { width: source.width, height: source.height };
}

/** The DyceError for a drawable source without pixels, saying what to do for its kind. */
export function emptySource(source) {
  const { width, height } = sourceSize(source);
  const why = isA(source, 'HTMLVideoElement') ? 'is the video playing?' : isA(source, 'VideoFrame') ? 'was the frame closed?'
    : isA(source, 'HTMLImageElement') ? 'has the image loaded?' : isA(source, 'ImageBitmap') ? 'was the bitmap closed?' : 'give the canvas a size';
  return invalid(`the source has no pixels (${width}×${height}); ${why}`);
}

/** The DyceError for an <img> (`url`) or a Blob that did not decode. */
const COEP_HINT = '; on a cross-origin-isolated page a picture from another origin loads only with CORS (img.crossOrigin = \'anonymous\' and Access-Control-Allow-Origin) or a Cross-Origin-Resource-Policy header';

/** Is `url` of another origin than this cross-origin-isolated page (where COEP blocks it unless it opts in)? */
function isolatedForeign(url) {
  try {
    return globalThis.crossOriginIsolated === true && new URL(url, globalThis.location.href).origin !== globalThis.location.origin;
  } catch {
    return false;
  }
}

function undecodable(what, url, cause) {
  return new DyceError('DYCE_BAD_INPUT', `cannot decode ${what}: ${cause?.message ?? cause}`, { field: 'input', url, cause });
}

/** The explicit tensor form {tensor, layout, normalized}. */
const isTensorForm = (x) => !!x && typeof x === 'object' && 'tensor' in x;

/** Does classify have to decode `input` first (a Blob or File, an <img> still loading or broken)? */
export function needsDecoding(input) {
  // Pixels and tensors first, without touching DOM globals: a page's first
  // look at globalThis.HTMLImageElement took 0.7-5 ms in Chromium.
  if (isPixelData(input) || isTensorForm(input)) return false;
  return isA(input, 'Blob') || (isA(input, 'HTMLImageElement') && !(input.complete && input.naturalWidth > 0));
}

/**
 * `input` ready to draw: a Blob or File (an encoded image: PNG, JPEG,
 * WebP, …) decoded to an ImageBitmap by createImageBitmap, an <img> that is
 * still loading awaited (img.decode()). A picture that cannot be decoded
 * (a broken file, an <img> whose load failed) is DYCE_BAD_INPUT with the
 * image's `url`; so is a PNG or JPEG file cut short (./encoded.mjs), which
 * browsers would decode, each filling the rest its own way. → { input,
 * close() } (close frees a bitmap made here).
 */
export async function decodeInput(input) {
  if (isA(input, 'Blob')) {
    if (typeof createImageBitmap !== 'function')
      throw new DyceError('DYCE_UNSUPPORTED', 'decoding an encoded image (a Blob or File) needs createImageBitmap (browsers and their workers); decode it first (under Node e.g. with sharp: sharp(bytes).raw().toBuffer({ resolveWithObject: true })) and pass {data, width, height, channels}', { field: 'input' });
    const what = `the ${input.name ? `file '${input.name}'` : `Blob (${input.type || 'no type'}, ${input.size} bytes)`} as an image`;
    let bitmap;
    try {
      // Read once: the check and the decoder take the same bytes (a File
      // would be read from disk again).
      const bytes = await input.arrayBuffer(), damage = encodedDamage(new Uint8Array(bytes));
      if (damage) throw new Error(damage);
      bitmap = await createImageBitmap(new Blob([bytes], { type: input.type }));
    } catch (e) {
      throw undecodable(what, undefined, e);
    }
    return { input: bitmap, close: () => bitmap.close() };
  }
  if (isA(input, 'HTMLImageElement') && !(input.complete && input.naturalWidth > 0)) {
    // Chromium fills currentSrc of a srcset-only <img> a moment later.
    const url = input.currentSrc || input.src || undefined;
    if (!url && !input.srcset) throw invalid('the <img> has no src');
    const img = input.loading === 'lazy' ? eagerCopy(input) : input;
    try {
      await img.decode();
    } catch (e) {
      const where = img.currentSrc || url || input.srcset;
      throw undecodable(`the image ${where} (it failed to load, or is not a picture${isolatedForeign(where) ? COEP_HINT : ''})`, img.currentSrc || url, e);
    }
    if (!(img.naturalWidth > 0)) throw emptySource(img);
    return { input: img, close() {} };
  }
  return { input, close() {} };
}

/**
 * A lazy <img> (loading="lazy") away from the viewport is not fetched, and
 * its decode() waits until the page scrolls to it (Chromium, WebKit) or
 * fails (Firefox): the same picture through a new, eager <img>, leaving
 * the page's element as it is.
 */
function eagerCopy(img) {
  const copy = new Image();
  if (img.crossOrigin !== null) copy.crossOrigin = img.crossOrigin;
  copy.referrerPolicy = img.referrerPolicy;
  if (img.srcset) {
    copy.sizes = img.sizes;
    copy.srcset = img.srcset;
  }
  if (img.getAttribute('src') !== null) copy.src = img.src;
  return copy;
}

const isDrawable = (x) => ['HTMLCanvasElement', 'OffscreenCanvas', 'HTMLVideoElement', 'VideoFrame', 'ImageBitmap', 'HTMLImageElement']
  .some((name) => isA(x, name));

let scratch = null; // one reusable canvas: drawing is the hot path of a video loop

let frameCanvas = null; // a VideoFrame's whole picture, when it is cropped (below)
let frameCropWorks = null; // does this engine's drawImage crop a VideoFrame? (probed once)

/**
 * WebKitGTK 2.50's drawImage ignores the source rectangle of a VideoFrame
 * (it drew the whole frame: 46 of 200 wide test pictures answered wrong).
 * Probed once, on a 2×1 frame (red, blue) cropped to its blue pixel;
 * a host that cannot run the probe is taken to have the fault.
 */
function frameCropHonoured() {
  if (frameCropWorks !== null) return frameCropWorks;
  try {
    const two = new OffscreenCanvas(2, 1), ctx = two.getContext('2d');
    ctx.fillStyle = '#f00';
    ctx.fillRect(0, 0, 1, 1);
    ctx.fillStyle = '#00f';
    ctx.fillRect(1, 0, 1, 1);
    const frame = new VideoFrame(two, { timestamp: 0 }), one = new OffscreenCanvas(1, 1).getContext('2d');
    one.drawImage(frame, 1, 0, 1, 1, 0, 0, 1, 1);
    frame.close();
    const [r, , b] = one.getImageData(0, 0, 1, 1).data;
    frameCropWorks = r < 50 && b > 200;
  } catch {
    frameCropWorks = false;
  }
  return frameCropWorks;
}

/**
 * `source`, or, for a VideoFrame that is cropped where drawImage would
 * not crop it, its picture drawn whole on a canvas first (a whole-frame
 * draw is exact in every engine). Elsewhere no extra draw: this is a
 * video loop's hot path.
 */
function croppable(source, width, height, crop) {
  if (!isA(source, 'VideoFrame') || (Math.abs(crop.w - width) < 0.5 && Math.abs(crop.h - height) < 0.5) || frameCropHonoured()) return source;
  if (!frameCanvas || frameCanvas.width !== width || frameCanvas.height !== height) {
    frameCanvas = new OffscreenCanvas(width, height);
    frameCanvas.ctx = frameCanvas.getContext('2d');
  }
  frameCanvas.ctx.clearRect(0, 0, width, height);
  frameCanvas.ctx.drawImage(source, 0, 0);
  return frameCanvas;
}

/**
 * An <img> as the main thread's classify draws it, as {data, width,
 * height, channels: 4} at the model's size (`outW`×`outH`): what the
 * Worker API sends for one, so that both give the same answer (Firefox's
 * createImageBitmap of an SVG picture with a crop and a size draws it at
 * half size in a corner, and its resampling differs from drawImage's).
 */
export function drawnPicture(source, outW, outH) {
  return { data: drawPixels(source, outW, outH), width: outW, height: outH, channels: 4 };
}

/** Center-crops and resizes a drawable source on an OffscreenCanvas; returns RGBA bytes. */
function drawPixels(source, outW, outH) {
  if (typeof OffscreenCanvas === 'undefined') throw invalid('drawing a canvas, video or bitmap needs OffscreenCanvas; pass ImageData or {data, width, height, channels}');
  const { width, height } = sourceSize(source);
  if (!(width > 0 && height > 0)) throw emptySource(source);
  if (isA(source, 'HTMLImageElement') && !source.complete)
    throw invalid('the <img> is still loading: await img.decode() first (model.classify does), or use classifyNow only on loaded images');
  if (!scratch || scratch.width !== outW || scratch.height !== outH) {
    scratch = new OffscreenCanvas(outW, outH);
    scratch.ctx = scratch.getContext('2d', { willReadFrequently: true });
  }
  const ctx = scratch.ctx, crop = centerCrop(width, height, outW, outH);
  ctx.imageSmoothingQuality = 'high';
  try {
    // Cleared first: drawing blends over what is there, so the transparent
    // parts of a picture would show the previous one.
    ctx.clearRect(0, 0, outW, outH);
    ctx.drawImage(croppable(source, width, height, crop), crop.x, crop.y, crop.w, crop.h, 0, 0, outW, outH);
    return ctx.getImageData(0, 0, outW, outH).data;
  } catch (e) {
    if (e?.name !== 'SecurityError') throw new DyceError('DYCE_BAD_INPUT', `cannot draw the ${describe(source)}: ${e?.message ?? e}`, { field: 'input', cause: e });
    // Drawing tainted the canvas: a fresh one for the next picture.
    scratch = null;
    const url = isA(source, 'HTMLImageElement') ? source.currentSrc || source.src : undefined;
    throw new DyceError('DYCE_CROSS_ORIGIN', `cannot read the pixels of a cross-origin ${url ? `image ${url}` : describe(source)}: the server must allow it (Access-Control-Allow-Origin) and the page must ask (img.crossOrigin = 'anonymous' before setting src)`, { field: 'input', url, cause: e });
  }
}

/**
 * Any supported input → { tensor, layout } for a model whose input is
 * [1, height, width, channels] (`dims`): pictures become NCHW tensors;
 * the explicit form {tensor, layout, normalized: true} is checked and
 * passed on.
 */
export function toTensor(input, dims, spec, options = {}) {
  const [, height, width, channels] = dims;
  if (input instanceof Float32Array)
    throw invalid('a bare Float32Array is ambiguous (raw pixels, 0–1, or normalised?): pass a normalised tensor as {tensor, layout: "nchw" | "nhwc", normalized: true}, or pixels as {data: Uint8Array, width, height, channels}');
  if (isTensorForm(input)) {
    checkTensorForm(input, dims, spec);
    return { tensor: input.tensor, layout: input.layout };
  }
  let pixels, pc = 4, gray = false;
  // A model of four channels takes alpha as it is; others, the picture over black.
  const opaque = (ch) => (ch === 2 || ch === 4) && channels !== 4;
  if (isPixelData(input)) {
    pc = pixelChannels(input);
    const src = opaque(pc) ? { data: overBlack(input.data, pc), width: input.width, height: input.height } : input;
    gray = channels === 1 && pc >= 3 && grayPixels(src.data, pc);
    pixels = resizePixels(src, width, height, pc); // checked once, above
  } else if (isDrawable(input)) {
    pixels = drawPixels(input, width, height);
    if (opaque(4)) pixels = overBlack(pixels, 4);
    gray = channels === 1 && grayPixels(pixels, 4);
  } else {
    throw unclassifiable(input);
  }
  return { tensor: pixelsToTensor(pixels, width, height, channels, spec, { ...options, pixelChannels: pc, gray }), layout: 'nchw' };
}

/** Whether some path takes `input`: pixels, a tensor form, a drawable, a VideoFrame or an encoded Blob. */
export function classifiable(input) {
  return input instanceof Float32Array || isPixelData(input) || isTensorForm(input) || isDrawable(input) || isA(input, 'Blob');
}

/** The DyceError for an input no path takes. */
export function unclassifiable(input) {
  const kind = encodedKind(input);
  if (kind) {
    // The bytes of a file (fs.readFileSync, an upload): say how to decode them here.
    return invalid(`cannot classify ${describe(input)}: it holds an encoded ${kind} file; ${isNode
      ? 'Node has no image decoder here: decode it first (e.g. with sharp: const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true })) and pass {data, width: info.width, height: info.height, channels: info.channels}'
      : 'pass it as new Blob([bytes]) (classify decodes it), or decoded as {data, width, height, channels}'}`);
  }
  return invalid(`cannot classify ${describe(input)}: pass ImageData, {data: Uint8Array, width, height, channels}, a canvas, a video, a VideoFrame, an ImageBitmap, an <img>, a Blob or File of an image (classify, not classifyNow) or {tensor, layout, normalized: true}`);
}

/** What `x` is, for a message: its class, or (`value`) a primitive's value. */
function describe(x, value = false) {
  if (x === null || x === undefined) return String(x);
  if (value && typeof x !== 'object') return shown(x);
  return x.constructor?.name ?? typeof x;
}
