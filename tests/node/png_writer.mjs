// An 8-bit PNG writer (filter 0, one IDAT) for tests that need picture
// files with exact pixel values: gray (1), gray + alpha (2), RGB (3) or
// RGBA (4) channels.
import zlib from 'node:zlib';

const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** One PNG chunk: length, tag, data, CRC. */
export function chunk(tag, data) {
  const body = Buffer.concat([Buffer.from(tag, 'latin1'), data]);
  const len = Buffer.alloc(4), crc = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

const COLOUR_TYPE = { 1: 0, 2: 4, 3: 2, 4: 6 };

/** PNG file bytes of `pixels` (a Buffer or byte array, row by row), `w`×`h`, `channels` per pixel. */
export function pngFile(pixels, w, h, channels = 1) {
  const ihdr = Buffer.alloc(13), row = w * channels, src = Buffer.from(pixels);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8; // bit depth; compression, filter and interlace methods 0
  ihdr[9] = COLOUR_TYPE[channels];
  const raw = Buffer.alloc(h * (row + 1));
  for (let y = 0; y < h; y++) src.copy(raw, y * (row + 1) + 1, y * row, (y + 1) * row);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr), chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
