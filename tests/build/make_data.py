"""Image folders for the build tests (written under a temporary directory).

    /usr/bin/python3 tests/build/make_data.py fmnist DIR [PER_CLASS_TRAIN PER_CLASS_TEST]
    /usr/bin/python3 tests/build/make_data.py imagenet DIR
    /usr/bin/python3 tests/build/make_data.py bad DIR

fmnist: real Fashion-MNIST images (Debian's dataset-fashion-mnist) written
as 8-bit gray PNG files, DIR/{train,test}/<label>/<index>.png ('/' in a
label becomes '_'). imagenet: synthetic images shaped like ImageNet — RGB
and RGBA PNG and JPEG files of several sizes (resized to --size 224 by the
build), in 12 of 1 000 classes named in DIR/labels.txt; they are noise and
shapes, for the mechanics (1 000 logits, 224x224x3 tensors), not accuracy.
bad: one folder per bad-input case.
"""

import gzip
import os
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


if __name__ == "__main__":
    kind, root = sys.argv[1], sys.argv[2]
    os.makedirs(root, exist_ok=True)
    if kind == "fmnist":
        fmnist(root, *map(int, sys.argv[3:5]))
    elif kind == "imagenet":
        imagenet(root)
    elif kind == "bad":
        bad(root)
    else:
        sys.exit(f"unknown kind {kind}")
