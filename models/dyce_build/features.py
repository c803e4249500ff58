"""One pass of the frozen backbone: every stage's pooled output and the
head's logits, per split (sharded over ranks under torchrun), cached.

Exits are GAP + MLP, so an exit trained on a stage's globally average-pooled
output *is* trained on that stage: the pooled features are plain arrays and
no gradient can reach the backbone. The backbone's state digest (sha256 of
every state_dict tensor) keys the cache and is checked unchanged after the
exits are trained.
"""

import hashlib
import inspect
import os

import numpy as np
import torch

from . import dist, nets
from .fit import eval_batches
from .progress import Progress

AUG_SEED = 7000


def state_digest(module):
    h = hashlib.sha256()
    for name, tensor in module.state_dict().items():
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def code_digest(module, files=()):
    """sha256 of what a module computes besides its weights: the source of
    every class in it (a forward() edited without touching __init__ changed
    neither str(module) nor the weights, and the cached training, features
    and exits were reused for another network) and of `files` (the spec's
    .py file: helpers its forward calls)."""
    h = hashlib.sha256()
    for cls in sorted({type(m) for m in module.modules()}, key=lambda c: (c.__module__, c.__qualname__)):
        h.update(f"{cls.__module__}.{cls.__qualname__}|".encode())
        try:
            h.update(inspect.getsource(cls).encode())
        except (OSError, TypeError):
            pass  # a class without a source file (built at run time): its name only
    for path in files:
        with open(path, "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def _pass(stages, head, batches, total, what, last):
    """([pooled (n, C_p) per stage], head logits (n, K)) of this rank's
    inputs; last[p]: stage p's output is a channels-last map."""
    pooled, logits = [[] for _ in stages], []
    with torch.no_grad(), Progress(what, total) as bar:
        for x in batches:
            y = x
            for p, stage in enumerate(stages):
                y = stage(y)
                pooled[p].append(nets.pool(y, last[p]))
            logits.append(head(y))
            bar.update(len(x))
    def cat(parts):
        return torch.cat(parts).numpy().astype(np.float32)
    return [cat(p) for p in pooled], cat(logits)


def _split_view(stages, head, data, split, flip, last, seed=None):
    start, stop = dist.shard(len(split.labels))
    gen = torch.Generator().manual_seed(seed + dist.rank()) if seed is not None else None
    batches = eval_batches(data, split, 256, start, stop, gen, flip)
    name = split.name if seed is None else f"{split.name} (augmented)"
    feats, logits = _pass(stages, head, batches, stop - start,
                          f"backbone features {name}", last)
    return [dist.gather_rows(f) for f in feats], dist.gather_rows(logits)


def compute(stages, head, data, aug_views, flip, last=None):
    """{view: ([pooled per stage], head logits)}: train, val, test clean,
    train_aug<i> augmented."""
    for m in list(stages) + [head]:
        m.eval()
    last = list(last or [False] * len(stages))
    views = {s.name: _split_view(stages, head, data, s, flip, last) for s in data.splits()}
    for i in range(aug_views):
        views[f"train_aug{i}"] = _split_view(stages, head, data, data.train,
                                             flip, last, AUG_SEED + 100 * i)
    return views


def save(path, views, digest):
    if not dist.is_main():
        return
    arrays = {"backbone_sha256": np.array(digest)}
    for view, (feats, logits) in views.items():
        arrays[f"{view}:head"] = logits
        arrays.update({f"{view}:{p + 1}": f for p, f in enumerate(feats)})
    np.savez(path + ".tmp.npz", **arrays)
    os.replace(path + ".tmp.npz", path)


def load(path, digest, positions):
    if not os.path.exists(path):
        return None
    views = {}
    with np.load(path) as z:
        if str(z["backbone_sha256"]) != digest:
            return None
        names = {k.split(":")[0] for k in z.files if ":" in k}
        for v in names:
            feats = [z[f"{v}:{p}"] for p in range(1, positions + 1)]
            views[v] = (feats, z[f"{v}:head"])
    return views
