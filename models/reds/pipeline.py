"""The steps of models/train_reds.py, each cached in the work directory.

pretrain -> importance -> reorder -> knapsack -> finetune -> exits -> savers
-> records -> package -> search (up to --until); search is the joint
saver x exits x width configuration search of the engine's CLI, written
into the package (reds.context.search_step). Results are cached in WORK
(loaded unless --force); trainings resume from their per-epoch
checkpoints. The log is WORK/build.log (reds.context). Under torchrun every
rank runs the steps up to the records (reds.context), rank 0 alone the
package and the search.
"""

import os
from dataclasses import dataclass

import torch

import train_fmnist  # models/train_fmnist.py: the savers' recipe
from dyce_build import dist, records_file
from dyce_build.fit import accuracy, predict, save_whole

from . import context
from .context import cached_module, load_json, save_json
from . import exits as rexits
from . import finetune as rfinetune
from . import importance as rimportance
from . import knapsack as rknapsack
from . import nets, pretrain
from . import package as rpackage
from . import records as rrecords
from . import reorder as rreorder
from . import report as rreport

STEPS = ("pretrain", "importance", "reorder", "knapsack", "finetune",
         "exits", "savers", "records", "package", "search")
PACKAGE_NAME = "fashion-mnist-reds.dyce"
RECORDS_NAME = "fashion-mnist-reds.records"
THREADS = 2


@dataclass
class Profile:
    """How much data and how many epochs: the full run or the smoke test."""
    limit: int = None
    pretrain_epochs: int = 30
    importance_batches: int = 100
    # The shipped recipe: REDS' joint loss with in-place distillation, 30
    # epochs at max lr 0.05, chosen by val among the variants of
    # docs/REDS.md ("Fine-tuning variants"); reds.finetune's FT_LR and KD
    # are the plain REDS recipe (lr 0.02, no distillation).
    finetune_epochs: int = 30
    finetune_lr: float = 0.05
    finetune_kd: float = 1.0
    kd_temperature: float = rfinetune.KD_TEMPERATURE
    threads: int = THREADS
    check_milp: bool = True
    exit_epochs: int = 10
    exit_aug_views: int = 2
    search_lambda_step: float = 0.002
    widths: tuple = (75, 50, 25)    # levels, % of the full network's MACs
    saver_epochs: int = train_fmnist.SAVER_EPOCHS
    pretrained: str = None          # a trained DS-CNN state dict: no pre-training
    smoke: bool = False


FULL = Profile()
SMOKE = Profile(limit=300, pretrain_epochs=1, importance_batches=3,
                finetune_epochs=1, exit_epochs=1, exit_aug_views=1, saver_epochs=1,
                check_milp=False, search_lambda_step=0.01, smoke=True)


def pretrain_step(ctx):
    """Train (or load) the full-width network; log its accuracy."""
    net = pretrain.step(ctx)
    path = ctx.path("pretrain_accuracy.json")
    if not dist.exists(path) or ctx.force:
        acc = {s.name: accuracy(predict(net, ctx.data, s), s.labels)
               for s in (ctx.data.val, ctx.data.test)}
        save_json(ctx, "pretrain_accuracy.json", acc)
    else:
        acc = load_json(ctx, "pretrain_accuracy.json")
    ctx.log(f"pretrained: val {acc['val']:.4f} test {acc['test']:.4f}")
    return net, acc


def importance_step(ctx, net, module=rimportance):
    """Σ|w ⊙ g| per unit (cached in WORK/importance.npz); `module` computes,
    saves and loads them (reds.importance, or models/reds_resnet's)."""
    path = ctx.path("importance.npz")
    if dist.exists(path) and not ctx.force:
        return module.load(path)
    imps = ctx.timed("importance", lambda: module.compute(
        net, ctx.data, ctx.profile.importance_batches, ctx.log))
    dist.on_main(lambda: module.save(path, imps))
    return imps


def reorder_step(ctx, net, imps):
    """The network with every layer sorted by importance (checked)."""
    def run():
        sorted_net = rreorder.apply(nets.copy_net(net),
                                    rreorder.permutations(imps))
        rreorder.check(net, sorted_net, ctx.data, ctx.log)
        return sorted_net
    return ctx.timed("reorder", run)


def knapsack_step(ctx, imps):
    """Units per level (w100, then the profile's widths); WORK/knapsack.json."""
    info = context.knapsack_info(ctx, lambda fractions: rknapsack.solve_levels(
        imps, ctx.log, ctx.profile.check_milp, fractions))
    return [(context.level_name(e), tuple(e["units"])) for e in context.by_width(info)]


def levels_contract(named_levels):
    """The LEVELS list for convert_graphs (level 0 = full, empty widths)."""
    return [{"name": name, "widths": {} if name == "w100"
             else nets.level_widths(units)} for name, units in named_levels]


def stage_macs(net, named_levels):
    """{level: {graph: MACs alone, total, fraction}} (hook counter)."""
    out = {}
    full = nets.analytic_macs(nets.FULL_UNITS)
    for name, units in named_levels:
        m = nets.graph_macs(net, units)
        m["total"] = sum(m[g] for g in nets.GRAPHS)
        if m["total"] != nets.analytic_macs(units):
            raise RuntimeError(f"{name}: MAC count mismatch")
        m["fraction"] = m["total"] / full
        m["units"] = list(units)
        out[name] = m
    return out


def finetune_step(ctx, sorted_net, named_levels, finetune=rfinetune.finetune,
                  build=nets.DSCNN):
    """Jointly fine-tune all levels (cached WORK/finetuned.pt): the
    DS-CNN's, or another net's `finetune` and `build` (models/reds_resnet)."""
    levels = [w for _, w in named_levels]

    def train(net):
        net.load_state_dict(sorted_net.state_dict())
        return finetune(net, ctx.data, levels, ctx.profile.finetune_epochs,
                        ctx.path("ckpt", "finetune"), ctx.log,
                        force=ctx.force, lr=ctx.profile.finetune_lr,
                        kd=ctx.profile.finetune_kd,
                        temperature=ctx.profile.kd_temperature)
    return cached_module(ctx, "finetuned", build, train)


def exits_step(ctx, net, named_levels):
    """Per-level features (cached) and exits (WORK/exits.pt)."""
    features = rexits.cached_level_features(
        net, ctx.data, named_levels, ctx.profile.exit_aug_views,
        ctx.path("features.npz"), ctx.log)
    path = ctx.path("exits.pt")
    if dist.exists(path) and not ctx.force:
        states = torch.load(path)
        level_exits = {}
        for lvl, units in named_levels:
            widths = nets.stage_out_widths(units)
            for p in rexits.POSITIONS:
                for t, hidden in rexits.EXIT_TYPES.items():
                    name = rexits.exit_name(p, t, lvl)
                    ex = rexits.classifier(widths[p - 1], hidden)
                    ex.load_state_dict(states[name])
                    level_exits[name] = ex.eval()
        ctx.log(f"exits: loaded {path}")
        return features, level_exits

    def train():
        out = {}
        for lvl, units in named_levels:
            out.update(rexits.train_level_exits(
                net, features[lvl], ctx.data, units, lvl,
                ctx.profile.exit_epochs, ctx.log))
        return out
    level_exits = ctx.timed("train exits", train)
    dist.on_main(lambda: save_whole({n: e.state_dict() for n, e in level_exits.items()}, path))
    return features, level_exits


def savers_step(ctx):
    """The Fashion-MNIST package's savers (models/backbones/plain_cnn.py):
    those the Fashion-MNIST build trained (build/fmnist) in a full run,
    else trained here with its recipe (smoke: one epoch)."""
    return {f"saver{i}": context.borrowed(ctx, f"saver{i}", spec,
                                          ctx.profile.saver_epochs,
                                          train_fmnist.SEED + 10 + i)
            for i, spec in enumerate(train_fmnist.SAVERS)}


def records_step(ctx, net, savers, named_levels, level_exits, features,
                 macs, pre_acc):
    rec = rrecords.collect(net, savers, named_levels, level_exits, ctx.data,
                           features)
    if not dist.is_main():
        return
    path = os.path.join(ctx.out, ctx.records)
    records_file.write(path, rec)
    records_file.save_npz(ctx.path("records.npz"), rec)
    table = (f"# REDS DS-CNN on {ctx.data_dir} (PyTorch, float32)\n\n"
             + rreport.level_table(named_levels, macs, pre_acc, rec,
                                   paper=ctx.data_dir == context.DATA_DIR) + "\n"
             + rreport.records_table(rec, macs))
    with open(ctx.path("accuracy.md"), "w") as f:
        f.write(table)
    ctx.log(f"records: wrote {path} ({os.path.getsize(path)} bytes, "
            f"{len(rec['names'])} entries, read back OK)\n{table}")


def package_step(ctx, net, savers, named_levels, level_exits, levels):
    padded = {n: rexits.pad_exit(e, nets.WIDTH)
              for n, e in level_exits.items()}
    specs = rpackage.graph_specs(net, savers, padded,
                                 [n for n, _ in named_levels])
    path = os.path.join(ctx.out, ctx.package)
    size = rpackage.build(specs, ctx.data, ctx.path("onnx"), path, levels)
    ctx.log(f"package: wrote {path} ({size} bytes, {len(specs)} graphs, "
            f"{len(levels)} levels)")


def check_sliced(net, named_levels, data, log):
    """Sliced forward == the materialised narrow network, every level."""
    x = data.normalise(data.val.images[:200])
    with torch.no_grad():
        for name, units in named_levels:
            a = net.eval()(x, nets.level_widths(units))
            b = nets.materialise(net, units)(x)
            diff = float((a - b).abs().max())
            if not diff < 1e-4:
                raise RuntimeError(f"{name}: sliced != narrow ({diff})")
    log("sliced forward equals the materialised narrow nets at every level")


def start(ctx, steps, until, set_input=nets.set_input):
    """The beginning of a REDS run (this one and models/reds_resnet's):
    folders, threads, data, the network's input geometry from the data
    (`set_input` of the run's nets module); returns done(step), true for
    steps past `until`."""
    torch.set_num_threads(ctx.profile.threads)
    data = context.load_data(ctx)
    set_input(data.channels, data.size, len(data.classes))
    ctx.log(f"data: train {len(data.train.labels)} val "
            f"{len(data.val.labels)} test {len(data.test.labels)}; "
            f"mean {data.mean[0]:.6f} std {data.std[0]:.6f}; threads "
            f"{ctx.profile.threads}")
    last = steps.index(until)
    return lambda step: last < steps.index(step)


def run(ctx, until=STEPS[-1]):
    """Run the steps up to `until`; earlier results load from cache."""
    done = start(ctx, STEPS, until)
    net, pre_acc = pretrain_step(ctx)
    if done("importance"):
        return
    imps = importance_step(ctx, net)
    if done("reorder"):
        return
    sorted_net = reorder_step(ctx, net, imps)
    if done("knapsack"):
        return
    named_levels = knapsack_step(ctx, imps)
    levels = levels_contract(named_levels)
    save_json(ctx, "levels.json", levels)
    macs = stage_macs(sorted_net, named_levels)
    save_json(ctx, "level_macs.json", macs)
    for name, units in named_levels:
        ctx.log(f"level {name}: units {units}, MACs {macs[name]['total']} "
                f"({100 * macs[name]['fraction']:.2f} %)")
    if done("finetune"):
        return
    net = finetune_step(ctx, sorted_net, named_levels)
    check_sliced(net, named_levels, ctx.data, ctx.log)
    if done("exits"):
        return
    features, level_exits = ctx.timed(
        "exits", lambda: exits_step(ctx, net, named_levels))
    if done("savers"):
        return
    savers = ctx.timed("savers", lambda: savers_step(ctx))
    if done("records"):
        return
    ctx.timed("records", lambda: records_step(
        ctx, net, savers, named_levels, level_exits, features, macs,
        pre_acc))
    if done("package") or not dist.is_main():   # the engine's steps: rank 0
        return
    ctx.timed("package", lambda: package_step(
        ctx, net, savers, named_levels, level_exits, levels))
    if done("search"):
        return
    ctx.timed("search", lambda: context.search_step(ctx, ctx.package, ctx.records))
