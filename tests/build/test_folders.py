"""The builder's image-folder reader (models/dyce_build/data.py, folders.py,
images.py) on folders as people have them, without training: which files
it reads, what it calls gray, what it refuses (one line, before any
training) — the cases src/cli/image_folder.c decides the same way
(tests/build/build.test.mjs compares the two on whole builds)."""

import os
import struct
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
from dyce_build import data, images  # noqa: E402
from dyce_build.errors import BuildError  # noqa: E402

RNG = np.random.default_rng(3)


def gray_picture(h=16, w=16):
    return RNG.integers(0, 255, (h, w), dtype=np.uint8)


def make_folder(root, save, classes=("a", "b"), count=2):
    """root/{train,test}/<class>/<i>.png, each written by save(array, path)."""
    for split in ("train", "test"):
        for c in classes:
            d = os.path.join(root, split, c)
            os.makedirs(d, exist_ok=True)
            for i in range(count):
                save(gray_picture(), os.path.join(d, f"{i}.png"))
    return root


def load(root, work, **options):
    return data.load(root, data.Options(val_fraction=0.25, **options), work)


def refused(root, work, pattern):
    try:
        load(root, work)
    except BuildError as err:
        assert pattern in str(err), f"{pattern!r} not in {err}"
        assert "\n" not in str(err), str(err)
        return
    raise AssertionError(f"{root}: not refused ({pattern})")


def check_gray_stored_as_colour(tmp):
    """Gray pictures saved as RGB, RGBA (opaque or not), a gray palette, or
    16-bit gray + alpha (PIL opens that as RGBA) are gray: one channel, as
    docs/FORMAT.md defines it and the engine decides it."""
    savers = {
        "rgb": lambda a, p: Image.fromarray(np.stack([a] * 3, -1)).save(p),
        "rgba": lambda a, p: Image.fromarray(np.dstack([a, a, a, np.full_like(a, 128)]), "RGBA").save(p),
        "palette": lambda a, p: Image.fromarray(a, "L").convert("P").save(p),
        "la16": lambda a, p: Image.fromarray(np.dstack([a, np.full_like(a, 255)]), "LA").save(p),
    }
    for name, save in savers.items():
        ds = load(make_folder(os.path.join(tmp, name), save), os.path.join(tmp, "w-" + name))
        assert ds.train.images.shape[1] == 1, (name, ds.train.images.shape)
    colour = make_folder(os.path.join(tmp, "colour"),
                         lambda a, p: Image.fromarray(RNG.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(p))
    assert load(colour, os.path.join(tmp, "w-colour")).train.images.shape[1] == 3


def check_files_read(tmp):
    """A PNG without an extension is read (its signature says PNG); a file
    name that is not UTF-8 is read (and cached) like any other."""
    save = lambda a, p: Image.fromarray(a, "L").save(p)   # noqa: E731
    root = make_folder(os.path.join(tmp, "noext"), save)
    plain = load(root, os.path.join(tmp, "w-noext0"))
    Image.fromarray(gray_picture(), "L").save(os.path.join(root, "train", "a", "scan"), format="PNG")
    with open(os.path.join(root, "train", "a", "notes"), "w") as f:
        f.write("not a picture\n")
    more = load(root, os.path.join(tmp, "w-noext1"))
    n = lambda ds: len(ds.train.labels) + len(ds.val.labels)   # noqa: E731
    assert n(more) == n(plain) + 1, (n(plain), n(more))
    root = make_folder(os.path.join(tmp, "latin1"), save)
    Image.fromarray(gray_picture(), "L").save(
        os.fsencode(os.path.join(root, "test", "b")) + b"/caf\xe9.png", format="PNG")
    for _ in range(2):   # decoded, then loaded from the step cache
        assert len(load(root, os.path.join(tmp, "w-latin1")).test.labels) == 5


def png_of_size(path, w, h):
    """A PNG whose header says w x h (its data a few bytes: the size is
    refused before anything is decoded)."""
    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))


def check_refusals(tmp):
    save = lambda a, p: Image.fromarray(a, "L").save(p)   # noqa: E731
    root = make_folder(os.path.join(tmp, "link"), save)
    os.symlink("/nonexistent/c", os.path.join(root, "test", "c"))
    refused(root, os.path.join(tmp, "w"), "test/c: a link to nothing")
    root = make_folder(os.path.join(tmp, "huge"), save)
    png_of_size(os.path.join(root, "test", "a", "huge.png"), 9000, 8000)
    refused(root, os.path.join(tmp, "w"), "huge.png: cannot read the image (PNG: image of "
            "9000x8000 is too large (more than 67108864 pixels")
    root = make_folder(os.path.join(tmp, "nfd"), save, classes=("a", "\u00e9t\u00e9"))
    os.rename(os.path.join(root, "test", "\u00e9t\u00e9"), os.path.join(root, "test", "e\u0301te\u0301"))
    refused(root, os.path.join(tmp, "w"), "is the same text with its accents encoded otherwise")


def exif_app1(value, kind, order="II"):
    """An APP1 marker's data holding one IFD0 entry: tag 0x0112 of TIFF
    type `kind` (3 SHORT, 4 LONG)."""
    e = "<" if order == "II" else ">"
    value_bytes = struct.pack(e + "HH", value, 0) if kind == 3 else struct.pack(e + "I", value)
    return (b"Exif\0\0" + order.encode() + struct.pack(e + "HI", 42, 8) + struct.pack(e + "H", 1)
            + struct.pack(e + "HHI", 0x0112, kind, 1) + value_bytes + b"\0\0\0\0")


def check_orientation():
    """The orientation is read as the engine reads it: a SHORT only (as the
    EXIF standard stores it; browsers also ignore a LONG), both byte orders."""
    for order in ("II", "MM"):
        assert images.exif_orientation(exif_app1(6, 3, order)) == 6, order
        assert images.exif_orientation(exif_app1(6, 4, order)) == 1, order
        assert images.exif_orientation(exif_app1(9, 3, order)) == 1, order
    assert images.exif_orientation(exif_app1(6, 3)[:20]) == 1   # cut short
    assert images.exif_orientation(b"") == 1


def check_options_that_do_not_fit(tmp):
    """--test-fraction on a folder with split folders (it holds files out of
    a flat one: it was ignored), and three --mean values for gray pictures:
    one line each, saying what to do."""
    root = make_folder(os.path.join(tmp, "split"), lambda a, p: Image.fromarray(a, "L").save(p))
    for options, pattern in (({"test_fraction": 0.25}, "leave --test-fraction out"),
                             ({"mean": [0.5] * 3, "std": [0.2] * 3}, "--channels 3 makes it colour")):
        try:
            load(root, os.path.join(tmp, "w-split"), **options)
        except BuildError as err:
            assert pattern in str(err) and "\n" not in str(err), err
            continue
        raise AssertionError(f"{options}: not refused")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        check_gray_stored_as_colour(tmp)
        check_files_read(tmp)
        check_refusals(tmp)
        check_options_that_do_not_fit(tmp)
    check_orientation()
    print("test_folders: ok")


if __name__ == "__main__":
    main()
