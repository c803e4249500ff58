"""Datasets: an image folder or an IDX directory -> three in-memory splits.

Image folder: DIR/train/<class>/*, DIR/test/<class>/*, optional DIR/val/
(or valid/, validation/); PNG and JPEG files, any size, gray or colour, at
any depth inside a class folder. Classes are the train class folders,
sorted by name; files are sorted by their path within a class (names
compared as bytes, as strcmp does), and a sample's `index` is its position
in that order (class by class) — the order `dyce eval --data DIR` reads.
Without a val folder a validation split is carved from train with a fixed
seed. IDX directory: train-/t10k- images and labels
(gzip'd or not), as Debian's Fashion-MNIST ships them.

Images are decoded and resized once (images.py) to uint8 (N, C, H, W) and
cached in the work directory, keyed by the file list and the options.
"""

import gzip
import hashlib
import json
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from . import images
from .errors import BuildError
from .folders import TEST_FRACTION, folder_roles, held_out, scan_folder
from .progress import Progress

SPLIT_SEED = 20240301
FASHION_LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                  "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


@dataclass
class Split:
    """uint8 images (N, C, H, W), int64 labels (N,), source index (N,)."""
    name: str
    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray


@dataclass
class Dataset:
    train: Split
    val: Split
    test: Split
    classes: list
    mean: list
    std: list
    source: str = ""
    unread: str = ""    # a note when --limit/--smoke left files unread

    @property
    def channels(self):
        return self.train.images.shape[1]

    @property
    def size(self):
        return tuple(self.train.images.shape[2:])

    @property
    def input_shape(self):
        return (1, self.channels) + self.size

    def splits(self):
        return [self.train, self.val, self.test]

    def normalise(self, x):
        """uint8 (B, C, H, W) or [0, 1] floats -> float32 network input."""
        import torch
        x = torch.as_tensor(x)
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0)
        mean = torch.tensor(self.mean, dtype=torch.float32).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32).view(1, -1, 1, 1)
        return (x - mean) / std

    def input_spec(self):
        return {"pixel_scale": 1.0 / 255.0, "mean": list(self.mean),
                "std": list(self.std)}

    def fingerprint(self, splits=("train", "val", "test")):
        """A digest of what a network is trained or judged on: the named
        splits' pixels, labels and places, the class names in label order,
        the normalisation. Part of the cached steps' keys, so that images
        moved between class folders, reordered --labels or another
        --mean/--std redo what they change instead of loading it."""
        memo = self.__dict__.setdefault("_fingerprints", {})
        if splits not in memo:
            h = hashlib.sha256(json.dumps([list(self.classes), [float(v) for v in self.mean],
                                           [float(v) for v in self.std]]).encode())
            for split in (getattr(self, name) for name in splits):
                for a in (split.images, split.labels, split.index):
                    a = np.ascontiguousarray(a)
                    h.update(f"{split.name}|{a.dtype}|{a.shape}|".encode())
                    h.update(memoryview(a).cast("B"))
            memo[splits] = h.hexdigest()[:16]
        return memo[splits]


@dataclass
class Options:
    size: tuple = None          # (h, w) or None: the images' own size
    channels: int = None        # 1, 3 or None: gray if every file is gray
    val_fraction: float = 0.1
    test_fraction: float = TEST_FRACTION   # a folder without split folders
    seed: int = SPLIT_SEED
    limit: int = None           # samples per split (smoke runs)
    mean: list = None
    std: list = None
    classes: list = None        # --labels: every class name, in label order


# ------------------------------------------------------------ image folders
# (which files: folders.py)

def _header(path, gray_so_far):
    """(width, height, gray) from the file header, or a clear error. A
    colour file is gray when its every pixel is (images.read_rgba, as
    the engine decides): decoded to see, while every file before it was
    gray (a colour data set stops at its first colour picture)."""
    try:
        with Image.open(path) as im:
            images.check_decodable(im)
            w, h = images.shown_size(im)
            gray = images.is_gray_mode(im.mode)
        if gray_so_far and not gray:
            gray = images.read_rgba(path)[1]
        return w, h, gray
    except Exception as err:  # PIL raises many kinds for a bad file
        raise BuildError(f"{path}: cannot read the image ({err})") from None


def _geometry(paths, opts):
    """((h, w), channels) from the options or, when not given, the files."""
    if opts.size is not None and opts.channels is not None:
        return opts.size, opts.channels  # no header pass: decoding reads every file
    sizes, gray = {}, True
    with Progress("read image headers", len(paths)) as bar:
        for p in paths:
            w, h, g = _header(p, gray)
            sizes.setdefault((h, w), p)
            gray &= g
            bar.update()
    size = opts.size
    if size is None:
        if len(sizes) > 1:
            (a, pa), (b, pb) = list(sizes.items())[:2]
            raise BuildError(
                f"images have different sizes (height x width, as --size takes them: "
                f"{a[0]}x{a[1]} in {pa}, {b[0]}x{b[1]} in {pb}): give --size")
        size = next(iter(sizes))
    channels = opts.channels or (1 if gray else 3)
    return size, channels


def _decode(samples, size, channels, what):
    out = np.zeros((len(samples), channels) + tuple(size), np.uint8)
    with Progress(f"decode {what}", len(samples)) as bar:
        for i, (path, _) in enumerate(samples):
            try:
                out[i] = images.load_uint8(path, size, channels)
            except Exception as err:  # PIL raises many kinds for a bad file
                raise BuildError(f"{path}: cannot read the image ({err})") from None
            bar.update()
    return out


# ------------------------------------------------------------ IDX

def _idx_path(root, stem):
    for name in (stem, stem + ".gz"):
        if os.path.exists(os.path.join(root, name)):
            return os.path.join(root, name)
    return None


def is_idx_dir(root):
    return all(_idx_path(root, f"{s}-{k}-idx{d}-ubyte")
               for s in ("train", "t10k") for k, d in (("images", 3), ("labels", 1)))


def read_idx(path):
    """An unsigned-byte IDX file (gzip'd or not) as a numpy array."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise BuildError(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise BuildError(f"{path}: {data.size} bytes for shape {dims}")
    return data.reshape(dims).copy()


def _idx_labels(root, count):
    path = os.path.join(root, "labels.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            labels = [line.strip() for line in f if line.strip()]
    elif count == 10 and "fashion" in os.path.realpath(root).lower():
        labels = list(FASHION_LABELS)
    else:
        labels = [str(k) for k in range(count)]
    if len(labels) != count:
        raise BuildError(f"{path}: {len(labels)} labels for {count} classes")
    return labels


def _resized_idx(images_hw, size):
    """(N, H, W) uint8 -> (N, 1, h, w) uint8 at `size`."""
    if size is None or tuple(size) == images_hw.shape[1:]:
        return images_hw[:, None]
    out = np.zeros((len(images_hw), 1) + tuple(size), np.uint8)
    with Progress("resize IDX images", len(images_hw)) as bar:
        for i, im in enumerate(images_hw):
            rgba = np.repeat(im[..., None], 4, axis=2)
            out[i, 0] = np.clip(np.rint(images.resize(rgba, *size)[..., 0]), 0, 255)
            bar.update()
    return out


# ------------------------------------------------------------ splits

def carve(n, fraction, seed):
    """Sorted (train, val) indices of n samples: a seeded permutation's
    first round(n·fraction) are val (the Fashion-MNIST pipeline's split with
    fraction 1/12)."""
    if n < 2:
        raise BuildError(f"{n} training sample: a validation split needs at least 2")
    n_val = min(n - 1, max(1, int(round(n * fraction))))
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[n_val:]), np.sort(perm[:n_val])


def pick(n, limit, seed, split):
    """`limit` of n positions (all if fewer): a seeded, sorted choice for
    train and val; the first `limit` of test, the samples `dyce eval
    --limit` reads, so PyTorch and the engine are compared on the same."""
    if not limit or limit >= n:
        return np.arange(n)
    if split == "test":
        return np.arange(limit)
    return np.sort(np.random.default_rng(seed + 1).permutation(n)[:limit])


def _cache_key(root, opts, samples):
    h = hashlib.sha256(json.dumps(
        [os.path.realpath(root), opts.size, opts.channels, opts.val_fraction,
         opts.seed, opts.limit]).encode())
    for split, entries in samples.items():
        for path, k in entries:
            try:
                st = os.stat(path)
            except OSError as err:   # e.g. a link to a file that is gone
                raise BuildError(f"{path}: cannot read the image ({err.strerror})") from None
            h.update(f"{split}|".encode() + os.fsencode(path)   # bytes: any file name
                     + f"|{k}|{st.st_size}|{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def test_split(root):
    """The `dyce eval --split` naming the test images of `root`: always
    test (dyce eval reads an image folder's val/ as its test split when
    there is no test/, as folder_roles does)."""
    return "test"


def folder_samples(root, classes, val_fraction, seed, test_fraction=TEST_FRACTION,
                   skipped=None):
    """{split: ([(path, class index)], index)} of an image folder — `index`:
    the samples' places in the list a split was carved from (train/, or
    what a flat folder does not hold out) — the classes and the roles."""
    roles = folder_roles(root)
    if roles["flat"]:
        every, classes = scan_folder(root, ".", classes, skipped)
        held = [held_out(os.path.relpath(p, root).replace(os.sep, "/"), test_fraction)
                for p, _ in every]
        test = [e for e, h in zip(every, held) if h]
        train = [e for e, h in zip(every, held) if not h]
        lost = sorted(set(range(len(classes))) - {k for _, k in train})
        if lost or not test:
            raise BuildError(f"{root}: holding out {test_fraction:g} of the files as the "
                             "test split leaves " + (f"class '{classes[lost[0]]}' no "
                             "training files" if lost else "no test files") +
                             "; give --test-fraction, or train/ and test/ folders")
    else:
        if test_fraction != TEST_FRACTION:
            raise BuildError(f"{root}: --test-fraction holds files out of a folder without "
                             "split folders; this one has train/ (its test split is "
                             f"{roles['test']}/): leave --test-fraction out")
        train, classes = scan_folder(root, "train", classes, skipped)
        test, _ = scan_folder(root, roles["test"], classes, skipped)
    chosen = {"test": (test, np.arange(len(test)))}
    if roles["val"]:
        val, _ = scan_folder(root, roles["val"], classes, skipped)
        chosen["val"] = (val, np.arange(len(val)))
        chosen["train"] = (train, np.arange(len(train)))
    else:
        tr, va = carve(len(train), val_fraction, seed)
        chosen["train"] = ([train[i] for i in tr], tr)
        chosen["val"] = ([train[i] for i in va], va)
    return chosen, classes, roles


def _untrained(chosen, classes):
    """Why a class has no training image when the validation carve took
    them all (else ''): checked before --limit picks a smoke run's few."""
    # (A class named only by --labels, with no folder, has no images at all.)
    missing = sorted({k for _, k in chosen["val"][0]} - {k for _, k in chosen["train"][0]})
    if not missing:
        return ""
    held = sum(1 for _, k in chosen["val"][0] if k == missing[0])
    return (f"class '{classes[missing[0]]}' has no training image: its {held} "
            f"image{'s' * (held != 1)} went to the validation split"
            + (f" ({len(missing)} classes so)" if len(missing) > 1 else "")
            + "; add images to it, or give a val/ folder or a smaller --val-fraction")


def _folder_splits(root, opts, work):
    """{split: (images, labels, index)}, classes, a note on the layout and
    the files skipped, and one on the files --limit left unread ('' when
    none) — from an image folder."""
    skipped = []
    chosen, classes, roles = folder_samples(root, opts.classes, opts.val_fraction, opts.seed,
                                            opts.test_fraction, skipped)
    untrained = _untrained(chosen, classes)
    tests = len(chosen["test"][0])
    total = sum(len(entries) for entries, _ in chosen.values())
    for name, (entries, index) in list(chosen.items()):
        keep = pick(len(entries), opts.limit, opts.seed, name)
        chosen[name] = ([entries[i] for i in keep], index[keep])
    samples = {k: v[0] for k, v in chosen.items()}
    note = ""
    shown = sorted({k for _, k in samples["test"]})
    if len(samples["test"]) < tests and len(shown) < len(classes):
        # pick(): the first `limit` test files, as `dyce eval --limit` reads them
        note += (f" (--limit: the test split is the first {len(samples['test'])} of its "
                 f"{tests} files, in folder order: {len(shown)} of the {len(classes)} "
                 "classes, so test figures cover those only)")
    read = sum(len(v) for v in samples.values())
    # A smoke run is no check of the folder: the files it leaves are unread.
    unread = (f"--limit/--smoke: {read} of the folder's {total} files read; a full run "
              "reads, and so checks, every one" if read < total else "")
    if roles["flat"]:
        note += (f" (no split folders: {opts.test_fraction:g} of the files held out "
                 "as the test split by their paths, validation carved from the rest)")
    elif roles["test"] != "test":
        note += (f" (no test/: {roles['test']}/ is the test split, validation "
                 "carved from train/)")
    if skipped:
        note += (f" ({len(skipped)} files skipped: not images; "
                 f"e.g. {os.path.relpath(skipped[0], root)})")
    key = _cache_key(root, opts, samples)
    cache = os.path.join(work, f"data-{key}.npz")
    if os.path.exists(cache):
        with np.load(cache) as z:
            return {s: (z[f"{s}/images"], z[f"{s}/labels"], z[f"{s}/index"])
                    for s in chosen}, classes, note, unread
    every = [p for entries in samples.values() for p, _ in entries]
    size, channels = _geometry(every, opts)
    out = {}
    for name, (entries, index) in chosen.items():
        out[name] = (_decode(entries, size, channels, name),
                     np.array([k for _, k in entries], np.int64),
                     np.asarray(index, np.int64))
    if untrained:   # after the files were read: a file that cannot be is said first
        raise BuildError(untrained)
    os.makedirs(work, exist_ok=True)
    tmp = f"{cache}.{os.getpid()}.tmp.npz"  # torchrun ranks write it at once
    np.savez(tmp, **{f"{s}/{f}": a for s, v in out.items()
                                    for f, a in zip(("images", "labels", "index"), v)})
    os.replace(tmp, cache)
    return out, classes, note, unread


def _idx_splits(root, opts):
    tr_im = read_idx(_idx_path(root, "train-images-idx3-ubyte"))
    tr_lb = read_idx(_idx_path(root, "train-labels-idx1-ubyte")).astype(np.int64)
    te_im = read_idx(_idx_path(root, "t10k-images-idx3-ubyte"))
    te_lb = read_idx(_idx_path(root, "t10k-labels-idx1-ubyte")).astype(np.int64)
    if opts.channels not in (None, 1):
        raise BuildError(f"{root}: IDX images are gray; --channels "
                         f"{opts.channels} is not supported for them")
    tr, va = carve(len(tr_im), opts.val_fraction, opts.seed)
    parts = {"train": (tr_im, tr_lb, tr), "val": (tr_im, tr_lb, va),
             "test": (te_im, te_lb, np.arange(len(te_im)))}
    out = {}
    for name, (im, lb, index) in parts.items():
        index = index[pick(len(index), opts.limit, opts.seed, name)]
        out[name] = (_resized_idx(im[index], opts.size), lb[index], index)
    count = int(max(tr_lb.max(), te_lb.max())) + 1
    classes = _idx_labels(root, count) if opts.classes is None else opts.classes
    if len(classes) < count:
        raise BuildError(f"--labels: {len(classes)} names for labels up to {count - 1}")
    return out, classes


def channel_stats(images, chunk=2048):
    """Per-channel mean and std of uint8 (N, C, H, W) scaled to [0, 1],
    accumulated in chunks (a large folder never becomes one float array)."""
    total = np.zeros(images.shape[1]); square = np.zeros(images.shape[1])
    for start in range(0, len(images), chunk):
        x = images[start:start + chunk].astype(np.float64) / 255.0
        total += x.sum(axis=(0, 2, 3))
        square += (x * x).sum(axis=(0, 2, 3))
    count = images.shape[0] * images.shape[2] * images.shape[3]
    mean = total / count
    std = np.sqrt(np.maximum(square / count - mean * mean, 0.0))
    return [float(v) for v in mean], [max(float(v), 1e-3) for v in std]


def load(root, opts, work):
    """The Dataset of `root` (an image folder or an IDX directory)."""
    if not os.path.isdir(root):
        raise BuildError(f"--data {root}: not a directory")
    unread = ""
    if is_idx_dir(root):
        parts, classes = _idx_splits(root, opts)
        source = "idx"
    else:
        parts, classes, note, unread = _folder_splits(root, opts, work)
        source = "images" + note
    if len(classes) < 2:
        raise BuildError(f"{root}: {len(classes)} class; at least 2 needed")
    splits = [Split(name, *parts[name]) for name in ("train", "val", "test")]
    mean, std = opts.mean, opts.std
    if mean is None or std is None:
        m, s = channel_stats(splits[0].images)
        mean, std = mean or m, std or s
    channels = splits[0].images.shape[1]
    mean = list(mean) * channels if len(mean) == 1 else list(mean)
    std = list(std) * channels if len(std) == 1 else list(std)
    if len(mean) != channels or len(std) != channels:
        given = len(opts.mean or opts.std)
        raise BuildError(f"--mean/--std: {channels} value{'s' * (channels > 1)} expected (the input "
                         f"has {channels} channel{'s' * (channels > 1)}), not {given}"
                         + ("; the pictures are gray: --channels 3 makes it colour" if channels == 1 else ""))
    return Dataset(*splits, classes=classes, mean=mean, std=std,
                   source=source, unread=unread)
