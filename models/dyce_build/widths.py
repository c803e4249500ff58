"""--widths: width levels (REDS) for the backbones a REDS pipeline narrows.

A width level is a subnetwork using the first channels of every layer,
chosen by importance and fine-tuned jointly with the others; that needs
the network's unit groups (which layers must share a width: a residual
stream, a depthwise filter and its producer), a MAC formula for the
knapsack and a sliced forward for the fine-tuning — written for two
networks, on 28x28 gray images with 10 classes:

- models/backbones/resnet_cifar.py:resnet20 -> models/reds_resnet (the
  backbone trained, or --weights, then narrowed: stage1..9 + head per
  level; no exits or savers);
- models/backbones/ds_cnn.py:ds_cnn -> models/reds (pre-trained, or
  --weights, narrowed, exits at every level, the plain-CNN savers, the
  saver x exits x width search).

A backbone is recognised by its layers (the same parameter names and
shapes as those networks), whatever file it comes from; any other is
refused before any training, with the reason. The REDS run caches its
steps in --workdir like the rest of the build (a changed option reruns it).
"""

import dataclasses
import os
import shutil

from . import dist
from .backbones import file_backbone
from .data import Options as DataOptions
from .errors import BuildError

from reds.nets import INPUT_SHAPE, NUM_CLASSES as CLASSES  # noqa: E402  (models/reds)

INPUT = INPUT_SHAPE[1:]
RESNET_CIFAR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                            "backbones", "resnet_cifar.py")


def _signature(module):
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def _narrowers():
    """[(name, the reference network, the REDS pipeline module)]. The
    reference is loaded by its path: a user's folder on sys.path may hold
    a `backbones.py` of its own."""
    from reds import nets as ds_nets, pipeline as ds_pipeline
    from reds_resnet import pipeline as resnet_pipeline
    resnet20 = file_backbone(RESNET_CIFAR, "resnet20", CLASSES, INPUT[0])
    return [("resnet20", resnet20, resnet_pipeline), ("ds_cnn", ds_nets.DSCNN(), ds_pipeline)]


def narrower(opts, model, data):
    """(name, pipeline) of the REDS pipeline that narrows `model` on `data`,
    or a BuildError saying why none does."""
    shape = (data.channels,) + tuple(data.size)
    sig = _signature(model)
    for name, reference, pipeline in _narrowers():
        if sig == _signature(reference):
            if shape != INPUT or len(data.classes) != CLASSES:
                break
            return name, pipeline
    raise BuildError(
        f"--widths: width levels need a network a REDS pipeline can narrow — "
        f"models/backbones/resnet_cifar.py:resnet20 or models/backbones/ds_cnn.py:"
        f"ds_cnn on {INPUT[1]}x{INPUT[2]}x{INPUT[0]} images with {CLASSES} classes "
        f"(their unit groups, MAC formulas and sliced fine-tuning are written for "
        f"those layers); this is {opts.backbone} on "
        f"{shape[1]}x{shape[2]}x{shape[0]} images with {len(data.classes)} classes. "
        "Without --widths the build makes exits and savers for any backbone")


def parse(text):
    """'75,50,25' -> (75, 50, 25): distinct percentages in (0, 100), widest first."""
    try:
        widths = sorted({int(v) for v in text.split(",") if v.strip()}, reverse=True)
    except ValueError:
        raise ValueError(f"--widths {text}: percentages, e.g. 75,50,25") from None
    if not widths or not all(0 < w < 100 for w in widths):
        raise ValueError(f"--widths {text}: percentages between 1 and 99")
    return tuple(widths)


def _profile(opts, name, pipeline):
    base = pipeline.SMOKE if opts.smoke else pipeline.FULL
    common = dict(limit=opts.limit, widths=opts.widths, threads=opts.threads or 1)
    if name == "resnet20":
        return dataclasses.replace(base, backbone=opts.weights,
                                   backbone_epochs=opts.epochs, **common)
    return dataclasses.replace(
        base, pretrained=opts.weights, pretrain_epochs=opts.epochs,
        saver_epochs=opts.saver_epochs, exit_epochs=opts.exit_epochs,
        exit_aug_views=opts.aug_views, search_lambda_step=opts.lambda_step, **common)


def run(opts, model, data, log):
    """The REDS pipeline for `model` into opts.out; its table becomes
    OUT.report.md. Returns {"widths": …, "pipeline": name}."""
    name, pipeline = narrower(opts, model, data)
    if dist.world() > 1:
        raise BuildError("--widths runs in one process (the REDS pipelines do not "
                         "shard their steps): run it without torchrun")
    from reds.context import Context
    profile = _profile(opts, name, pipeline)
    dopts = DataOptions(val_fraction=opts.val_fraction, test_fraction=opts.test_fraction,
                        seed=opts.seed,
                        mean=opts.mean, std=opts.std, classes=opts.labels)
    key = {"data": os.path.realpath(opts.data), "backbone": name, "data_options":
           dataclasses.asdict(dopts), "profile": dataclasses.asdict(profile)}
    work = os.path.join(opts.workdir, "reds-" + name)
    ctx = Context(work, os.path.dirname(os.path.abspath(opts.out)), profile,
                  os.path.basename(opts.out), force=opts.force,
                  data_dir=opts.data, data_options=dopts, shared_work=None)
    ctx.opts.force = not ctx.fresh("options", key)  # a changed option reruns it all
    log(f"--widths {','.join(map(str, opts.widths))}: {opts.backbone} is REDS's "
        f"{name}; running models/{pipeline.__name__.split('.')[0]} in {work}")
    pipeline.run(ctx)
    ctx.done("options", key)
    stem = os.path.splitext(opts.out)[0]
    shutil.copyfile(ctx.path("accuracy.md"), stem + ".report.md")
    log(f"report: {stem}.report.md")
    return {"widths": list(opts.widths), "pipeline": name}
