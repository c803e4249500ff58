"""The steps of models/train_reds_resnet.py, each cached in the work dir.

backbone -> importance -> reorder -> knapsack -> finetune -> records ->
package -> verify (up to --until). Results are cached in WORK (loaded
unless --force; the backbone is never retrained here); the fine-tuning
resumes from its per-epoch checkpoint. The log is WORK/build.log
(reds.context).

Cached files: pretrain_accuracy.json, importance.npz, knapsack.json,
levels.json (the LEVELS given to convert.convert_graphs), roles.json
(dense-node roles per graph), level_macs.json, finetuned.pt,
finetune_timing.json, records.npz, accuracy.md, engine.json.
"""

import os
from dataclasses import dataclass

import train_fmnist  # models/train_fmnist.py: the backbone's recipe
from dyce_build import dist, records_file
from dyce_build.data import test_split
from dyce_build.features import state_digest
from dyce_build.fit import accuracy, predict
from dyce_build.nets import count_macs

from reds import context, pipeline as rpipeline
from reds.context import load_json, save_json

from . import engine as rengine
from . import finetune as rfinetune
from . import importance as rimportance
from . import knapsack as rknapsack
from . import nets
from . import package as rpackage
from . import records as rrecords
from . import reorder as rreorder
from . import report as rreport
from . import sliced

STEPS = ("backbone", "importance", "reorder", "knapsack", "finetune",
         "records", "package", "verify")
PACKAGE_NAME = "fashion-mnist-reds-resnet.dyce"
RECORDS_NAME = "fashion-mnist-reds-resnet.records"
THREADS = 2
CHECK_IMAGES = 1000


@dataclass
class Profile:
    """How much data and how many epochs: the full run or the smoke test."""
    limit: int = None
    importance_batches: int = 100
    finetune_epochs: int = 4  # the shipped run (docs/REDS.md)
    finetune_lr: float = rfinetune.FT_LR
    finetune_kd: float = rfinetune.KD
    kd_temperature: float = rfinetune.KD_TEMPERATURE
    threads: int = THREADS
    check_milp: bool = True
    eval_limit: int = None
    backbone: str = None        # a trained state dict of the network (--backbone)
    per_stream: int = 3         # blocks per stream: resnet20 (3), resnet32 (5), resnet56 (9)
    backbone_epochs: int = train_fmnist.BACKBONE_EPOCHS  # when trained here
    widths: tuple = (75, 50, 25)    # levels, % of the full network's MACs
    smoke: bool = False


FULL = Profile()
# build.py --widths on other data (dyce_build.widths): in-place distillation
# at the DS-CNN's learning rate, 8 epochs. On the 32x32 colour images of
# docs/REDS.md ("On other data"), from one backbone, two processes, test
# w100/w75/w50/w25: 93.83/93.83/94.08/92.17 % against 94.67/93.75/92.58/
# 85.67 with FULL's recipe (4 epochs at 0.02, no distillation), whose w25
# (two channels in every inner layer of streams 0 and 1) did not recover.
OTHER_DATA = Profile(finetune_epochs=8, finetune_lr=0.05, finetune_kd=1.0)
SMOKE = Profile(limit=300, importance_batches=3, finetune_epochs=1,
                eval_limit=200, backbone_epochs=1, smoke=True)


def check_data(ctx):
    """The first CHECK_IMAGES val images (the full split, also in smoke)."""
    if len(ctx.data.val.labels) >= CHECK_IMAGES:
        data = ctx.data
    else:
        data = context.load_data(ctx, limit=None)
    return data, data.normalise(data.val.images[:CHECK_IMAGES])


def backbone_step(ctx):
    """The trained resnet20 (resnet32, resnet56: the profile's depth) as a
    nets.ResNet: --backbone, else the Fashion-MNIST build's
    (build/fmnist/backbone.pt), else trained here with its recipe (about
    1 h for resnet20; smoke: one epoch)."""
    spec = train_fmnist.BACKBONE.replace(":resnet20", ":" + nets.network_name())
    trained = context.borrowed(ctx, "backbone", spec,
                               ctx.profile.backbone_epochs, train_fmnist.SEED,
                               ctx.profile.backbone)
    net = nets.ResNet()
    net.load_state_dict(nets.from_resnet_cifar(trained.state_dict()))
    net.eval()
    digest = state_digest(net)
    ctx.log(f"backbone: {nets.network_name()} (sha256 {digest[:16]}…)")
    acc = (load_json(ctx, "pretrain_accuracy.json")
           if dist.exists(ctx.path("pretrain_accuracy.json")) else {})
    if acc.get("digest") != digest or acc.get("limit") != ctx.profile.limit:
        acc = {s.name: accuracy(predict(net, ctx.data, s), s.labels)
               for s in (ctx.data.val, ctx.data.test)}
        acc.update(digest=digest, limit=ctx.profile.limit)
        save_json(ctx, "pretrain_accuracy.json", acc)
    ctx.log(f"pretrained: val {acc['val']:.4f} test {acc['test']:.4f}")
    return net, acc


def reorder_step(ctx, net, imps):
    """The network with every unit group sorted by importance (checked)."""
    def run():
        sorted_net = rreorder.apply(copy_net(net),
                                    rreorder.permutations(imps))
        data, _ = check_data(ctx)
        rreorder.check(net, sorted_net, data, ctx.log, count=CHECK_IMAGES)
        return sorted_net
    return ctx.timed("reorder", run)


def copy_net(net):
    """An independent nets.ResNet with net's weights."""
    copy = nets.ResNet(net.widths)
    copy.load_state_dict(net.state_dict())
    return copy.eval()


def knapsack_step(ctx, imps):
    """[(name, Widths)], w100 first; WORK/knapsack.json."""
    return rknapsack.named_levels(context.knapsack_info(
        ctx, lambda fractions: rknapsack.solve_levels(
            imps, ctx.log, ctx.profile.check_milp, fractions)))


def level_macs(net, named_levels):
    """{level: {graph: MACs, total, fraction, widths}}; the closed form is
    checked against the hook counter on the materialised narrow network."""
    out = {}
    full = nets.total_macs(nets.FULL)
    for name, widths in named_levels:
        small = sliced.materialise(net, widths)
        shapes_in = [nets.INPUT_SHAPE] + nets.stage_shapes(widths)
        modules = list(small.stages) + [small.head]
        m = nets.graph_macs(widths)
        for g, mod, shape in zip(nets.GRAPHS, modules, shapes_in):
            hooked = count_macs(mod, shape)
            if hooked != m[g]:
                raise RuntimeError(f"{name} {g}: MACs {m[g]} != {hooked}")
        m["total"] = sum(m[g] for g in nets.GRAPHS)
        m["fraction"] = m["total"] / full
        m["widths"] = widths.to_json()
        out[name] = m
    return out


def finetune_step(ctx, sorted_net, named_levels):
    """reds.pipeline's step with this net; the time per batch goes to
    WORK/finetune_timing.json."""
    def finetune(*args, **kwargs):
        net, timing = rfinetune.finetune(*args, **kwargs)
        save_json(ctx, "finetune_timing.json", timing)
        return net
    return rpipeline.finetune_step(ctx, sorted_net, named_levels, finetune,
                                   nets.ResNet)


def records_step(ctx, net, named_levels, pre_acc):
    rec = rrecords.collect(net, named_levels, ctx.data)
    if not dist.is_main():
        return rec
    path = os.path.join(ctx.out, ctx.records)
    records_file.write(path, rec)
    records_file.save_npz(ctx.path("records.npz"), rec)
    write_report(ctx, named_levels, pre_acc, rec)
    ctx.log(f"records: wrote {path} ({os.path.getsize(path)} bytes, "
            f"{len(rec['names'])} entries, read back OK)")
    return rec


def write_report(ctx, named_levels, pre_acc, rec, engine=None):
    table = (f"# REDS ResNet-20 on {ctx.data_dir}\n\n"
             + rreport.level_table(named_levels, pre_acc, rec, engine) + "\n"
             + "MACs of every graph alone per level:\n\n"
             + rreport.graph_macs_table(named_levels))
    with open(ctx.path("accuracy.md"), "w") as f:
        f.write(table)
    ctx.log(f"accuracy.md:\n{table}")


def package_step(ctx, net, named_levels):
    path = os.path.join(ctx.out, ctx.package)
    size, levels, roles = rpackage.build(net, named_levels, ctx.data,
                                         ctx.path("onnx"), path)
    save_json(ctx, "levels.json", levels)
    save_json(ctx, "roles.json", roles)
    ctx.log(f"package: wrote {path} ({size} bytes, {len(nets.GRAPHS)} "
            f"graphs, {len(levels)} levels); dense roles "
            + ", ".join(f"{g} {'/'.join(r)}" for g, r in roles.items()))


def verify_step(ctx, named_levels, pre_acc, rec):
    if not rengine.available():
        ctx.log(f"verify: {rengine.DYCE_CLI} missing, skipped "
                "(bash scripts/build.sh native)")
        return None
    pkg = os.path.join(ctx.out, ctx.package)
    info = rengine.check_info(pkg, named_levels, ctx.log)
    evals = rengine.eval_levels(pkg, ctx.data_dir, named_levels, ctx.log,
                                limit=ctx.profile.eval_limit,
                                split=test_split(ctx.data_dir),
                                test_fraction=ctx.data_options.test_fraction)
    save_json(ctx, "engine.json", {"info": info, "eval": evals})
    write_report(ctx, named_levels, pre_acc, rec, evals)
    return evals


def run(ctx, until=STEPS[-1]):
    """Run the steps up to `until`; earlier results load from cache."""
    nets.set_depth(ctx.profile.per_stream)
    done = rpipeline.start(ctx, STEPS, until, nets.set_input)
    net, pre_acc = backbone_step(ctx)
    if done("importance"):
        return
    imps = rpipeline.importance_step(ctx, net, rimportance)
    if done("reorder"):
        return
    sorted_net = reorder_step(ctx, net, imps)
    if done("knapsack"):
        return
    named_levels = knapsack_step(ctx, imps)
    macs = level_macs(sorted_net, named_levels)
    save_json(ctx, "level_macs.json", macs)
    for name, w in named_levels:
        ctx.log(f"level {name}: stream {w.stream} inner {w.inner}, MACs "
                f"{macs[name]['total']} ({100 * macs[name]['fraction']:.2f} "
                f"%), params {nets.param_count(w)}")
    _, x = check_data(ctx)
    sliced.check(sorted_net, named_levels, x, ctx.log)
    if done("finetune"):
        return
    net = finetune_step(ctx, sorted_net, named_levels)
    sliced.check(net, named_levels, x, ctx.log)
    if done("records"):
        return
    rec = ctx.timed("records", lambda: records_step(ctx, net, named_levels,
                                                    pre_acc))
    if done("package") or not dist.is_main():   # the engine's steps: rank 0
        return
    ctx.timed("package", lambda: package_step(ctx, net, named_levels))
    if done("verify"):
        return
    ctx.timed("verify", lambda: verify_step(ctx, named_levels, pre_acc, rec))
