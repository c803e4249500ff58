// wasm/encoded.mjs: a PNG or JPEG file cut short is told from a whole one
// by its structure (browsers decode a cut file without a word, each
// filling the rest its own way; classify refuses it first).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import test from 'node:test';

import { encodedDamage, encodedKind } from '../../wasm/encoded.mjs';
import { root } from '../browser/harness.mjs';

const pngs = [path.join(root, 'tests/golden/near-tie-20x28.png'), path.join(root, 'docs/demo.png'),
  ...fs.readdirSync(path.join(root, 'tests/fuzz/seeds/png')).map((f) => path.join(root, 'tests/fuzz/seeds/png', f))];

const bytes = (...parts) => Uint8Array.from(parts.flat());
const segment = (marker, body) => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body];
// A JPEG's structure (not a decodable picture: the checks read segments,
// not pixels): an EXIF segment holding a whole thumbnail (its own EOI),
// tables, a first scan with a stuffed 0xFF and a restart marker, a table
// between scans and a second scan (a progressive file), then EOI.
const thumbnail = [0xff, 0xd8, ...segment(0xdb, [0, 1, 2]), 0xff, 0xd9];
const JPEG = bytes([0xff, 0xd8], segment(0xe1, [0x45, 0x78, 0x69, 0x66, 0, 0, ...thumbnail]), segment(0xdb, Array(65).fill(1)),
  segment(0xc2, [8, 0, 2, 0, 2, 1, 1, 0x11, 0]), segment(0xc4, [0, 1, 2, 3]), segment(0xda, [1, 1, 0, 0, 63, 0]),
  [0x12, 0x34, 0xff, 0x00, 0x56, 0xff, 0xd0, 0x78], segment(0xc4, [0x10, 4, 5]), segment(0xda, [1, 1, 0, 1, 63, 0]),
  [0x9a, 0xff, 0x00, 0xbc], [0xff, 0xff, 0xd9]);

test('whole PNG files pass, with bytes after IEND too; every cut of them is refused, naming the chunk or the missing IEND', () => {
  for (const file of pngs) {
    const b = new Uint8Array(fs.readFileSync(file));
    assert.equal(encodedKind(b), 'PNG');
    assert.equal(encodedDamage(b), null, file);
    assert.equal(encodedDamage(bytes([...b], [1, 2, 3])), null, `${file} + trailing bytes`);
    for (let cut = 4; cut < b.length; cut += Math.max(1, Math.floor(b.length / 300))) {
      const damage = encodedDamage(b.subarray(0, cut));
      assert.match(damage ?? 'null', /^PNG: (chunk \w{4} runs past the end of the file|the file ends after \d+ bytes, before its IEND chunk)/, `${file} cut at ${cut}`);
    }
  }
  assert.match(encodedDamage(new Uint8Array(fs.readFileSync(pngs[0])).subarray(0, 60)), /chunk IDAT runs past the end of the file \(60 bytes; cut short\?\)/);
});

test('a whole JPEG passes (a thumbnail\'s EOI inside EXIF, stuffed bytes, restart markers and a second scan are not its end); every cut is refused', () => {
  assert.equal(encodedKind(JPEG), 'JPEG');
  assert.equal(encodedDamage(JPEG), null);
  assert.equal(encodedDamage(bytes([...JPEG], [0, 0, 0x12])), null, 'bytes after EOI');
  for (let cut = 4; cut < JPEG.length; cut++)
    assert.match(encodedDamage(JPEG.subarray(0, cut)) ?? 'null', /^JPEG: the file ends after \d+ bytes, before its end-of-image marker \(cut short\?\)$/, `cut at ${cut}`);
  const broken = JPEG.slice();
  broken[2 + 4 + 6 + thumbnail.length] = 0x00; // the byte where the next segment's marker should be
  assert.match(encodedDamage(broken), /^JPEG: no marker at byte \d+ \(a damaged file\)$/);
});

test('other formats and bytes that are no picture are left to the decoder', () => {
  for (const b of [bytes([0x47, 0x49, 0x46, 0x38, 0x39, 0x61]), bytes([0x52, 0x49, 0x46, 0x46]), bytes([1, 2]), new Uint8Array(0)])
    assert.equal(encodedDamage(b), null);
});
