"""Fashion-MNIST: idx files, the train/val split, normalisation, augmentation.

Images stay uint8 in memory; `normalise` maps them to the network input
`(x/255 - mean) / std` with the train split's mean and std (what the package
input spec declares with pixel_scale = 1/255). Augmentation (random crop with
2-px zero padding on the [0, 1] image, horizontal flip) is applied batch-wise
before normalising, from a seeded torch.Generator, so every epoch is
reproducible and a resumed run sees the same batches.
"""

import gzip
import os
from dataclasses import dataclass

import numpy as np
import torch

DATA_DIR = "/usr/share/datasets/fashion-mnist"
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
          "Shirt", "Sneaker", "Bag", "Ankle boot"]
VAL_SIZE = 5000
SPLIT_SEED = 20240301
PAD = 2


def read_idx(path):
    """A gzip'd idx file (ubyte) as a numpy array of its declared shape."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\0\0" or raw[2] != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte idx file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big")
            for i in range(ndim)]
    data = np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim)
    return data.reshape(dims).copy()


@dataclass
class Split:
    """uint8 images (N, 28, 28), labels (N,), source-file indices (N,)."""
    name: str
    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray

    def subset(self, count):
        """The first `count` samples (smoke mode)."""
        return Split(self.name, self.images[:count], self.labels[:count],
                     self.index[:count])


@dataclass
class Data:
    """The three splits and the train split's normalisation statistics."""
    train: Split
    val: Split
    test: Split
    mean: float
    std: float

    def splits(self):
        return [self.train, self.val, self.test]

    def normalise(self, images):
        """uint8 (N, 28, 28) or [0, 1] floats (N, 1, 28, 28) -> net input."""
        x = torch.as_tensor(images)
        if x.dtype == torch.uint8:
            x = x.float().div_(255.0).unsqueeze(1)
        return (x - self.mean) / self.std


def split_indices(total=60000, val_size=VAL_SIZE, seed=SPLIT_SEED):
    """Sorted (train, val) indices into the 60 000 training images."""
    perm = np.random.default_rng(seed).permutation(total)
    return np.sort(perm[val_size:]), np.sort(perm[:val_size])


def load(data_dir=DATA_DIR, limit=None):
    """Load the splits; `limit` keeps the first samples of each (smoke)."""
    def read(stem):
        path = os.path.join(data_dir, stem)
        return (read_idx(f"{path}-images-idx3-ubyte.gz"),
                read_idx(f"{path}-labels-idx1-ubyte.gz"))
    images, labels = read("train")
    test_images, test_labels = read("t10k")
    train_idx, val_idx = split_indices(len(images))
    splits = [Split("train", images[train_idx], labels[train_idx], train_idx),
              Split("val", images[val_idx], labels[val_idx], val_idx),
              Split("test", test_images, test_labels,
                    np.arange(len(test_images)))]
    pixels = splits[0].images.astype(np.float64) / 255.0
    mean, std = float(pixels.mean()), float(pixels.std())
    if limit:
        splits = [s.subset(limit) for s in splits]
    return Data(*splits, mean=mean, std=std)


def augment(images, gen):
    """Random 28x28 crop of the 2-px zero-padded image and random h-flip.

    images: uint8 (B, 28, 28). Returns float (B, 1, 28, 28) in [0, 1].
    """
    x = torch.as_tensor(images).float().div_(255.0)
    b, h, w = x.shape
    padded = torch.nn.functional.pad(x, (PAD, PAD, PAD, PAD))
    dy = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * PAD + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, :]
    out = padded[torch.arange(b)[:, None, None], rows, cols]
    flip = torch.rand(b, generator=gen) < 0.5
    out = torch.where(flip[:, None, None], out.flip(2), out)
    return out.unsqueeze(1)


def train_batches(data, split, batch_size, seed):
    """Shuffled, augmented, normalised (inputs, labels) of one epoch."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split.labels), generator=gen).numpy()
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        x = data.normalise(augment(split.images[idx], gen))
        yield x, torch.as_tensor(split.labels[idx]).long()


def eval_batches(data, split, batch_size=500):
    """Un-augmented normalised inputs of a split, in order."""
    for start in range(0, len(split.labels), batch_size):
        yield data.normalise(split.images[start:start + batch_size])
