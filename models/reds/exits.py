"""Step 6: DyCE exits for every level, trained decoupled on the frozen net.

For each level the fine-tuned network runs once (eval mode, no_grad, that
level's prefix widths) over the train split (un-augmented plus
`exit_aug_views` augmented views with fixed seeds) and over val and test;
the globally average-pooled outputs of stage1..3 (n_p channels at that
level) and the head's logits are cached in WORK/features.npz, keyed by the
network's state digest (under torchrun each rank pools its share of every
split, gathered in sample order). Every exit (types of EXIT_TYPES) is trained alone
on its level's pooled features with the builder's AdamW/cosine loop
(dyce_build.exits) — plain
arrays, so nothing reaches the network (its digest is checked before and
after).

Export: an exit trained on n_p < 64 input channels is padded to the full
width (zero first-layer weights for channels n_p..63), so it is an ordinary
graph reading the full-width stage output; at its level the engine gives it
the n_p-channel stage output and only the prefix weights matter.
Names: level 0 `exit<p>_<t>`, level w75 `exit<p>_<t>_w75`, etc.
"""

import numpy as np
import torch
from torch import nn

from dyce_build import dist, exits as bexits
from dyce_build.features import AUG_SEED, state_digest
from dyce_build.fit import eval_batches
from dyce_build.nets import Exit, count_macs

from . import nets

EXIT_TYPES = {"a": (), "b": (128,)}
EXIT_TYPES_BY_DEPTH = {len(h): h for h in EXIT_TYPES.values()}
POSITIONS = (1, 2, 3)
SEED = 100
SHUFFLE_SEED = 8000  # exit-training batch order


def classifier(channels, hidden):
    """GAP + MLP with `hidden` layers of 128 (an exit, or the head)."""
    return Exit(channels, nets.NUM_CLASSES, len(hidden))


def level_suffix(name):
    """'w100' -> '' (level 0 keeps plain names), 'w75' -> '_w75'."""
    return "" if name == "w100" else f"_{name}"


def exit_name(p, t, level_name):
    return f"exit{p}_{t}{level_suffix(level_name)}"


def head_name(level_name):
    return "head" if level_name == "w100" else f"head@{level_name}"


def _pooled(net, level, batches):
    """[pooled stage1..3 (N, n_p)] + [head logits (N, 10)]."""
    net.eval()
    cols = []
    with torch.no_grad():
        for x in batches:
            feats = net.features(x, level)
            cols.append([nn.functional.adaptive_avg_pool2d(f, 1).flatten(1)
                         for f in feats[:-1]] + [feats[-1]])
    return [torch.cat(c).numpy() for c in zip(*cols)]


def _pooled_split(net, level, data, split, batch, seed=None):
    """_pooled over a split, sharded over ranks and gathered in sample order
    (whole on every rank when a split is too small to give each rank some).
    An augmented view draws from its own generator per rank: on one
    process the same views as ever, on several other (as many) views."""
    n = len(split.labels)
    whole = (dist.world() - 1) * -(-n // dist.world()) >= n   # a rank would get nothing
    start, stop = (0, n) if whole else dist.shard(n)
    gen = None if seed is None else torch.Generator().manual_seed(
        seed + (0 if whole else 1000003 * dist.rank()))
    parts = _pooled(net, level, eval_batches(data, split, batch, start, stop, gen=gen))
    return parts if whole else [dist.gather_rows(p) for p in parts]


def feature_views(net, data, units, aug_views):
    """{view: [pooled 1..3, head logits]} of one level."""
    level = nets.level_widths(units)
    views = {s.name: _pooled_split(net, level, data, s, 256) for s in data.splits()}
    for i in range(aug_views):
        views[f"train_aug{i}"] = _pooled_split(net, level, data, data.train, 500, AUG_SEED + i)
    return views


def cached_level_features(net, data, named_levels, aug_views, path, log):
    """{level name: views}, cached in `path` for this network's digest."""
    digest = state_digest(net)
    try:
        if not dist.exists(path):
            raise FileNotFoundError(path)
        with np.load(path) as z:
            if str(z["digest"]) == digest:
                out = {}
                for key in z.files:
                    if key == "digest":
                        continue
                    lvl, view, k = key.split(":")
                    out.setdefault(lvl, {}).setdefault(view, {})[int(k)] = z[key]
                return {lvl: {v: [d[k] for k in sorted(d)]
                              for v, d in views.items()}
                        for lvl, views in out.items()}
    except FileNotFoundError:
        pass
    out = {}
    for name, units in named_levels:
        out[name] = feature_views(net, data, units, aug_views)
        log(f"features: level {name} done")
    dist.on_main(lambda: np.savez(path, digest=np.array(digest),
                                  **{f"{lvl}:{v}:{k}": a for lvl, views in out.items()
                                     for v, arrs in views.items() for k, a in enumerate(arrs)}))
    return out


def pad_exit(exit_small, full_in):
    """The exit with its first Linear zero-padded to `full_in` inputs."""
    hidden = EXIT_TYPES_BY_DEPTH[len(exit_small.mlp) // 2]
    big = classifier(full_in, hidden).eval()
    with torch.no_grad():
        for src, dst in zip(exit_small.mlp, big.mlp):
            if isinstance(src, nn.Linear):
                if src.in_features != dst.in_features:
                    dst.weight.zero_()
                    dst.weight[:, :src.in_features] = src.weight
                else:
                    dst.weight.copy_(src.weight)
                dst.bias.copy_(src.bias)
    return big


def train_level_exits(net, views, data, units, level_name, epochs, log):
    """{exit name: Classifier with n_p inputs} of one level, trained."""
    before = state_digest(net)
    widths = nets.stage_out_widths(units)
    train_views = [v for v in views if v.startswith("train")]
    labels = np.concatenate([data.train.labels] * len(train_views))
    out = {}
    for i, p in enumerate(POSITIONS):
        x = np.concatenate([views[v][p - 1] for v in train_views])
        for j, (t, hidden) in enumerate(EXIT_TYPES.items()):
            torch.manual_seed(SEED + 10 * i + j)
            ex = classifier(widths[p - 1], hidden)
            bexits.train_mlp(ex.mlp, x, labels, epochs, SHUFFLE_SEED + 10 * i + j)
            name = exit_name(p, t, level_name)
            acc = [(bexits.mlp_logits(ex.mlp, views[s.name][p - 1]).argmax(1)
                    == s.labels).mean() for s in data.splits()]
            log(f"{name} ({widths[p - 1]} inputs): train {acc[0]:.4f} "
                f"val {acc[1]:.4f} test {acc[2]:.4f}")
            out[name] = ex.eval()
    if state_digest(net) != before:
        raise RuntimeError("training the exits changed the network")
    log(f"network unchanged by exit training (sha256 {before[:16]}…)")
    return out


def exit_macs(ex, n_in):
    """MACs of an exit whose input has n_in channels (a stage map): first
    Linear over the prefix inputs plus the rest (GAP is not counted)."""
    return count_macs(ex, (1, n_in) + nets.stage_size())
