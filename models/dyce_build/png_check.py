"""A PNG file's structure checked as the engine's decoder checks it
(src/codec/png.c, src/codec/inflate.c), with its reasons: PIL decodes
files the engine refuses (a CRC mismatch, no IEND, a palette image without
PLTE, image data longer than the image), and a folder must fail when the
build reads it, not when `dyce eval` meets the file after training."""

import struct
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
         (1, 0, 2, 2), (0, 1, 1, 2)]
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def _pass_size(n, start, step):
    return (n - start + step - 1) // step if n > start else 0


def raw_size(width, height, depth, colour, interlace):
    """Bytes of the filtered image data the header promises."""
    total = 0
    for x0, y0, dx, dy in ADAM7 if interlace else [(0, 0, 1, 1)]:
        w, rows = _pass_size(width, x0, dx), _pass_size(height, y0, dy)
        if w and rows:
            total += rows * (1 + (w * CHANNELS[colour] * depth + 7) // 8)
    return total


def _header(data):
    """(width, height, depth, colour, interlace) of an IHDR, or ValueError."""
    if len(data) != 13:
        raise ValueError("IHDR is not 13 bytes")
    width, height, depth, colour, compression, filt, interlace = struct.unpack(">IIBBBBB", data)
    if colour not in CHANNELS:
        raise ValueError(f"unknown colour type {colour}")
    if compression or filt:
        raise ValueError("unknown compression or filter method")
    if interlace > 1:
        raise ValueError(f"unknown interlace method {interlace}")
    return width, height, depth, colour, interlace


def check_png(raw):
    """Raises ValueError("PNG: <the engine's reason>") when the engine's
    decoder would refuse the bytes `raw` of a PNG file."""
    try:
        _check(raw)
    except ValueError as e:
        raise ValueError(f"PNG: {e}") from None


def _check(raw):
    if raw[:8] != SIGNATURE:
        raise ValueError("not a PNG file (bad signature)")
    at, header, palette, idat, idat_state = 8, None, False, [], 0
    while True:
        if len(raw) - at < 12:
            raise ValueError("the file ends without an IEND chunk" if len(raw) == at
                             else "file ends inside a chunk")
        length, kind = struct.unpack_from(">I4s", raw, at)
        name = "".join(chr(b) if chr(b).isalpha() else "?" for b in kind)
        if length > 0x7FFFFFFF or len(raw) - at - 12 < length:
            raise ValueError(f"chunk {name} runs past the end of the file")
        data = raw[at + 8:at + 8 + length]
        if zlib.crc32(kind + data) != struct.unpack_from(">I", raw, at + 8 + length)[0]:
            raise ValueError(f"chunk {name}: CRC mismatch")
        if header is None and kind != b"IHDR":
            raise ValueError(f"the first chunk is {name}, not IHDR")
        if kind == b"IHDR":
            if header is not None:
                raise ValueError("two IHDR chunks")
            header = _header(data)
        elif kind == b"PLTE":
            if palette or idat_state:
                raise ValueError("a second PLTE, or PLTE after IDAT")
            palette = True
        elif kind == b"IDAT":
            if idat_state == 2:
                raise ValueError("IDAT chunks are not consecutive")
            idat_state = 1
            idat.append(data)
        elif kind == b"IEND":
            break
        elif not kind[0] & 0x20:
            raise ValueError(f"unknown critical chunk {name}")
        if idat_state == 1 and kind != b"IDAT":
            idat_state = 2
        at += 12 + length
    if header[3] == 3 and not palette:
        raise ValueError("palette image without PLTE")
    if not idat_state:
        raise ValueError("no IDAT chunk")
    _check_image_data(b"".join(idat), raw_size(*header))


def _check_image_data(stream, need):
    """The zlib stream holds exactly `need` bytes and ends with its check
    (decompressing at most need + 1 bytes: a bomb is not inflated)."""
    inflater = zlib.decompressobj()
    try:
        out = inflater.decompress(stream, need + 1)
    except zlib.error as e:
        raise ValueError(f"image data: {e}") from None
    if len(out) > need:
        raise ValueError("image data: the compressed data holds more bytes than the image needs")
    if len(out) < need:
        raise ValueError("image data: the compressed data holds fewer bytes than the image needs")
    if not inflater.eof:
        raise ValueError("image data: zlib stream ends before its Adler-32 check")
