"""Image folders for the build tests (written under a temporary directory).

    /usr/bin/python3 tests/build/make_data.py fmnist DIR [PER_CLASS_TRAIN PER_CLASS_TEST]
    /usr/bin/python3 tests/build/make_data.py colour DIR [PER_CLASS_TRAIN PER_CLASS_TEST]
    /usr/bin/python3 tests/build/make_data.py imagenet DIR
    /usr/bin/python3 tests/build/make_data.py bad DIR
    /usr/bin/python3 tests/build/make_data.py quirky DIR

fmnist: real Fashion-MNIST images (Debian's dataset-fashion-mnist) written
as 8-bit gray PNG files, DIR/{train,test}/<label>/<index>.png ('/' in a
label becomes '_'). colour: the first six Fashion-MNIST classes as
32x32 RGB PNG files (real images, upsampled and tinted with a random
colour per image: another geometry and class count for the same
mechanics). imagenet: synthetic images shaped like ImageNet — RGB
and RGBA PNG and JPEG files of several sizes (resized to --size 224 by the
build), in 12 of 1 000 classes named in DIR/labels.txt; they are noise and
shapes, for the mechanics (1 000 logits, 224x224x3 tensors), not accuracy.
bad: one folder per bad-input case. quirky: Fashion-MNIST PNG files as a
user's folder holds them (docs/MODELS.md "What an image folder may hold"):
files in subfolders of a class folder, .PNG, junk files, __MACOSX, a link,
Kaggle's valid/, class names with spaces, digits and non-ASCII letters.
"""

import gzip
import os
import shutil
import sys

import numpy as np
from PIL import Image

FMNIST = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
          "Shirt", "Sneaker", "Bag", "Ankle boot"]


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(raw[3])]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * raw[3]).reshape(dims)


def fmnist(root, per_train=12, per_test=6):
    for split, stem, per in (("train", "train", per_train), ("test", "t10k", per_test)):
        images = idx(f"{FMNIST}/{stem}-images-idx3-ubyte.gz")
        labels = idx(f"{FMNIST}/{stem}-labels-idx1-ubyte.gz")
        for k, name in enumerate(LABELS):
            d = os.path.join(root, split, name.replace("/", "_"))
            os.makedirs(d, exist_ok=True)
            for i in np.flatnonzero(labels == k)[:per]:
                Image.fromarray(images[i], "L").save(os.path.join(d, f"{i:05d}.png"))


def colour(root, per_train=12, per_test=6, classes=6, size=32):
    rng = np.random.default_rng(11)
    for split, stem, per in (("train", "train", per_train), ("test", "t10k", per_test)):
        images = idx(f"{FMNIST}/{stem}-images-idx3-ubyte.gz")
        labels = idx(f"{FMNIST}/{stem}-labels-idx1-ubyte.gz")
        for k, name in enumerate(LABELS[:classes]):
            d = os.path.join(root, split, name.replace("/", "_"))
            os.makedirs(d, exist_ok=True)
            for i in np.flatnonzero(labels == k)[:per]:
                gray = np.asarray(Image.fromarray(images[i], "L").resize(
                    (size, size), Image.BILINEAR), np.float32) / 255
                tint = rng.uniform(0.3, 1.0, 3)
                rgb = np.clip(np.rint(gray[..., None] * tint * 255), 0, 255).astype(np.uint8)
                Image.fromarray(rgb, "RGB").save(os.path.join(d, f"{i:05d}.png"))


def synthetic(rng, h, w, k):
    """A noisy picture with a class-dependent colour and stripe."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([(x * (k % 7 + 1) + y * (k % 5 + 1)) % 256,
                     (x * 3 + k * 40) % 256, (y * 2 + k * 90) % 256], -1)
    noise = rng.integers(0, 60, (h, w, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def imagenet(root):
    rng = np.random.default_rng(5)
    names = [f"n{k:08d}" for k in range(1000)]
    with open(os.path.join(root, "labels.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    classes = [0, 1, 7, 99, 255, 256, 300, 511, 700, 998, 999, 500]
    sizes = [(224, 224), (256, 300), (240, 200)]
    for split, per in (("train", 3), ("test", 1)):
        for j, k in enumerate(classes):
            d = os.path.join(root, split, names[k])
            os.makedirs(d, exist_ok=True)
            for i in range(per):
                h, w = sizes[(i + j) % len(sizes)]
                im = Image.fromarray(synthetic(rng, h, w, k), "RGB")
                kind = (i + j) % 3
                if kind == 0:
                    im.save(os.path.join(d, f"{i}.png"))
                elif kind == 1:
                    im.convert("RGBA").save(os.path.join(d, f"{i}.png"))
                else:
                    im.save(os.path.join(d, f"{i}.jpg"), quality=92)


def bad(root):
    """DIR/<case>/… : one image folder per bad input."""
    rng = np.random.default_rng(1)

    def folder(case, sizes=((16, 16),), classes=("a", "b")):
        for split in ("train", "test"):
            for c in classes:
                d = os.path.join(root, case, split, c)
                os.makedirs(d, exist_ok=True)
                for i, (h, w) in enumerate(sizes):
                    Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8), "L").save(
                        os.path.join(d, f"{i}.png"))
        return os.path.join(root, case)

    folder("good", sizes=((16, 16), (16, 16)))
    empty = folder("empty")
    for f in os.listdir(os.path.join(empty, "train", "b")):
        os.remove(os.path.join(empty, "train", "b", f))
    folder("rare")   # one image a class: half to validation leaves a class untrained
    folder("mixed", sizes=((16, 16), (20, 18)))
    corrupt = folder("corrupt")
    with open(os.path.join(corrupt, "train", "a", "broken.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    # files PIL reads but the engine's decoders do not: refused when read
    cmyk = folder("cmyk")
    Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).convert("CMYK").save(
        os.path.join(cmyk, "test", "b", "print.jpg"))
    deep = folder("deep")
    Image.fromarray(rng.integers(0, 65535, (16, 16), dtype=np.uint16)).save(
        os.path.join(deep, "train", "b", "scan.png"))
    # image formats PIL reads and the engine does not: refused, not skipped
    webp = folder("webp")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").save(
        os.path.join(webp, "test", "a", "photo.webp"))
    disguised = folder("disguised")
    Image.fromarray(rng.integers(0, 255, (16, 16), dtype=np.uint8), "L").save(
        os.path.join(disguised, "train", "a", "0.png"), format="GIF")
    vals = folder("twovals")
    for v in ("val", "valid"):
        shutil.copytree(os.path.join(vals, "test"), os.path.join(vals, v))
    os.symlink("..", os.path.join(folder("loop"), "train", "b", "up"))
    os.symlink("/nonexistent/x.png", os.path.join(folder("dangling"), "test", "b", "zz.png"))
    loose = folder("loose")   # an image beside the class folders: whose is it?
    shutil.copy(os.path.join(loose, "train", "a", "0.png"), os.path.join(loose, "train", "stray.png"))
    latin = folder("latin1")
    os.rename(os.path.join(latin, "train", "b"), os.fsencode(os.path.join(latin, "train")) + b"/b\xe9")


def quirky(root):
    """Fashion-MNIST PNG files in a folder as users bring them."""
    fmnist(root, 6, 4)
    rename = {"Coat": "10 Mäntel", "Bag": "2 bags", "Sneaker": "Éclair"}
    for split in ("train", "test"):
        for a, b in rename.items():
            os.rename(os.path.join(root, split, a), os.path.join(root, split, b))
    shutil.copytree(os.path.join(root, "test"), os.path.join(root, "valid"))
    for split in ("train", "valid", "test"):
        for k, c in enumerate(sorted(os.listdir(os.path.join(root, split)))):
            d = os.path.join(root, split, c)
            names = sorted(os.listdir(d))
            os.makedirs(os.path.join(d, "batch1", "é"))
            os.rename(os.path.join(d, names[0]), os.path.join(d, "batch1", names[0]))
            os.rename(os.path.join(d, names[1]), os.path.join(d, "batch1", "é", names[1]))
            os.rename(os.path.join(d, names[2]), os.path.join(d, names[2][:-4] + ".PNG"))
            os.rename(os.path.join(d, names[3]), os.path.join(d, "z" + names[3]))
            os.symlink("z" + names[3], os.path.join(d, "batch1-" + names[3]))
            for junk in (".DS_Store", "Thumbs.db", "desktop.ini", "README.txt", "._0.png"):
                with open(os.path.join(d, junk), "wb") as f:
                    f.write(b"not an image")
        os.makedirs(os.path.join(root, split, "__MACOSX", "Bag"))
        with open(os.path.join(root, split, "__MACOSX", "Bag", "._1.png"), "wb") as f:
            f.write(b"\0\5\26\7")
    os.makedirs(os.path.join(root, "__MACOSX", "train"))


def main(argv):
    """The command line of the module docstring: a usage line on bad input."""
    import argparse
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                usage=__doc__.split("\n\n")[1].replace("    ", ""))
    p.add_argument("kind", choices=("fmnist", "colour", "imagenet", "bad", "quirky"))
    p.add_argument("root", metavar="DIR")
    p.add_argument("counts", nargs="*", type=int, metavar="PER_CLASS",
                   help="train and test images per class (fmnist, colour)")
    a = p.parse_args(argv)
    if len(a.counts) not in (0, 2) or (a.counts and a.kind not in ("fmnist", "colour")):
        p.error("PER_CLASS_TRAIN PER_CLASS_TEST go together, with fmnist or colour")
    if any(c < 1 for c in a.counts):
        p.error("image counts are at least 1")
    os.makedirs(a.root, exist_ok=True)
    make = {"fmnist": fmnist, "colour": colour, "imagenet": imagenet, "bad": bad, "quirky": quirky}
    make[a.kind](a.root, *a.counts)


if __name__ == "__main__":
    main(sys.argv[1:])
