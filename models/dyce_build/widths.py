"""--widths: width levels (REDS) for any backbone whose channels can narrow.

A width level is a subnetwork using the first channels of every layer,
chosen by importance and fine-tuned jointly with the others; that needs
the network's unit groups (which layers must share a width: a residual
stream, a depthwise filter and its producer), a MAC formula for the
knapsack and a narrowed forward for the fine-tuning. Three pipelines (on
images of any size and channel count, any class count):

- models/backbones/resnet_cifar.py:resnet20 (resnet32, resnet56: the same
  pipeline with 5 or 9 blocks per stream) -> models/reds_resnet (the
  backbone trained, or --weights, then narrowed: stage1..9 + head per
  level; no exits or savers);
- models/backbones/ds_cnn.py:ds_cnn -> models/reds (pre-trained, or
  --weights, narrowed, exits at every level, the plain-CNN savers, the
  saver x exits x width search);
- any other backbone -> models/reds_traced: traced with torch.fx, its unit
  groups found from the graph (convolutions, depthwise, BatchNorm,
  residual adds, squeeze-and-excitation, pooling, linear classifiers:
  torchvision's ResNets, MobileNets, EfficientNets, MnasNet and networks
  built like them), a greedy nested knapsack, the same fine-tuning, exits
  at every level, the builder's savers, the saver x exits x width search.

Under torchrun every rank runs the pipeline's steps up to the records (the
trainings with DistributedDataParallel, the predictions sharded), rank 0
alone the package, the engine's check and the search.

The first two are recognised by their layers (the same parameter names and
shapes as those networks built for the data's channels and classes),
whatever file it comes from. A network with an op that mixes channels in
another way (a grouped convolution, a concatenation, LayerNorm over
channels, a flatten of a whole map into a linear layer) is refused before
any training, naming the node. The REDS run caches its
steps in --workdir like the rest of the build (a changed option reruns it).
"""

import dataclasses
import os
import shutil

from . import backbones, dist, engine, features, int8, positions
from .backbones import file_backbone
from .data import Options as DataOptions
from .errors import BuildError

RESNET_DEPTHS = {"resnet20": 3, "resnet32": 5, "resnet56": 9}   # blocks per stream
RESNET_CIFAR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "backbones", "resnet_cifar.py")


def _signature(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _narrowers(channels, classes):
    """[(name, the reference network for `channels` and `classes`, the
    REDS pipeline module)]. The reference is loaded by its path: a user's
    folder on sys.path may hold a `backbones.py` of its own."""
    from reds import nets as ds_nets, pipeline as ds_pipeline
    from reds_resnet import pipeline as resnet_pipeline
    resnets = [(name, file_backbone(RESNET_CIFAR, name, classes, channels), resnet_pipeline)
               for name in RESNET_DEPTHS]
    return resnets + [("ds_cnn", ds_nets.DSCNN(channels=channels, classes=classes),
                       ds_pipeline)]


def narrower(opts, model, data):
    """(name, pipeline, its run's arguments) of the REDS pipeline that
    narrows `model` on `data`: the DS-CNN's or the ResNet's own when it is
    one of those networks, else the traced one (models/reds_traced: the
    model, its trace and unit groups), or a BuildError saying why none can."""
    sig = _signature(model)
    for name, reference, pipeline in _narrowers(data.channels, len(data.classes)):
        if sig == _signature(reference):
            return name, pipeline, {}
    from reds_traced import groups, pipeline as traced_pipeline
    traced = positions.trace(model, data.input_shape, open_ops=True)
    # refuses, naming the node, before any training
    return "traced", traced_pipeline, {"model": model, "traced": traced,
                                       "groups": groups.analyse(traced)}


def parse(text):
    """'75,50,25' -> (75, 50, 25): distinct percentages in (0, 100), widest first."""
    try:
        widths = sorted({int(v) for v in text.split(",") if v.strip()}, reverse=True)
    except ValueError:
        raise ValueError(f"--widths {text}: percentages, e.g. 75,50,25") from None
    if not widths or not all(0 < w < 100 for w in widths):
        raise ValueError(f"--widths {text}: percentages between 1 and 99")
    return tuple(widths)


# Options the REDS ResNet pipeline has no use for (it builds no exits,
# savers or configurations).
RESNET_UNUSED = {"saver_epochs", "exit_epochs", "aug_views", "lambda_step"}


def _profile(opts, name, pipeline):
    base = pipeline.SMOKE if opts.smoke else pipeline.FULL
    common = dict(limit=opts.limit, widths=opts.widths, threads=opts.threads or 1)
    if name == "traced":
        # --lr: the backbone's peak rate (auto: the builder's trials) and,
        # when given, the joint fine-tuning's.
        tuning = {"finetune_lr": opts.lr} if opts.lr is not None else {}
        return dataclasses.replace(base, pretrained=opts.weights, pretrain_epochs=opts.epochs,
                                   pretrain_lr=opts.lr,
                                   finetune_epochs=opts.epochs, saver_epochs=opts.saver_epochs,
                                   **tuning,
                                   exit_epochs=opts.exit_epochs, exit_aug_views=opts.aug_views,
                                   search_lambda_step=opts.lambda_step, **common)
    if opts.lr is not None:
        raise BuildError(f"--lr: {opts.backbone} runs REDS's {name} pipeline, which trains with "
                         "its own recipe (docs/REDS.md); --lr is for other networks")
    # The CIFAR ResNets' pipeline has no exits, savers or search of its own.
    unused = sorted(RESNET_UNUSED & getattr(opts, "given", set())) if name in RESNET_DEPTHS else []
    if unused:
        raise BuildError(f"{', '.join('--' + k.replace('_', '-') for k in unused)}: REDS's {name} "
                         "pipeline makes width levels of the backbone alone (no exits, savers "
                         "or search), so it has no use for them")
    if name in RESNET_DEPTHS:
        if not opts.smoke:
            base = pipeline.OTHER_DATA   # the shipped recipe is tuned for Fashion-MNIST
        return dataclasses.replace(base, backbone=opts.weights, backbone_epochs=opts.epochs,
                                   per_stream=RESNET_DEPTHS[name], **common)
    return dataclasses.replace(
        base, pretrained=opts.weights, pretrain_epochs=opts.epochs,
        saver_epochs=opts.saver_epochs, exit_epochs=opts.exit_epochs,
        exit_aug_views=opts.aug_views, search_lambda_step=opts.lambda_step, **common)


def _start_over(work):
    """Empties the REDS work folder but for its log and the data caches
    (data-<hash of their options>.npz)."""
    for name in os.listdir(work):
        if name == "build.log" or (name.startswith("data-") and name.endswith(".npz")):
            continue
        path = os.path.join(work, name)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)


def run(opts, model, data, build_ctx):
    """The REDS pipeline for `model` into opts.out; its table becomes
    OUT.report.md (with --int8, OUT-int8.dyce's line added). Returns
    {"widths": …, "pipeline": name[, "int8": …]}."""
    log = build_ctx.log
    name, pipeline, arguments = narrower(opts, model, data)
    from reds.context import Context
    profile = _profile(opts, name, pipeline)
    dopts = DataOptions(size=opts.size, channels=opts.channels,
                        val_fraction=opts.val_fraction, test_fraction=opts.test_fraction,
                        seed=opts.seed,
                        mean=opts.mean, std=opts.std, classes=opts.labels)
    key = {"data": os.path.realpath(opts.data), "backbone": name, "spec": opts.backbone,
           "keep_stem": opts.keep_stem,
           "data_options":
           dataclasses.asdict(dopts), "profile": dataclasses.asdict(profile),
           # the images and labels themselves, and the network as built
           # (an edited backbone file): either changed starts over too
           "fingerprint": data.fingerprint(), "arch": str(model),
           "code": features.code_digest(model, backbones.spec_files(opts.backbone))}
    work = os.path.join(opts.workdir, "reds-" + name)
    ctx = Context(work, os.path.dirname(os.path.abspath(opts.out)), profile,
                  os.path.basename(opts.out), force=opts.force,
                  data_dir=opts.data, data_options=dopts, shared_work=None)
    if not ctx.fresh("options", key):
        # The REDS steps cache their modules by name only, so a changed option
        # (or --force) starts the folder over — nothing made under other options
        # may be loaded later — and the key is written now, so that a run
        # interrupted from here on resumes from its modules and checkpoints.
        dist.on_main(lambda: _start_over(work))
        ctx.done("options", key)
    ctx.opts.force = False
    what = "its unit groups traced" if name == "traced" else f"REDS's {name}"
    log(f"--widths {','.join(map(str, opts.widths))}: {opts.backbone} ({what}); running "
        f"models/{pipeline.__name__.split('.')[0]} in {work}")
    pipeline.run(ctx, **arguments)   # under torchrun rank 0 alone from the package on
    if not dist.is_main():
        dist.finish()
        return None
    stem = os.path.splitext(opts.out)[0]
    shutil.copyfile(ctx.path("accuracy.md"), stem + ".report.md")
    log(f"report: {stem}.report.md")
    rep = {"widths": list(opts.widths), "pipeline": name,
           "levels": _level_heads(opts, len(data.classes), log)}
    if opts.int8:
        float_heads = {lv["level"]: lv["head_test_accuracy"] for lv in rep["levels"]}
        rep["int8"] = build_ctx.timed("int8", lambda: int8.build(build_ctx, opts, float_heads))
        _report_int8(opts.out, rep["int8"])
    dist.finish()
    return rep


def _level_heads(opts, classes, log):
    """Each width level's head on test in the engine; a level that answers
    near chance (under 1.5 / classes) is said: too narrow for this network
    or its training, it would only mislead a page that picks it."""
    rows, limit = [], opts.report_limit or opts.limit
    for k, level in enumerate(engine.level_names(opts.out)):
        acc = engine.head_accuracy(opts.out, opts.data, limit, level, opts.test_fraction)
        rows.append({"level": level, "head_test_accuracy": acc})
        if acc < 1.5 / classes:
            # the first level is the whole network, not one of --widths
            advice = ("the whole network is not trained: train longer (--epochs)" if k == 0
                      else "drop it from --widths, or train longer")
            log(f"WARNING: width level {level} answers near chance on test ({100 * acc:.1f} %, "
                f"chance {100 / classes:.1f} %): {advice}")
    return rows


def _report_int8(out, entry):
    """OUT.report.md gains the --int8 package's line (dyce_build.int8)."""
    with open(os.path.splitext(out)[0] + ".report.md", "a") as f:
        f.write(f"\nInt8 package ({os.path.basename(entry['package'])}): "
                f"{entry['bytes']:,} bytes ({entry['bytes'] / entry['float_bytes']:.3f} x "
                f"the float package's), head test accuracy (engine) "
                f"{100 * entry['head_test_accuracy']:.2f} % (float "
                f"{100 * entry['float_head_test_accuracy']:.2f} %)"
                + "".join(f"; at {lv['level']} {100 * lv['head_test_accuracy']:.2f} % "
                          f"(float {100 * lv['float_head_test_accuracy']:.2f} %)"
                          for lv in entry.get("levels", [])) + ".\n")
