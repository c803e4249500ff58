// The visitor's own pictures (files or a folder chosen on the page), in the
// order of their paths. A picture's true label is the name of the folder
// on its path that the model has as a label — the layout models/build.py
// reads (DIR/test/<class>/…), where a '/' in a label is written '_'.
import { centerCrop } from '../wasm/pixels.mjs';

const IMAGE_NAME = /\.(png|jpe?g|gif|webp|bmp|avif)$/i;

/**
 * [{file, path, truth}] of the image files among `files`, sorted by path,
 * read as the builder reads a folder (models/dyce_build/folders.py): hidden
 * files and folders (.DS_Store, ._x.png AppleDouble files, .thumbnails/)
 * and __MACOSX/ are left out, and a picture's class is the first folder on
 * its path named as a label (test/Bag/batch1/x.png is a Bag), so files
 * nested in a class folder keep their class.
 */
export function listPictures(files, labels) {
  const label = new Map(labels.map((l) => [l, l]));
  for (const l of labels) if (!label.has(l.replaceAll('/', '_'))) label.set(l.replaceAll('/', '_'), l);
  const shown = (part) => !part.startsWith('.') && part !== '__MACOSX';
  return [...files]
    .map((file) => ({ file, parts: (file.webkitRelativePath || file.name).split('/') }))
    .filter(({ file, parts }) => parts.every(shown) &&
      (file.type.startsWith('image/') || IMAGE_NAME.test(file.name)))
    .map(({ file, parts }) => ({
      file, path: parts.join('/'),
      truth: label.get(parts.slice(0, -1).find((p) => label.has(p))),
    }))
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
