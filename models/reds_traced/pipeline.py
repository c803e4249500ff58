"""REDS on any network torch.fx traces: the steps of `build.py --widths`
for a backbone without a pipeline of its own, each cached in the work dir.

pretrain -> trace + unit groups -> importance -> reorder -> knapsack ->
finetune -> exits (and savers) -> records -> package -> verify -> search. The recipe is the REDS
ResNet-20's (models/reds_resnet; docs/REDS.md): Σ|w ⊙ g| per unit over
producers, per-channel layers and readers, channels sorted by importance
(checked to leave the logits alone), nested widths per MAC budget (here a
greedy knapsack: knapsack.py), BatchNorm folded, joint fine-tuning of
every level with the REDS loss (reds.finetune.joint_fit on the masked
forward of net.py), then exits at every level and savers (exits.py), the
package with its width levels, the engine's check and the saver × exits ×
width search, each configuration run by the engine on test.

Under torchrun every rank runs the steps up to the records (the trainings
and predictions sharded, as the builder's), rank 0 alone writes WORK and
runs the engine's steps (package, verify, search).

Cached in WORK: pretrain.pt, pretrain_accuracy.json, importance.npz,
knapsack.json, finetuned.pt (+ ckpt/), exits.pt, saver<i>.pt, levels.json,
records.npz, engine.json, accuracy.md, build.log.
"""

import os
from dataclasses import dataclass

import numpy as np
import torch

from dyce_build import backbones, dist, engine as bengine, records_file
from dyce_build.errors import BuildError
from dyce_build.data import test_split
from dyce_build.fit import accuracy, predict
from dyce_build.messages import warn_if_chance
from reds import context, finetune as rfinetune, pipeline as rpipeline
from reds.context import load_json, save_json
from reds.exits import head_name
from reds.importance import accumulated_gradients
from reds_resnet import engine as rengine

from . import exits as texits, knapsack, net as tnet, package as tpackage

STEPS = ("pretrain", "importance", "reorder", "knapsack", "finetune", "exits", "records",
         "package", "verify", "search")
CHECK_IMAGES = 500
SEED = 21
# The engine's top-1 may differ from PyTorch's where two classes tie within
# float32 rounding; anything more is a wrong width somewhere.
MIN_AGREEMENT = 0.99


@dataclass
class Profile:
    limit: int = None
    pretrained: str = None          # --weights
    pretrain_epochs: int = 30
    pretrain_lr: float = None       # build.py --lr; None: its --lr auto trials (a fixed 0.2 left
                                    # torchvision:resnet18 on 16 px images at chance)
    importance_batches: int = 100
    finetune_epochs: int = 15       # build.py: --epochs (as many as the backbone's training)
    finetune_lr: float = 0.05       # the DS-CNN's shipped recipe: in-place distillation
    finetune_kd: float = 1.0        # (docs/REDS.md, "Any traced network": kd 0 lost 13 pp at w25)
    kd_temperature: float = 1.0
    threads: int = 2
    eval_limit: int = None
    widths: tuple = (75, 50, 25)
    exit_epochs: int = 10
    exit_aug_views: int = 1
    saver_epochs: int = 15
    search_lambda_step: float = 0.002
    smoke: bool = False


FULL = Profile()
SMOKE = Profile(limit=300, pretrain_epochs=1, importance_batches=2, finetune_epochs=1,
                eval_limit=200, exit_epochs=1, exit_aug_views=0, saver_epochs=1,
                search_lambda_step=0.01, smoke=True)


def pretrain_step(ctx, model):
    """The backbone, in place (its trace shares its layers): --weights, else
    trained with the builder's recipe."""
    def build():
        torch.manual_seed(SEED)   # dropout and anything else drawing from torch's RNG
        return model
    if ctx.profile.pretrained:
        net = build()
        backbones.load_weights(net, ctx.profile.pretrained)
        ctx.log(f"backbone: weights from {ctx.profile.pretrained}")
        net = net.eval()
    else:
        net = context.trained(ctx, "pretrain", build, ctx.profile.pretrain_epochs, SEED,
                              max_lr=ctx.profile.pretrain_lr)
    acc = {s.name: accuracy(predict(net, ctx.data, s), s.labels)
           for s in (ctx.data.val, ctx.data.test)}
    save_json(ctx, "pretrain_accuracy.json", acc)
    ctx.log(f"pretrained: val {acc['val']:.4f} test {acc['test']:.4f}")
    warn_if_chance(ctx, "backbone", acc["val"], len(ctx.data.classes),
                   trained=not ctx.profile.pretrained)
    return net, acc


def check(ctx, a, b, level_a, level_b, what):
    """Max |Δlogits| of two networks (levels) on the first val images."""
    x = ctx.data.normalise(ctx.data.val.images[:CHECK_IMAGES])
    with torch.no_grad():
        diff = float((tnet.forward(a.eval(), x, level_a)
                      - tnet.forward(b.eval(), x, level_b)).abs().max())
    ctx.log(f"{what}: max |Δlogits| {diff:.3g} on {len(x)} val images")
    if not diff < 1e-3:
        raise RuntimeError(f"{what} changed the network ({diff})")


def _group_names(groups):
    return [groups.spaces[s].name for s in groups.narrow]


def importance_step(ctx, net):
    """Σ|w ⊙ g| per narrow space, cached with the spaces' names (a cache of
    other unit groups is recomputed)."""
    path = ctx.path("importance.npz")
    names = _group_names(net.groups)
    if dist.exists(path) and not ctx.force:
        with np.load(path) as z:
            if "names" in z.files and list(z["names"]) == names:
                return [z[f"space{i}"] for i in range(len(names))]
    def run():
        net.set_level(None)
        used = accumulated_gradients(net, ctx.data, ctx.profile.importance_batches)
        imps = tnet.importance(net)
        ctx.log(f"importance: {used} batches, {len(imps)} unit groups")
        return imps
    imps = ctx.timed("importance", run)
    dist.on_main(lambda: np.savez(path, names=np.array(names),
                                  **{f"space{i}": v for i, v in enumerate(imps)}))
    return imps


def knapsack_step(ctx, groups, sorted_imps):
    def solve(fractions):
        _, info = knapsack.solve(groups, sorted_imps, fractions, ctx.log)
        info[0]["groups"] = _group_names(groups)
        return None, info
    path = ctx.path("knapsack.json")

    def drop_stale():   # a knapsack made for other unit groups
        if os.path.exists(path) and load_json(ctx, "knapsack.json")[0].get("groups") != _group_names(groups):
            os.remove(path)
    dist.on_main(drop_stale)
    info = context.knapsack_info(ctx, solve)
    return [(context.level_name(e), tuple(e["widths"])) for e in context.by_width(info)]


def finetune_step(ctx, sorted_net, named_levels):
    levels = [lv for _, lv in named_levels]
    full = sorted_net.groups.macs()
    alphas = [np.sqrt(sorted_net.groups.macs(lv) / full) for lv in levels]
    weights = [a / sum(alphas) for a in alphas]

    def train(net):
        rfinetune.prepare(net, ctx.data, tnet.fold_bn, [n for n, _ in named_levels], weights,
                          True, ctx.log, f"max lr {ctx.profile.finetune_lr}, epochs "
                          f"{ctx.profile.finetune_epochs}", ctx.profile.finetune_kd)
        rfinetune.joint_fit(net, ctx.data, levels, tnet.forward, weights,
                            ctx.profile.finetune_epochs, ctx.path("ckpt", "finetune"), ctx.log,
                            force=ctx.force, lr=ctx.profile.finetune_lr,
                            kd=ctx.profile.finetune_kd, temperature=ctx.profile.kd_temperature)
        return net
    return context.cached_module(ctx, "finetuned", lambda: tnet.copy_net(sorted_net), train)


DRIFT_PP = 1.0   # a full width this much below the network it came from is said


def full_width_drift(ctx, pre_acc, acc):
    """A sentence when the joint fine-tuning left the full width (w100) more
    than DRIFT_PP below the network it started from, on val: the levels share
    w100's weights, so fitting them all can cost the full network (a probe's
    trained --weights: 72.6 -> 63.8 % test in a few epochs); None otherwise."""
    before, after = pre_acc.get("val"), acc["val"].get("head")
    if before is None or after is None or 100 * (before - after) <= DRIFT_PP:
        return None
    return (f"The joint fine-tuning lowered the full width from {100 * before:.2f} to "
            f"{100 * after:.2f} % on val (test {100 * pre_acc['test']:.2f} -> "
            f"{100 * acc['test'].get('head', 0):.2f} %): more --epochs, or a lower "
            f"fine-tuning rate (--lr; this run: {ctx.profile.finetune_lr:g}), keep more of it")


def write_report(ctx, named_levels, groups, pre_acc, rec, engine=None):
    acc = records_file.accuracies(rec)
    full = groups.macs()
    lines = [f"# REDS widths on {ctx.data_dir}\n",
             "| level | MACs | % of full | val % | test % | engine test % (n) | agreement "
             "| engine ms / image |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, level in named_levels:
        head, e = head_name(name), (engine or {}).get(name)
        etxt = (f"{100 * e['accuracy']:.2f} ({e['n']}) | {e.get('agreement', '—')} | "
                f"{e['mean_ms']:.2f}" if e else "— | — | —")
        m = groups.macs(level)
        lines.append(f"| {name} | {m:,} | {100 * m / full:.2f} | {100 * acc['val'][head]:.2f} | "
                     f"{100 * acc['test'][head]:.2f} | {etxt} |")
    lines.append(f"\nPre-trained full network: val {100 * pre_acc['val']:.2f} %, test "
                 f"{100 * pre_acc['test']:.2f} %.")
    drift = full_width_drift(ctx, pre_acc, acc)
    if drift:
        lines.append(f"\n**{drift}**")
    lines.append("\nChannels per unit group (named by the first layer writing it) at "
                 "each level:\n")
    lines.append("| unit group | " + " | ".join(n for n, _ in named_levels) + " |")
    lines.append("|---|" + "---:|" * len(named_levels))
    for k, s in enumerate(groups.narrow):
        lines.append(f"| {groups.spaces[s].name} | "
                     + " | ".join(str(level[k]) for _, level in named_levels) + " |")
    text = "\n".join(lines) + "\n"
    if drift and engine is None:
        ctx.log(f"warning: {drift}")
    if dist.is_main():
        with open(ctx.path("accuracy.md"), "w") as f:
            f.write(text)
    ctx.log(f"accuracy.md:\n{text}")


def run(ctx, until=STEPS[-1], model=None, traced=None, groups=None):
    """The steps up to `until` for `model` (the user's backbone, untrained
    or not: --weights in the profile loads its weights), `traced` its
    dyce_build.positions trace (open_ops) and `groups` its unit groups."""
    done = rpipeline.start(ctx, STEPS, until, lambda *a: None)
    _, pre_acc = pretrain_step(ctx, model)
    full = tnet.Narrowed(traced.module, groups)
    ctx.log(f"unit groups: {len(full.groups.narrow)} of {len(full.groups.spaces)} channel "
            f"spaces can narrow; {full.groups.macs():,} MACs")
    if done("importance"):
        return
    imps = importance_step(ctx, full)
    if done("reorder"):
        return
    perms = [np.argsort(-v, kind="stable") for v in imps]
    sorted_net = tnet.permute(tnet.copy_net(full), perms)
    check(ctx, full, sorted_net, None, None, "reorder")
    if done("knapsack"):
        return
    named_levels = knapsack_step(ctx, full.groups, [v[p] for v, p in zip(imps, perms)])
    if done("finetune"):
        return
    tuned = finetune_step(ctx, sorted_net, named_levels)
    if done("exits"):
        return
    graphs = ctx.timed("exits", lambda: exits_step(ctx, tuned, named_levels))
    if done("records"):
        return
    rec = ctx.timed("records", lambda: collect(ctx, tuned, named_levels, pre_acc, graphs))
    if done("package") or not dist.is_main():   # the engine's steps: rank 0
        return
    pkg = os.path.join(ctx.out, ctx.package)
    size, levels = ctx.timed("package", lambda: tpackage.build(
        tuned, named_levels, ctx.data, ctx.path("onnx"), pkg, *graphs[:3]))
    save_json(ctx, "levels.json", levels)
    ctx.log(f"package: wrote {pkg} ({size:,} bytes, {len(levels)} levels)")
    if done("verify"):
        return
    ctx.timed("verify", lambda: verify(ctx, pkg, tuned.groups, named_levels, pre_acc, rec))
    if done("search") or graphs[0] is None:
        return
    ctx.timed("search", lambda: context.search_step(ctx, ctx.package, ctx.records))
    ctx.timed("configurations", lambda: configurations_report(ctx, pkg))


def configurations_report(ctx, pkg):
    """Every searched configuration run by the engine on the test split,
    appended to accuracy.md (OUT.report.md)."""
    args = ["--config", "all", "--split", test_split(ctx.data_dir)]
    if ctx.profile.eval_limit:
        args += ["--limit", str(ctx.profile.eval_limit)]
    lines = bengine.eval_lines(pkg, ctx.data_dir, *args,
                               test_fraction=ctx.data_options.test_fraction)
    rows = ["\nConfigurations (saver × exits × width, searched on val), run by the engine "
            "on test:\n", "| configuration | level | test % (n) | mean MACs | % of the "
            "backbone's | mean ms |", "|---|---|---:|---:|---:|---:|"]
    for c in sorted(lines, key=lambda c: c["mean_macs"]):
        rows.append(f"| {c['config']} | {c['level']} | {100 * c['accuracy']:.2f} ({c['n']}) | "
                    f"{c['mean_macs']:,.0f} | {100 * c['mean_macs'] / c['backbone_macs']:.1f} | "
                    f"{c['mean_ms']:.2f} |")
    with open(ctx.path("accuracy.md"), "a") as f:
        f.write("\n".join(rows) + "\n")
    ctx.log("\n".join(rows))


def exits_step(ctx, tuned, named_levels):
    """(split, {exit: Exit}, {saver: module}, {level: views}), or Nones for a
    network without exit positions; exits cached in WORK/exits.pt."""
    sp = texits.split(tuned, ctx.data.input_shape)
    if sp is None:
        ctx.log("exits: the network has no exit position; the package is its head alone")
        return None, None, None, None
    ctx.log("exits after " + ", ".join(c.node for c in sp.chosen))
    views = {lvl: texits.level_views(tuned, sp, ctx.data, level, ctx.profile.exit_aug_views)
             for lvl, level in named_levels}
    path = ctx.path("exits.pt")
    cached = dist.exists(path) and not ctx.force
    level_exits = {}
    for lvl, level in named_levels:
        level_exits.update(texits.train_level_exits(
            sp, views[lvl], ctx.data, lvl, level,
            0 if cached else ctx.profile.exit_epochs, ctx.log))
    if cached:
        states = torch.load(path)
        for n, ex in level_exits.items():
            ex.load_state_dict(states[n])
        ctx.log(f"exits: loaded {path}")
    else:
        dist.on_main(lambda: torch.save({n: ex.state_dict() for n, ex in level_exits.items()}, path))
    savers = texits.savers(ctx, ctx.data, sp.groups.macs(), ctx.profile.saver_epochs)
    return sp, level_exits, savers, views


def collect(ctx, net, named_levels, pre_acc, graphs):
    rec = tpackage.collect_records(net, named_levels, ctx.data, *graphs)
    if dist.is_main():
        path = os.path.join(ctx.out, ctx.records)
        records_file.write(path, rec)
        records_file.save_npz(ctx.path("records.npz"), rec)
    write_report(ctx, named_levels, net.groups, pre_acc, rec)
    return rec


def verify(ctx, pkg, groups, named_levels, pre_acc, rec):
    if not rengine.available():
        ctx.log(f"verify: {rengine.DYCE_CLI} missing, skipped (bash scripts/build.sh native)")
        return
    info = tpackage.engine_info(pkg, groups, named_levels, ctx.log)
    evals = rengine.eval_levels(pkg, ctx.data_dir, named_levels, ctx.log,
                                limit=ctx.profile.eval_limit, split=test_split(ctx.data_dir),
                                test_fraction=ctx.data_options.test_fraction)
    save_json(ctx, "engine.json", {"info": info, "eval": evals})
    write_report(ctx, named_levels, groups, pre_acc, rec, evals)
    for name, e in evals.items():
        if e.get("agreement") is not None and e["agreement"] < MIN_AGREEMENT:
            raise BuildError(f"--widths: at level {name} the engine agrees with PyTorch on "
                             f"{100 * e['agreement']:.1f} % of the test images only")
