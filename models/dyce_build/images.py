"""Image files -> model input: the one preprocessing definition of dyce.

The same steps as the browser side (wasm/preprocess.mjs) and the engine's
`dyce eval --data DIR` (src/cli/), so a package is trained, searched and
evaluated on the tensors it will see at run time:

1. decode (PIL) to 8-bit RGBA; a JPEG turned as its EXIF orientation says
   (as browsers show it); gray images have R = G = B; a PNG with an alpha
   channel (gray + alpha, RGBA) laid over black, each colour byte
   round(v * a / 255) = (v * a + 127) // 255, as a browser draws a
   picture on a cleared canvas (a palette's or a colour key's
   transparency, tRNS, is ignored);
2. center-crop to the output's aspect ratio and box-filter resize to
   size x size: every output pixel averages the source area it covers,
   partly covered source pixels weighted by their coverage. The filter is
   separable, computed in float64 as `Wy @ plane @ Wx.T` with every row of
   Wy, Wx summing to 1. Same size: no resampling;
3. channels: 1 -> the gray value of a gray image, or BT.601 luma
   0.299 R + 0.587 G + 0.114 B of a colour one; 3 -> R, G, B;
4. rounded half to even to a byte (0-255): training data are held so in
   memory (`load_uint8`), a browser's pixels are bytes, and the engine's
   C preprocessing (`dyce eval`, `dyce run --input IMAGE`) and the JS one
   round the same way, so the records (PyTorch's predictions) and the
   engine see the same picture;
5. x = (p * pixel_scale - mean[c]) / std[c], float32, NCHW.
"""

import io
import os

import numpy as np
from PIL import Image

from . import png_check

EXTENSIONS = (".png", ".jpg", ".jpeg", ".jpe", ".jfif")
# Image formats PIL reads but the engine's decoders (src/codec/) do not:
# a file named so in a class folder is refused, not skipped (it is a sample
# the user meant), by the build and by `dyce eval` alike
# (src/cli/image_input.c keeps the same two lists).
OTHER_FORMATS = (".bmp", ".dib", ".gif", ".webp", ".tif", ".tiff", ".heic",
                 ".heif", ".avif", ".jp2", ".jxl", ".ico", ".tga", ".ppm",
                 ".pgm", ".pbm", ".pnm", ".psd")


def kind_of(name):
    """'image' (PNG or JPEG by its extension, any case), 'other' (another
    image format: refused) or None (not an image: skipped)."""
    low = name.lower()
    return ("image" if low.endswith(EXTENSIONS)
            else "other" if low.endswith(OTHER_FORMATS) else None)


def kind_of_file(path):
    """kind_of the file's name or, when the name says nothing, 'image' if
    its first bytes are a PNG or JPEG signature (a PNG saved without an
    extension), as src/cli/image_folder.c decides."""
    kind = kind_of(os.path.basename(path))
    if kind is None:
        try:
            with open(path, "rb") as f:
                head = f.read(8)
        except OSError:
            return None
        if head.startswith((png_check.SIGNATURE, b"\xff\xd8\xff")):   # PNG, JPEG
            return "image"
    return kind


def other_format_refusal(name):
    """The reason a file of another image format is refused."""
    ext = name[name.rfind("."):]
    return (f"a {ext} image: dyce reads PNG and JPEG files only (the engine has "
            f"no decoder for {ext[1:].upper()}); convert it to PNG")


def read_rgba(path):
    """(H, W, 4) uint8 of an image file and whether it is a gray image: a
    gray file (its colour type), or a colour one whose every pixel has
    R = G = B, as the engine's decoders decide (docs/FORMAT.md step 1) —
    the gray value taken as it is, not luma of three equal values, which
    can round the other way at a tie after resizing."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:8] == png_check.SIGNATURE:
        png_check.check_png(raw)
    with Image.open(io.BytesIO(raw)) as im:
        check_decodable(im)
        gray = is_gray_mode(im.mode)
        rgba = np.asarray(shown(im).convert("RGBA"), dtype=np.uint8)
        if im.mode in ("LA", "RGBA"):   # PNG colour types 4 and 6
            rgba = over_black(rgba)
    if not gray:
        gray = bool((rgba[..., 0] == rgba[..., 1]).all() and (rgba[..., 1] == rgba[..., 2]).all())
    return rgba, gray


def over_black(rgba):
    """(H, W, 4) uint8 laid over black: colour (v * a + 127) // 255, alpha
    255 (wasm/preprocess.mjs overBlack, src/codec/png.c)."""
    a = rgba[..., 3:4].astype(np.uint32)
    out = np.empty_like(rgba)
    out[..., :3] = (rgba[..., :3].astype(np.uint32) * a + 127) // 255
    out[..., 3] = 255
    return out


def orientation(im):
    """A JPEG's EXIF orientation (1..8; 1 when it has none), read as the
    engine's decoder reads it (src/codec/jpeg.c exif_orientation): IFD0's
    tag 0x0112 stored as a SHORT, as the EXIF standard has it (browsers
    ignore it stored otherwise, as PIL does not). PNG's eXIf chunk is not
    read, by the engine's decoder either."""
    if im.format not in ("JPEG", "MPO"):
        return 1
    return exif_orientation(im.info.get("exif", b""))


def exif_orientation(d):
    """The orientation in an APP1 marker's data ("Exif\0\0" + TIFF), 1
    when it has none, every offset checked as src/codec/jpeg.c does."""
    if len(d) < 14 or d[:6] != b"Exif\0\0" or d[6:8] not in (b"II", b"MM"):
        return 1
    t, order = d[6:], "little" if d[6:8] == b"II" else "big"
    u16 = lambda at: int.from_bytes(t[at:at + 2], order)   # noqa: E731
    ifd = int.from_bytes(t[4:8], order)
    if u16(2) != 42 or ifd > len(t) - 2:
        return 1
    for i in range(u16(ifd)):
        e = ifd + 2 + 12 * i
        if e + 12 > len(t):
            break
        if u16(e) == 0x0112 and u16(e + 2) == 3:
            v = u16(e + 8)
            return v if 1 <= v <= 8 else 1
    return 1


def shown(im):
    """The image as browsers show it: turned as its EXIF orientation says
    (phone photos), the engine's JPEG decoder does the same."""
    o = orientation(im)
    if o == 1:
        return im
    T = Image.Transpose   # ROTATE_* turn counter-clockwise
    return im.transpose({2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM,
                         5: T.TRANSPOSE, 6: T.ROTATE_270, 7: T.TRANSVERSE,
                         8: T.ROTATE_90}[o])


def shown_size(im):
    """(width, height) as shown: swapped by the orientations that turn it."""
    w, h = im.size
    return (h, w) if orientation(im) >= 5 else (w, h)


MAX_PIXELS = 1 << 26   # the engine's decoders refuse larger (src/cli/image_input.h)


def check_decodable(im):
    """Refuse what the engine's decoders refuse (src/codec/), with their
    reasons, so that a folder fails when it is read, not after training when
    `dyce eval` meets the file (and PIL's own conversions of these are not
    the 8-bit values the engine would see)."""
    if im.format not in ("PNG", "JPEG", "MPO"):   # MPO: a JPEG with more frames
        raise ValueError(f"a {im.format} file (named as PNG or JPEG): dyce reads "
                         "PNG and JPEG files only; convert it to PNG")
    w, h = im.size
    if w * h > MAX_PIXELS:
        raise ValueError(f"{im.format}: image of {w}x{h} is too large (more than {MAX_PIXELS} "
                         "pixels: dyce eval and dyce run refuse it); make it smaller")
    if im.format in ("JPEG", "MPO") and im.mode == "CMYK":
        raise ValueError("JPEG: CMYK or YCCK colour is not supported (nor by "
                         "dyce eval); save the image as RGB")
    if im.format == "PNG" and im.mode in ("I", "I;16", "I;16B", "F"):
        raise ValueError("PNG: 16-bit gray is not supported (nor by dyce eval); "
                         "save it as 8-bit")


def is_gray_mode(mode):
    """PIL modes of gray files (PNG colour types 0 and 4, gray JPEG)."""
    return mode in ("1", "L", "LA", "I", "I;16", "F")


def center_crop(w, h, out_w, out_h):
    """The largest centred crop (x, y, cw, ch) of a w x h image with the
    aspect ratio of out_w x out_h (floats, as wasm/preprocess.mjs)."""
    scale = min(w / out_w, h / out_h)
    cw, ch = out_w * scale, out_h * scale
    return (w - cw) / 2, (h - ch) / 2, cw, ch


def box_weights(start, step, count, size):
    """(count, size) float64: row o holds the coverage of source pixels
    s by output pixel o's interval [start + o*step, start + (o+1)*step),
    normalised to sum 1."""
    weights = np.zeros((count, size), np.float64)
    for o in range(count):
        a = start + o * step
        b = a + step
        for s in range(int(np.floor(a)), int(np.ceil(b))):
            cover = min(b, s + 1) - max(a, s)
            if cover > 1e-9 and 0 <= s < size:
                weights[o, s] = cover
        weights[o] /= weights[o].sum()
    return weights


def resize(rgba, out_h, out_w):
    """Center-crop + box-filter resize of (H, W, C) to (out_h, out_w, C)
    float64 (unrounded)."""
    h, w = rgba.shape[:2]
    if (h, w) == (out_h, out_w):
        return rgba.astype(np.float64)
    x, y, cw, ch = center_crop(w, h, out_w, out_h)
    wy = box_weights(y, ch / out_h, out_h, h)
    wx = box_weights(x, cw / out_w, out_w, w)
    planes = [wy @ rgba[..., c].astype(np.float64) @ wx.T
              for c in range(rgba.shape[2])]
    return np.stack(planes, axis=-1)


def to_channels(pixels, gray, channels):
    """(H, W, 4) float64 resized RGBA -> (channels, H, W) float64."""
    if channels == 3:
        return np.transpose(pixels[..., :3], (2, 0, 1))
    if channels != 1:
        raise ValueError(f"{channels} channels: 1 or 3 supported")
    if gray:
        return pixels[None, ..., 0]
    return (0.299 * pixels[..., 0] + 0.587 * pixels[..., 1]
            + 0.114 * pixels[..., 2])[None]


def pixels_of(path, size, channels):
    """(channels, h, w) float64 pixel values in [0, 255] of a file; size is
    (h, w) or one side of a square."""
    h, w = (size, size) if isinstance(size, int) else size
    rgba, gray = read_rgba(path)
    return to_channels(resize(rgba, h, w), gray, channels)


def normalise(pixels, pixel_scale, mean, std):
    """(C, H, W) pixels -> float32 (C, H, W) network input."""
    mean = np.asarray(mean, np.float64).reshape(-1, 1, 1)
    std = np.asarray(std, np.float64).reshape(-1, 1, 1)
    return ((pixels * pixel_scale - mean) / std).astype(np.float32)


def to_tensor(path, size, channels, pixel_scale, mean, std):
    """The network input (1, C, size, size) float32 of an image file."""
    return normalise(load_uint8(path, size, channels).astype(np.float64), pixel_scale,
                     mean, std)[None]


def load_uint8(path, size, channels):
    """(channels, size, size) uint8: the resized pixels rounded half to
    even (step 4), how datasets are held in memory for training."""
    return np.clip(np.rint(pixels_of(path, size, channels)), 0, 255).astype(np.uint8)
