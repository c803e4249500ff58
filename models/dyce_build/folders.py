"""Image folders: which files each split of a data folder holds, read
the same way by `dyce eval --data DIR` (src/cli/image_folder.c): class
folders sorted by the bytes of their names, image files at any depth
sorted by their paths, hidden files and __MACOSX ignored, other image
formats refused; the split folders' roles (train/, test/, val/ or
valid/, ImageNet's train/ + val/), or, without split folders, the test
files held out by their paths."""

import os
import unicodedata

from . import images
from .errors import BuildError


# A folder of class folders with no split folders: the share of each
# class's files held out as the test split, chosen by their paths (below).
TEST_FRACTION = 0.2


def held_out(rel_path, fraction):
    """Is the file at `rel_path` (under the data folder, '/'-separated) a
    test file of a folder without split folders? FNV-1a (32 bits) of the
    path's bytes, modulo 10^6, under fraction * 10^6: the same choice
    whatever else is in the folder, reproduced by dyce eval
    (src/cli/image_folder.c)."""
    h = 2166136261
    for b in os.fsencode(rel_path):
        h = ((h ^ b) * 16777619) & 0xFFFFFFFF
    return h % 1000000 < int(fraction * 1000000 + 0.5)


MAX_DEPTH = 8   # folders inside a class folder (src/cli/image_folder.c)


def _visible(name):
    """Entries read: not hidden (.DS_Store, ._* AppleDouble files) and not
    a macOS archive's __MACOSX folder."""
    return not name.startswith(".") and name != "__MACOSX"


def _by_bytes(names):
    """Sorted as `dyce eval` sorts (strcmp: the bytes of the names)."""
    return sorted(names, key=os.fsencode)


def _check_link(path):
    """A link to nothing is an error, not a class or a file skipped unsaid
    (src/cli/image_folder.c broken_link)."""
    if os.path.islink(path) and not os.path.exists(path):
        raise BuildError(f"{_shown(path)}: a link to nothing (its target is gone); remove it "
                         "or restore the target")


def _shown(path):
    """A path as text, bytes that are not UTF-8 escaped (\\xe9)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def _class_dirs(split_dir, names=None):
    """The class folders of `split_dir` (`names`: its listing, when read already)."""
    names = [d for d in (os.listdir(split_dir) if names is None else names) if _visible(d)]
    for d in names:
        _check_link(os.path.join(split_dir, d))
    return _by_bytes(d for d in names if os.path.isdir(os.path.join(split_dir, d)))


def _files(class_dir, skipped=None):
    """The image files under a class folder, at any depth (cat/batch1/x.jpg),
    as paths relative to it ('/'-separated), sorted by their bytes; the
    other visible files (a notes.txt, a Thumbs.db) go to `skipped` when
    given. A file of an image format the engine cannot decode (.webp, .bmp)
    is an error naming it."""
    found, others, todo = [], [], [("", 0)]
    while todo:
        rel, depth = todo.pop()
        for name in os.listdir(os.path.join(class_dir, rel) if rel else class_dir):
            sub = f"{rel}/{name}" if rel else name
            path = os.path.join(class_dir, sub)
            if not _visible(name):
                continue
            _check_link(path)
            if os.path.isdir(path):
                if depth >= MAX_DEPTH:
                    raise BuildError(f"{path}: folders nested more than {MAX_DEPTH} "
                                     "deep in a class folder (a link to a parent?)")
                todo.append((sub, depth + 1))
            elif (kind := images.kind_of_file(path)) == "image":
                found.append(sub)
            elif kind == "other":
                raise BuildError(f"{path}: {images.other_format_refusal(name)}")
            else:
                others.append(path)
    if skipped is not None:
        skipped += _by_bytes(others)
    return _by_bytes(found)


def scan_folder(root, split, classes=None, skipped=None):
    """[(path, class index)] of DIR/split in sample order; the classes.
    Files that are not images go to `skipped` when given."""
    split_dir = os.path.normpath(os.path.join(root, split))
    names = os.listdir(split_dir)
    found = _class_dirs(split_dir, names)
    if not found:
        raise BuildError(f"{split_dir}: no class folders (expected "
                         f"{split_dir}/<class>/<image files>)")
    for name in found:
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:   # a label must be text: say which folder
            raise BuildError(f"{_shown(os.path.join(split_dir, name))}: a class folder whose name is not UTF-8 (class "
                             "names are the package's labels, UTF-8 text); rename it") from None
    loose = _by_bytes(n for n in names if _visible(n) and n not in found
                      and images.kind_of_file(os.path.join(split_dir, n)) == "image")
    if loose:   # its class would be a guess: say where it belongs, not skip it unsaid
        raise BuildError(f"{os.path.join(split_dir, loose[0])}: an image outside the class "
                         f"folders ({len(loose)} in all); its class is the name of the folder "
                         f"it is in: move it into {split_dir}/<class>/, or out of {split_dir}")
    if classes is None:
        classes = found
    # folder names cannot hold '/': "T-shirt_top" is the class "T-shirt/top"
    lookup = {c.replace("/", "_"): k for k, c in enumerate(classes)}
    lookup.update({c: k for k, c in enumerate(classes)})
    unknown = [c for c in found if c not in lookup]
    if unknown:
        few = ", ".join(classes[:6]) + (", …" if len(classes) > 6 else "")
        same = [c for c in lookup if unicodedata.normalize("NFC", c)
                == unicodedata.normalize("NFC", unknown[0])]
        hint = (f"; '{same[0]}' is the same text with its accents encoded otherwise "
                "(Unicode NFC vs NFD, e.g. a folder copied from macOS): rename one so "
                "that both are spelt with the same bytes" if same else "")
        raise BuildError(f"{split_dir}: class folder '{unknown[0]}' is not one of the "
                         f"{len(classes)} classes the labels name ({few}: from --labels or "
                         f"the package, else the train split's folders){hint}")
    samples = []
    for name in found:
        files = _files(os.path.join(split_dir, name), skipped)
        if not files:
            raise BuildError(f"{os.path.join(split_dir, name)}: empty class "
                             f"folder (no {', '.join(images.EXTENSIONS)} files)")
        k = lookup[name]
        samples += [(os.path.join(split_dir, name, f), k) for f in files]
    return samples, classes


VAL_FOLDERS = ("val", "valid", "validation")   # as dyce eval reads them


def folder_roles(root):
    """{split: folder} of an image folder: train/ and test/, val/ (or
    valid/, validation/) if there is one (else None: carved from train).
    ImageNet's layout, train/ and val/ with no test/ (Kaggle's train/ and
    valid/), tests on val/ and carves validation from train. A folder of
    class folders alone ("flat": True) holds its test split out by path
    (held_out) and carves validation from the rest."""
    has = {s: os.path.isdir(os.path.join(root, s)) for s in ("train", "test")}
    vals = [v for v in VAL_FOLDERS if os.path.isdir(os.path.join(root, v))]
    if len(vals) > 1:
        raise BuildError(f"{root}: both {vals[0]}/ and {vals[1]}/; keep one "
                         "validation folder")
    val = vals[0] if vals else None
    if not has["train"] and not has["test"] and not val and _class_dirs(root):
        return {"train": None, "val": None, "test": None, "flat": True}
    if not has["train"] or not (has["test"] or val):
        missing = "train" if not has["train"] else "test"
        raise BuildError(f"{root}: no '{missing}' folder (expected "
                         f"{root}/train/<class>/… and {root}/test/<class>/…, "
                         "or train/ and val/)")
    if has["test"]:
        return {"train": "train", "val": val, "test": "test", "flat": False}
    return {"train": "train", "val": None, "test": val, "flat": False}
