// Encoded pictures (PNG and JPEG files) as bytes: what kind a file is, and
// whether it is whole. Browsers decode a file cut short without a word —
// Firefox fills the missing rows with white, WebKit with transparent
// black, Chromium refuses — so a half-uploaded picture would be answered
// differently in each (with 99.8 % confidence in Firefox); classify checks
// the file's structure first, as the engine's own decoder does (the CLI).

/** 'PNG' or 'JPEG' when bytes `x` (a typed array or ArrayBuffer) start as that file does, else null. */
export function encodedKind(x) {
  const view = ArrayBuffer.isView(x) ? new Uint8Array(x.buffer, x.byteOffset, Math.min(4, x.byteLength))
    : x instanceof ArrayBuffer ? new Uint8Array(x, 0, Math.min(4, x.byteLength)) : null;
  if (!view || view.length < 4) return null;
  if (view[0] === 0x89 && view[1] === 0x50 && view[2] === 0x4e && view[3] === 0x47) return 'PNG';
  return view[0] === 0xff && view[1] === 0xd8 && view[2] === 0xff ? 'JPEG' : null;
}

/** Why a PNG file (`b`, bytes) is not whole, or null: its chunks must reach IEND inside the file. */
function pngDamage(b) {
  const be32 = (i) => ((b[i] << 24) | (b[i + 1] << 16) | (b[i + 2] << 8) | b[i + 3]) >>> 0;
  for (let pos = 8; ;) {
    if (pos + 8 > b.length) return `PNG: the file ends after ${b.length} bytes, before its IEND chunk (cut short?)`;
    const length = be32(pos), type = String.fromCharCode(b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]);
    if (pos + 12 + length > b.length) return `PNG: chunk ${type} runs past the end of the file (${b.length} bytes; cut short?)`;
    if (type === 'IEND') return null;
    pos += 12 + length;
  }
}

/**
 * Why a JPEG file (`b`, bytes) is not whole, or null: its segments must
 * fit in the file and its entropy-coded data must end at an EOI marker
 * (a progressive file's later scans and tables are segments between).
 */
function jpegDamage(b) {
  const cut = `JPEG: the file ends after ${b.length} bytes, before its end-of-image marker (cut short?)`;
  let pos = 2;
  while (pos < b.length) {
    if (b[pos] !== 0xff) return `JPEG: no marker at byte ${pos} (a damaged file)`;
    while (pos < b.length && b[pos] === 0xff) pos++; // fill bytes
    if (pos >= b.length) return cut;
    const marker = b[pos++];
    if (marker === 0xd9) return null;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue; // no length
    if (pos + 2 > b.length) return cut;
    const length = (b[pos] << 8) | b[pos + 1];
    if (length < 2 || pos + length > b.length) return cut;
    pos += length;
    if (marker !== 0xda) continue;
    // Entropy-coded data: a 0xFF in it is followed by 0 (stuffing) or a restart marker.
    while (pos + 1 < b.length && !(b[pos] === 0xff && b[pos + 1] !== 0 && !(b[pos + 1] >= 0xd0 && b[pos + 1] <= 0xd7))) pos++;
    if (pos + 1 >= b.length) return cut;
  }
  return cut;
}

/** Why encoded picture `bytes` (a Uint8Array) is not a whole PNG or JPEG file, or null (whole, or another format). */
export function encodedDamage(bytes) {
  const kind = encodedKind(bytes);
  return kind === 'PNG' ? pngDamage(bytes) : kind === 'JPEG' ? jpegDamage(bytes) : null;
}
