"""Decoupled DyCE exit training on the frozen backbone; the frozenness check.

The backbone runs once (eval mode, no_grad) over the train split, un-augmented
plus `exit_aug_views` augmented views (different seeds), and over val and
test un-augmented; the globally average-pooled output of every stage is
cached in WORK/features.npz. Each exit is then trained alone on the detached
pooled features of its position (an exit is GAP + MLP, so training its MLP on
pooled features is training the exit): AdamW, cosine learning rate, plain
cross-entropy. DyCE's released code optionally weights samples by
2·(1 − maxsoftmax(first exit)); it is not used here because the
configuration search works from each exit's recorded confidence, and
unweighted exits keep every exit a plain classifier of its position. The
backbone's parameters and buffers are hashed before and after; a mismatch
aborts the pipeline.
"""

import os

import numpy as np
import torch
from torch import nn

from dyce_build.exits import train_mlp as _train_mlp  # noqa: F401 (reds uses it)
from dyce_build.features import state_digest

from . import data as fdata

AUG_SEED = 7000      # augmented feature views
SHUFFLE_SEED = 8000  # exit-training batch order


def pooled_features(backbone, batches):
    """[(N, C_p)] pooled outputs of every stage for an iterable of inputs."""
    backbone.eval()
    chunks = []
    with torch.no_grad():
        for x in batches:
            feats = backbone.features(x)
            chunks.append([nn.functional.adaptive_avg_pool2d(f, 1).flatten(1)
                           for f in feats])
    return [torch.cat(col).numpy() for col in zip(*chunks)]


def _augmented(data, split, seed, batch_size=500):
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, len(split.labels), batch_size):
        images = split.images[start:start + batch_size]
        yield data.normalise(fdata.augment(images, gen))


def feature_views(backbone, data, aug_views):
    """{view: [features per stage]}: train, val, test clean; train_aug<i>."""
    views = {s.name: pooled_features(backbone, fdata.eval_batches(data, s))
             for s in data.splits()}
    for i in range(aug_views):
        views[f"train_aug{i}"] = pooled_features(
            backbone, _augmented(data, data.train, AUG_SEED + i))
    return views


def _save_features(path, views, digest):
    np.savez(path, backbone_sha256=np.array(digest),
             **{f"{v}:{p + 1}": f for v, feats in views.items()
                for p, f in enumerate(feats)})


def _load_features(path, digest):
    """The cached views, or None when missing or from another backbone."""
    if not os.path.exists(path):
        return None
    views = {}
    with np.load(path) as z:
        if str(z["backbone_sha256"]) != digest:
            return None
        keys = [k.split(":") for k in z.files if ":" in k]
        for view, p in sorted(keys, key=lambda k: (k[0], int(k[1]))):
            views.setdefault(view, []).append(z[f"{view}:{p}"])
    return views


def cached_features(backbone, data, aug_views, path, log):
    """feature_views, cached in `path` for this backbone (by state digest)."""
    digest = state_digest(backbone)
    views = _load_features(path, digest)
    if views is None:
        views = feature_views(backbone, data, aug_views)
        _save_features(path, views, digest)
        log(f"features: cached {len(views)} views in {path}")
    return views


def exit_position(name):
    """exit<p>_<type> -> p."""
    return int(name[len("exit"):].split("_")[0])


def mlp_logits(mlp, features):
    """float32 logits of an exit's (or the head's) MLP on pooled features."""
    mlp.eval()
    with torch.no_grad():
        return mlp(torch.as_tensor(features)).numpy().astype(np.float32)


def train_exits(backbone, exits, data, profile, features_path, log):
    """Train every exit (nn.ModuleDict) on the frozen backbone's features."""
    before = state_digest(backbone)
    views = cached_features(backbone, data, profile.exit_aug_views,
                            features_path, log)
    train_views = [v for v in views if v.startswith("train")]
    labels = np.concatenate([data.train.labels] * len(train_views))
    for i, (name, ex) in enumerate(exits.items()):
        p = exit_position(name)
        x = np.concatenate([views[v][p - 1] for v in train_views])
        _train_mlp(ex.mlp, x, labels, profile.exit_epochs,
                   seed=SHUFFLE_SEED + i)
        acc = [(mlp_logits(ex.mlp, views[s.name][p - 1]).argmax(1)
                == s.labels).mean() for s in (data.train, data.val)]
        log(f"{name}: train {acc[0]:.4f} val {acc[1]:.4f}")
    check_unchanged(before, backbone, log)
    return exits


def check_unchanged(before, backbone, log):
    """Abort unless the backbone's state_dict digest still equals `before`."""
    after = state_digest(backbone)
    same = before == after
    log(f"backbone unchanged by exit training: {same} "
        f"(sha256 before {before[:16]}…, after {after[:16]}…)")
    if not same:
        raise RuntimeError("exit training modified the backbone")
