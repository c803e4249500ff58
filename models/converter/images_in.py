"""Calibration (and evaluation) images for quantization, preprocessed as a
package's INPT says, with the one definition of dyce_build/images.py and
the folder / IDX readers of dyce_build/data.py.

DIR is an IDX directory (train-/t10k- images and labels, as Debian's
Fashion-MNIST), an image folder with DIR/train/<class>/* (the train split
is used), or a folder of class subfolders DIR/<class>/*. `count` images are
taken by data.pick (all when fewer; a seeded, sorted choice otherwise).
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from dyce_build import data, images  # noqa: E402
from dyce_build.errors import BuildError  # noqa: E402

from .common import ConvertError  # noqa: E402


def _idx(root, spec, split, count):
    prefix = "train" if split == "train" else "t10k"
    try:
        pixels = data.read_idx(data._idx_path(root, f"{prefix}-images-idx3-ubyte"))
        labels = data.read_idx(data._idx_path(root, f"{prefix}-labels-idx1-ubyte"))
    except (BuildError, OSError, EOFError) as err:
        raise ConvertError(f"{root}: {err}") from None
    if spec.c not in (1, 3):
        raise ConvertError(f"the package input has {spec.c} channels: IDX images "
                           "give 1 (gray) or 3 (the gray value in each)")
    keep = data.pick(len(pixels), count, data.SPLIT_SEED, split)
    out = []
    for im in pixels[keep]:
        px = im[None].astype(np.float64)
        if im.shape != (spec.h, spec.w):   # as a gray picture file is (dyce eval too)
            rgba = np.repeat(im[..., None], 4, axis=2)
            px = np.clip(np.rint(images.resize(rgba, spec.h, spec.w)[None, ..., 0]), 0, 255)
        # a colour model reads a gray picture's value in each channel (docs/FORMAT.md)
        px = np.repeat(px, spec.c, axis=0)
        out.append(images.normalise(px, spec.pixel_scale, spec.mean, spec.std))
    return np.stack(out), labels[keep].astype(np.int64)


def _folder(root, spec, split, count):
    if os.path.isdir(os.path.join(root, split)):
        parent, name = root, split
    else:
        parent, name = os.path.dirname(os.path.abspath(root)), os.path.basename(
            os.path.abspath(root))
    try:
        samples, _ = data.scan_folder(parent, name)
    except (BuildError, OSError) as err:
        raise ConvertError(str(err)) from None
    if spec.c not in (1, 3):
        raise ConvertError(f"the package input has {spec.c} channels: images "
                           "give 1 (gray) or 3 (RGB)")
    keep = data.pick(len(samples), count, data.SPLIT_SEED, split)
    out, labels = [], []
    for i in keep:
        path, k = samples[i]
        try:
            x = images.to_tensor(path, (spec.h, spec.w), spec.c,
                                 spec.pixel_scale, spec.mean, spec.std)[0]
        except Exception as err:  # PIL raises many kinds for a bad file
            raise ConvertError(f"{path}: cannot read the image ({err})") from None
        out.append(x)
        labels.append(k)
    return np.stack(out), np.asarray(labels, np.int64)


def load_images(root, spec, count=500, split="train"):
    """(x float32 (N, C, H, W), labels (N,)) of up to `count` images of a
    directory, for a package whose InputSpec is `spec`."""
    if not os.path.isdir(root):
        raise ConvertError(f"{root}: not a directory")
    if count < 1:
        raise ConvertError(f"image count {count}: at least 1")
    if data.is_idx_dir(root):
        x, labels = _idx(root, spec, split, count)
    else:
        x, labels = _folder(root, spec, split, count)
    if len(x) == 0:
        raise ConvertError(f"{root}: no images")
    if not np.all(np.isfinite(x)):
        raise ConvertError(f"{root}: preprocessing gave non-finite values")
    return x.astype(np.float32), labels
