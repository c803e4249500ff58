"""What the two REDS pipelines (models/reds, models/reds_resnet) share on
top of the builder's core (models/dyce_build): the run context, cached
modules, the data, the modules they borrow from the Fashion-MNIST build,
and the engine's search.

Under torchrun every rank runs every step (the trainings and predictions
sharded by dyce_build.fit and dyce_build.features); rank 0 alone writes
the work folder, and decides from it what is cached (dist.exists).

The context is the builder's (work folder, WORK/build.log, timings) plus
the profile, the output folder and the data. A step's module is cached as
WORK/<name>.pt and loaded unless --force (the REDS steps depend on each
other in one fixed order; the builder's option-keyed cache is for its own
steps). Data: Debian's Fashion-MNIST IDX files through the builder's
loader (validation: 1/12 of train, seed 20240301, as models/train_fmnist.py).
"""

import dataclasses
import json
import os
import shutil
from types import SimpleNamespace

import torch

import train_fmnist  # models/train_fmnist.py: the Fashion-MNIST build
from dyce_build import backbones, dist, engine
from dyce_build.data import Options, load
from dyce_build.features import state_digest
from dyce_build.fit import TrainConfig, fit, save_whole
from dyce_build.pipeline import Context as BuildContext

DATA_DIR = train_fmnist.DATA
# The Fashion-MNIST build's step cache: its trained backbone and savers are
# reused when present.
FMNIST_WORK = train_fmnist.WORK


class Context(BuildContext):
    """`package`: the package's file name in `out` (its records: the same
    stem + .records). `data_dir` and `data_options`: the data (default
    Debian's Fashion-MNIST, validation 1/12 of train). `shared_work`: the
    Fashion-MNIST build whose trained modules are reused (None: train
    them here)."""

    def __init__(self, work, out, profile, package, force=False, data_dir=DATA_DIR,
                 data_options=None, shared_work=FMNIST_WORK):
        super().__init__(SimpleNamespace(workdir=work, force=force))
        self.out, self.profile, self.package, self.data = out, profile, package, None
        self.data_dir, self.shared_work = data_dir, shared_work
        self.data_options = data_options or Options(val_fraction=train_fmnist.VAL_FRACTION)
        os.makedirs(out, exist_ok=True)

    @property
    def force(self):
        return self.opts.force

    @property
    def records(self):
        return os.path.splitext(self.package)[0] + ".records"


def cached_module(ctx, name, build, train):
    """Load WORK/<name>.pt into build() if present, else train it and save."""
    path = ctx.path(f"{name}.pt")
    module = build()
    if dist.exists(path) and not ctx.force:
        module.load_state_dict(torch.load(path))
        ctx.log(f"{name}: loaded {path}")
        return module.eval()
    module = ctx.timed(f"train {name}", lambda: train(module))
    dist.check_same(state_digest(module), f"{name} weights")
    dist.on_main(lambda: save_whole(module.state_dict(), path))
    return module.eval()


def trained(ctx, name, build, epochs, seed, max_lr=0.2):
    """cached_module trained by the builder's SGD loop (resuming from its
    epoch checkpoint, except under --force); max_lr None: the builder's
    --lr auto trials choose the peak rate."""
    def train(module):
        ckpt = ctx.path("ckpt", name)
        if ctx.force:
            dist.on_main(lambda: shutil.rmtree(ckpt, ignore_errors=True))
        return fit(module, ctx.data, TrainConfig(epochs=epochs, seed=seed, max_lr=max_lr),
                   ckpt, ctx.log, name)
    return cached_module(ctx, name, build, train)


def borrowed(ctx, name, spec, epochs, seed, weights=None):
    """The module `spec` (FILE.py:FUNCTION of models/backbones) with the
    state dict `weights` if given, else as the Fashion-MNIST build trained
    it (FMNIST_WORK/<name>.pt, full runs), else trained here with that
    build's recipe (smoke runs, or no such build)."""
    def build():
        torch.manual_seed(seed)
        _, path, fn = backbones.split_spec(spec)
        return backbones.file_backbone(path, fn, len(ctx.data.classes),
                                       ctx.data.channels)
    shared = os.path.join(ctx.shared_work or "", f"{name}.pt")
    if weights or (ctx.shared_work and not ctx.profile.smoke and os.path.exists(shared)):
        module = build()
        backbones.load_weights(module, weights or shared)
        ctx.log(f"{name}: weights from {weights or shared}")
        return module.eval()
    return trained(ctx, name, build, epochs, seed)


def load_data(ctx, limit="profile"):
    """The three splits of the context's data (`limit` samples each: the
    profile's by default, None for all); the context keeps the profile's."""
    limit = ctx.profile.limit if limit == "profile" else limit
    data = load(ctx.data_dir, dataclasses.replace(ctx.data_options, limit=limit), ctx.work)
    if limit == ctx.profile.limit:
        ctx.data = data
    return data


def knapsack_info(ctx, solve):
    """WORK/knapsack.json: the levels of the profile's widths (percent of
    the full network's MACs) as `solve(fractions)` finds them, cached
    while the widths stay the same."""
    fractions = sorted(w / 100 for w in ctx.profile.widths)
    if dist.exists(ctx.path("knapsack.json")) and not ctx.force:
        info = load_json(ctx, "knapsack.json")
        if sorted(e["fraction"] for e in info)[:-1] == fractions:
            return info
    _, info = ctx.timed("knapsack", lambda: solve(fractions))
    save_json(ctx, "knapsack.json", info)
    return info


def level_name(info_entry):
    return f"w{round(100 * info_entry['fraction'])}"


def by_width(info):
    """knapsack.json's entries, the full network first, then narrower."""
    return sorted(info, key=lambda e: -e["fraction"])


def search_step(ctx, package, records):
    """The joint saver × exits × width search of the engine's CLI on the
    train records, measured on val, written into the package's CONF."""
    pkg, rec = os.path.join(ctx.out, package), os.path.join(ctx.out, records)
    claims = engine.search(pkg, rec, ctx.profile.search_lambda_step, pkg)
    ctx.log(f"search: {len(claims)} configurations (+ each level's backbone) "
            f"written into {pkg}\n" + "\n".join(
                f"{n}: val {c['accuracy']:.4f}, {c['mean_macs']:,.0f} MACs"
                for n, c in claims.items()))


def save_json(ctx, name, obj):
    """WORK/<name>, written by rank 0 (every rank has `obj`, so none reads
    it back in the same run; a whole file replaces the old one)."""
    if dist.is_main():
        with open(ctx.path(name) + ".tmp", "w") as f:
            json.dump(obj, f, indent=1)
        os.replace(ctx.path(name) + ".tmp", ctx.path(name))


def load_json(ctx, name):
    with open(ctx.path(name)) as f:
        return json.load(f)
