// The visitor's own pictures (files or a folder chosen on the page), in the
// order of their paths. A picture's true label is the name of the folder it
// is in when the model has that label — the layout models/build.py reads
// (DIR/test/<class>/*), where a '/' in a label is written '_'.
import { centerCrop } from '../wasm/pixels.mjs';

const IMAGE_NAME = /\.(png|jpe?g|gif|webp|bmp|avif)$/i;

/** [{file, path, truth}] of the image files among `files`, sorted by path. */
export function listPictures(files, labels) {
  const label = new Map(labels.map((l) => [l, l]));
  for (const l of labels) if (!label.has(l.replaceAll('/', '_'))) label.set(l.replaceAll('/', '_'), l);
  return [...files]
    .filter((f) => f.type.startsWith('image/') || IMAGE_NAME.test(f.name))
    .map((file) => {
      const parts = (file.webkitRelativePath || file.name).split('/');
      return { file, path: parts.join('/'), truth: parts.length > 1 ? label.get(parts.at(-2)) : undefined };
    })
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The picture decoded (turned as its EXIF orientation says, as a browser shows it). */
export function decodePicture(picture) {
  return createImageBitmap(picture.file, { imageOrientation: 'from-image' });
}

/** Draws what the model sees of `bitmap` (its center crop) on the canvas. */
export function drawPicture(context, bitmap) {
  const { width, height } = context.canvas;
  const c = centerCrop(bitmap.width, bitmap.height, width, height);
  context.drawImage(bitmap, c.x, c.y, c.w, c.h, 0, 0, width, height);
}
