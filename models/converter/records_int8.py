"""Records of what actually runs: the int8 graphs' predictions (the exact
oracle of int8_ops.py, bit-identical to the engine) on the train, val and
test splits of a dataset, in the records file of docs/FORMAT.md, then the
engine's own `dyce search` on them, so an int8 package ships
configurations searched on its own predictions.

Splits (as models/dyce_build/data.py makes them):
- train: `search_count` images of the training images left after the
  validation split is carved out (a seeded, sorted choice: data.pick);
- val: DIR/val when an image folder has one, else the fraction
  `val_fraction` of the training images carved with data.SPLIT_SEED
  (data.carve: 1/12 gives the Fashion-MNIST pipelines' 5 000 images);
- test: the test images (the first `test_count`, all by default), which
  the search never reads.
Images are the exact network inputs of dyce_build/images.py (the engine's
`dyce eval --data DIR` reads the same values).

Names, as the float pipelines write them: at level 0 (or without LEVL)
every classifier not owned by another level (name suffix `_<level>`); at a
width level L, the classifiers owned by L under their own names, and every
other classifier the level narrows as `NAME@L`, except one with an owned
sibling `NAME_L` (exits are trained per level; the engine refuses the
others there). Savers are not narrowed: recorded once.
"""

import os

import numpy as np
import torch

import dyce_format as fmt
from dyce_build import data as bdata
from dyce_build import images as bimages
from dyce_build import records_file
from dyce_build.errors import BuildError

from .common import ConvertError
from .executor import Runner, as_float, level_widths
from .quantize import classifiers


class Split:
    def __init__(self, name, x, labels, index):
        self.name, self.x, self.labels, self.index = name, x, labels, index


def _idx_splits(root, spec, val_fraction, search_count, test_count, val_count):
    if spec.c != 1:
        raise ConvertError(f"{root}: IDX images are gray (1 channel) but the "
                           f"package input has {spec.c} channels")

    def read(prefix):
        try:
            px = bdata.read_idx(bdata._idx_path(root, f"{prefix}-images-idx3-ubyte"))
            lb = bdata.read_idx(bdata._idx_path(root, f"{prefix}-labels-idx1-ubyte"))
        except (BuildError, OSError, EOFError) as err:
            raise ConvertError(f"{root}: {err}") from None
        return px, lb.astype(np.int64)

    def inputs(pixels):
        out = []
        for im in pixels:
            px = im[None].astype(np.float64)
            if im.shape != (spec.h, spec.w):
                rgba = np.repeat(im[..., None], 4, axis=2)
                px = bimages.resize(rgba, spec.h, spec.w)[None, ..., 0]
            out.append(bimages.normalise(px, spec.pixel_scale, spec.mean,
                                         spec.std))
        return np.stack(out).astype(np.float32)

    tr_px, tr_lb = read("train")
    te_px, te_lb = read("t10k")
    tr, va = bdata.carve(len(tr_px), val_fraction, bdata.SPLIT_SEED)
    tr = tr[bdata.pick(len(tr), search_count, bdata.SPLIT_SEED, "train")]
    va = va[bdata.pick(len(va), val_count, bdata.SPLIT_SEED, "val")]
    te = np.arange(len(te_px))[bdata.pick(len(te_px), test_count,
                                          bdata.SPLIT_SEED, "test")]
    return [Split("train", inputs(tr_px[tr]), tr_lb[tr], tr),
            Split("val", inputs(tr_px[va]), tr_lb[va], va),
            Split("test", inputs(te_px[te]), te_lb[te], te)]


def _folder_splits(root, spec, labels, val_fraction, search_count, test_count,
                   test_fraction, val_count):
    """The builder's splits of an image folder (dyce_build.data.folder_samples)."""
    try:
        chosen, _, _ = bdata.folder_samples(root, labels or None, val_fraction,
                                            bdata.SPLIT_SEED, test_fraction)
    except BuildError as err:
        raise ConvertError(str(err)) from None
    (train, tr), (val_samples, va), (test, _) = (chosen[s] for s in ("train", "val", "test"))
    keep = bdata.pick(len(tr), search_count, bdata.SPLIT_SEED, "train")
    train, tr = [train[i] for i in keep], tr[keep]
    keep = bdata.pick(len(va), val_count, bdata.SPLIT_SEED, "val")
    val_samples, va = [val_samples[i] for i in keep], va[keep]
    te = np.arange(len(test))[bdata.pick(len(test), test_count,
                                         bdata.SPLIT_SEED, "test")]

    def inputs(samples):
        out = []
        for path, _ in samples:
            try:
                out.append(bimages.to_tensor(path, (spec.h, spec.w), spec.c,
                                             spec.pixel_scale, spec.mean,
                                             spec.std)[0])
            except Exception as err:  # PIL raises many kinds for a bad file
                raise ConvertError(f"{path}: cannot read the image ({err})") from None
        return np.stack(out).astype(np.float32)

    def split(name, samples, index):
        return Split(name, inputs(samples),
                     np.array([k for _, k in samples], np.int64), index)
    return [split("train", train, tr),
            split("val", val_samples, va),
            split("test", [test[i] for i in te], te)]


def load_splits(root, spec, labels=None, val_fraction=0.1, search_count=25000,
                test_count=None, test_fraction=bdata.TEST_FRACTION, val_count=None):
    """[train, val, test] Splits of an IDX directory or an image folder,
    preprocessed for a package whose InputSpec is `spec`; `val_count`: that
    many of the validation images, chosen as models/build.py --limit does."""
    if not os.path.isdir(root):
        raise ConvertError(f"{root}: not a directory")
    if bdata.is_idx_dir(root):
        return _idx_splits(root, spec, val_fraction, search_count, test_count, val_count)
    return _folder_splits(root, spec, labels, val_fraction, search_count,
                          test_count, test_fraction, val_count)


def _narrowed(graphs, widths):
    """Per graph: whether a level narrows it or a graph on its path."""
    out = []
    for gi, g in enumerate(graphs):
        own = any(w is not None for w in widths[gi])
        out.append(own or (g.source != fmt.NONE and out[g.source]))
    return out


def record_plan(graphs, levels):
    """[(level index, level entries or None, [(graph index, record name)])]."""
    heads = sorted(classifiers(graphs))
    names = [n for n, _ in levels] if levels else []
    suffix = {i: "_" + n for i, n in enumerate(names) if i > 0}

    def owner(g):
        hits = [i for i, s in suffix.items() if g.name.endswith(s)]
        return hits[0] if hits else None
    plan = [(0, (levels[0][1] or None) if levels else None,
             [(gi, graphs[gi].name) for gi in heads if owner(graphs[gi]) is None])]
    every = {g.name for g in graphs}
    for li in range(1, len(names)):
        entries = levels[li][1]
        narrowed = _narrowed(graphs, level_widths(graphs, entries))
        pick = []
        for gi in heads:
            g, own = graphs[gi], owner(graphs[gi])
            if own == li:
                pick.append((gi, g.name))
            elif own is None and narrowed[gi] and \
                    g.name + suffix[li] not in every:
                pick.append((gi, f"{g.name}@{names[li]}"))
        plan.append((li, entries or None, pick))
    return plan


def _top1_conf(logits):
    """(top-1, max softmax f32) of float logits (B, K): the first of equal
    largest probabilities, as the engine."""
    probs = torch.softmax(torch.from_numpy(np.ascontiguousarray(logits)), 1)
    p = probs.numpy()
    return p.argmax(1).astype(np.int64), p.max(1).astype(np.float32)


def predictions(graphs, plan, split, batch=250, log=None):
    """{record name: (top1, conf)} of the plan's graphs on one split."""
    out = {}
    for li, entries, pick in plan:
        if not pick:
            continue
        runner = Runner(graphs, entries)
        wanted = [gi for gi, _ in pick]
        parts = {gi: ([], []) for gi in wanted}
        with torch.no_grad():
            for i in range(0, len(split.x), batch):
                outs = runner.run(split.x[i:i + batch], graphs=wanted)
                for gi in wanted:
                    g = graphs[gi]
                    v = as_float(outs[gi], g, g.output)
                    t, c = _top1_conf(v.reshape(len(v), -1))
                    parts[gi][0].append(t)
                    parts[gi][1].append(c)
        for gi, name in pick:
            out[name] = (np.concatenate(parts[gi][0]),
                         np.concatenate(parts[gi][1]))
        if log:
            log(f"records: {split.name} level {li}: {len(pick)} graphs")
    return out


def collect(package, splits, log=None):
    """The records dict of an (int8 or float) package's bytes on splits."""
    graphs, _, labels, macs = fmt.read_package(package)
    plan = record_plan(graphs, fmt.read_levels(package))
    names = [name for _, _, pick in plan for _, name in pick]
    rec = {"names": names,
           "macs": np.array([macs[graphs[gi].name] for _, _, pick in plan
                             for gi, _ in pick], np.uint64),
           "classes": len(labels) if labels else
           int(graphs[sorted(classifiers(graphs))[0]].shapes[
               graphs[sorted(classifiers(graphs))[0]].output][3]),
           "splits": []}
    for s in splits:
        preds = predictions(graphs, plan, s, log=log)
        rec["splits"].append(records_file.split_block(
            s.name, s.index, s.labels, [preds[n] for n in names]))
    return rec
