"""Fixtures of tests/node/image_folder.test.mjs: PNG (and JPEG) files of
every colour type PIL writes, a tiny 3-channel model, and the exact input
tensors that models/dyce_build/images.py `to_tensor` makes of each file
for each model, so the test can compare the engine's C decoder and
preprocessing (`dyce run --save-input`) with the Python definition.

Usage: image_fixtures.py OUT_DIR MODEL_1CH.dyce
Writes OUT_DIR/images/*.png|jpg, OUT_DIR/rgb.dyce (3 x 32 x 32, 5
classes), OUT_DIR/want/<model>/<image>.npy and OUT_DIR/cases.json.
"""

import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
from dyce_build.images import shown, shown_size, to_tensor  # noqa: E402


def input_spec(path):
    """(h, w, c, pixel_scale, mean, std) from a package's INPT section,
    as the float32 values the engine reads (docs/FORMAT.md)."""
    data = open(path, "rb").read()
    count = struct.unpack_from("<I", data, 12)[0]
    for i in range(count):
        tag, _, off, size = struct.unpack_from("<4sIQQ", data, 64 + 32 * i)
        if tag == b"INPT":
            _, h, w, c, scale = struct.unpack_from("<IIIIf", data, off)
            vals = struct.unpack_from(f"<{2 * c}f", data, off + 32)
            return h, w, c, scale, list(vals[:c]), list(vals[c:])
    raise ValueError(f"{path}: no INPT section")


def rgb_model(out_dir):
    """A 3-channel 32 x 32 network with ImageNet's normalisation."""
    import torch

    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 4, 3, stride=2), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(4, 5)).eval()
    onnx = os.path.join(out_dir, "rgb.onnx")
    torch.onnx.export(net, torch.zeros(1, 3, 32, 32), onnx, opset_version=13)
    dyce = os.path.join(out_dir, "rgb.dyce")
    subprocess.run([sys.executable, os.path.join(ROOT, "models", "convert.py"), onnx,
                    "-o", dyce, "--mean", "0.485,0.456,0.406",
                    "--std", "0.229,0.224,0.225"], check=True)
    return dyce


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    return a if pa <= pb and pa <= pc else b if pb <= pc else c


def filtered(rows, bpp):
    """Rows of bytes, filtered with filter types 0..4 in turn."""
    out, prev = b"", bytes(len(rows[0]))
    for y, row in enumerate(rows):
        f = y % 5
        enc = bytearray([f])
        for i, v in enumerate(row):
            a = row[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][f]
            enc.append((v - pred) & 255)
        out += bytes(enc)
        prev = row
    return out


def write_png(path, pixels, interlace):
    """An 8-bit RGB PNG written by hand: every filter type, and Adam7
    interlacing when asked (PIL writes neither on demand)."""
    h, w = pixels.shape[:2]
    passes = ([(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4),
               (1, 0, 2, 2), (0, 1, 1, 2)] if interlace else [(0, 0, 1, 1)])
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = pixels[y0::dy, x0::dx]
        if sub.size:
            raw += filtered([bytes(r.reshape(-1)) for r in sub], 3)

    def chunk(tag, data):
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data)))
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n"
                + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, interlace))
                + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def images(out_dir):
    """name -> path of the test images: sizes that need resizing to 28 x 28
    and 32 x 32, and ones that do not."""
    rng = np.random.default_rng(14)
    d = os.path.join(out_dir, "images")
    os.makedirs(d, exist_ok=True)

    def u8(*shape):
        return rng.integers(0, 256, shape, dtype=np.uint8)

    made = {
        "gray-28x28.png": Image.fromarray(u8(28, 28), "L"),
        "gray-37x23.png": Image.fromarray(u8(23, 37), "L"),
        "rgb-64x48.png": Image.fromarray(u8(48, 64, 3), "RGB"),
        "rgb-32x32.png": Image.fromarray(u8(32, 32, 3), "RGB"),
        "rgba-30x30.png": Image.fromarray(u8(30, 30, 4), "RGBA"),
        "gray-as-rgb-40x33.png": Image.fromarray(np.repeat(u8(33, 40, 1), 3, axis=2), "RGB"),
        # Halved to the gray model's 28 x 28: averages of four bytes land on
        # halves, where luma of three equal values and the gray value itself
        # (or a rounding before luma and one after) part ways.
        "gray-as-rgb-56x56.png": Image.fromarray(np.repeat(u8(56, 56, 1), 3, axis=2), "RGB"),
        "rgb-56x56.png": Image.fromarray(u8(56, 56, 3), "RGB"),
        "bilevel-29x31.png": Image.fromarray(u8(31, 29) > 127),
        "gray-alpha-20x50.png": Image.fromarray(u8(50, 20, 2), "LA"),
        "wide-300x7.png": Image.fromarray(u8(7, 300, 3), "RGB"),
    }
    pal = Image.fromarray(u8(45, 39, 3), "RGB").convert("P", palette=Image.ADAPTIVE, colors=37)
    made["palette-39x45.png"] = pal
    made["palette-4bit-26x26.png"] = Image.fromarray(u8(26, 26, 3), "RGB").convert(
        "P", palette=Image.ADAPTIVE, colors=12)
    paths = {}
    for name, im in made.items():
        paths[name] = os.path.join(d, name)
        im.save(paths[name], bits=4) if "4bit" in name else im.save(paths[name])
    # A picture (a Fashion-MNIST image as a phone JPEG, decoded) where one
    # luma value comes out 95.50000000000001 summed rows first, then
    # columns (images.py, the C), and 95.49999999999999 summed as a 2-D
    # box: every implementation must add in the same order.
    paths["near-tie-20x28.png"] = os.path.join(ROOT, "tests", "golden", "near-tie-20x28.png")
    for name, interlace in (("adam7-23x19.png", 1), ("filters-33x27.png", 0)):
        paths[name] = os.path.join(d, name)
        shape = (19, 23, 3) if interlace else (27, 33, 3)
        write_png(paths[name], u8(*shape), interlace)
    smooth = np.clip(np.add.outer(np.arange(40), np.arange(52))[..., None] * [3, 2, 1], 0, 255)
    paths["photo-52x40.jpg"] = os.path.join(d, "photo-52x40.jpg")
    Image.fromarray(smooth.astype(np.uint8), "RGB").save(paths["photo-52x40.jpg"], quality=90)
    # Phone photos: the same pixels stored turned, with the EXIF
    # orientation that shows them upright (2..8). The picture tells the
    # corners apart (red grows to the right, green downwards), so a wrong
    # turn changes the tensor.
    y, x = np.mgrid[0:40, 0:52]
    corners = np.stack([x * 4, y * 5, 255 - (x + y) * 2], -1).clip(0, 255).astype(np.uint8)
    for o in range(2, 9):
        name = f"exif{o}-52x40.jpg"
        paths[name] = os.path.join(d, name)
        exif = Image.Exif()
        exif[0x0112] = o
        Image.fromarray(corners, "RGB").save(paths[name], quality=95, exif=exif)
        with Image.open(paths[name]) as im:   # images.py shows it turned
            assert shown_size(im) == ((40, 52) if o >= 5 else (52, 40)), name
    return paths


def rgba_of(path, out_dir, name):
    """The picture as a browser's ImageData holds it (RGBA, alpha not
    applied, turned upright), as float32 .npy for the JS API's check."""
    out = os.path.join(out_dir, "rgba", name + ".npy")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if not os.path.exists(out):
        with Image.open(path) as im:
            np.save(out, np.asarray(shown(im).convert("RGBA"), dtype=np.float32))
    return out


def main():
    out_dir, gray_model = sys.argv[1], sys.argv[2]
    models = {"gray": os.path.abspath(gray_model), "rgb": rgb_model(out_dir)}
    paths = images(out_dir)
    cases = []
    for mname, mpath in models.items():
        h, w, c, scale, mean, std = input_spec(mpath)
        assert h == w, "images.py resizes to size x size"
        os.makedirs(os.path.join(out_dir, "want", mname), exist_ok=True)
        for name, path in paths.items():
            want = os.path.join(out_dir, "want", mname, name + ".npy")
            np.save(want, to_tensor(path, h, c, scale, mean, std))
            cases.append({"model": mpath, "image": path, "want": want, "jpeg": name.endswith(".jpg"),
                          "rgba": rgba_of(path, out_dir, name), "spec": [h, w, c, scale, list(mean), list(std)]})
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1)


if __name__ == "__main__":
    main()
