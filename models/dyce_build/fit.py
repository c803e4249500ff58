"""Training (backbone and savers) and batch inference, on 1 or N processes.

SGD with Nesterov momentum 0.9, weight decay 5e-4 (on weights only: norm
scales and biases are not decayed unless `decay_all`), label smoothing 0.1 and
a OneCycle schedule (cosine), augmentation by random crop of the padded
image (padding 1/14 of the side, at least 2 px) and horizontal flip unless
--no-flip. Optional distillation: the loss mixes cross-entropy with the KL
divergence to a teacher's softened logits (temperature 4). Every epoch's
batches come from a generator seeded with (seed, epoch); a checkpoint is
written after every epoch and an interrupted run resumes from it. Under
torchrun the model runs in DistributedDataParallel and each epoch's
permutation is sharded by rank (the global batch stays `batch_size`).
Nothing is selected on test accuracy: the last epoch is the result, with
its BatchNorm statistics re-estimated on clean train images.
"""

import json
import math
import os
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from . import dist, lr_probe
from .errors import BuildError
from .progress import Progress


@dataclass
class TrainConfig:
    epochs: int
    max_lr: float = 0.2         # None: chosen by lr_probe (--lr auto)
    batch_size: int = 128
    weight_decay: float = 5e-4
    decay_all: bool = False     # decay norm scales and biases too (fmnist's recipe)
    momentum: float = 0.9
    label_smoothing: float = 0.1
    pct_start: float = 0.15
    seed: int = 0
    flip: bool = True
    distill: float = 0.0        # weight of the KL term (0: plain CE)
    temperature: float = 4.0


def augment(images, gen, flip=True):
    """Random crop of the zero-padded image and random h-flip.
    uint8 (B, C, H, W) -> float (B, C, H, W) in [0, 1]."""
    x = torch.as_tensor(images).float().div_(255.0)
    b, _, h, w = x.shape
    pad = max(2, round(min(h, w) / 14))
    padded = nn.functional.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=gen)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    chans = torch.arange(x.shape[1])[None, :, None, None]
    out = padded[torch.arange(b)[:, None, None, None], chans, rows, cols]
    if flip:
        mask = torch.rand(b, generator=gen) < 0.5
        out = torch.where(mask[:, None, None, None], out.flip(3), out)
    return out


def eval_batches(data, split, batch_size=256, start=0, stop=None, gen=None, flip=True):
    """Normalised inputs of split[start:stop], in order: as they are, or
    augmented (random crop, flip) from the generator `gen`."""
    stop = len(split.labels) if stop is None else stop
    for s in range(start, stop, batch_size):
        im = split.images[s:min(s + batch_size, stop)]
        yield data.normalise(augment(im, gen, flip) if gen else im)


def predict(model, data, split, batch_size=256, what=None):
    """float32 logits (N, K) of a split, eval mode, sharded over ranks."""
    start, stop = dist.shard(len(split.labels))
    model.eval()
    out = []
    with torch.no_grad(), Progress(what or f"predict {split.name}",
                                   stop - start) as bar:
        for x in eval_batches(data, split, batch_size, start, stop):
            out.append(model(x).float())
            bar.update(len(x))
    k = out[0].shape[1] if out else 0
    logits = torch.cat(out).numpy() if out else np.zeros((0, k), np.float32)
    return dist.gather_rows(logits.astype(np.float32))


def accuracy(logits, labels):
    return float((logits.argmax(1) == labels).mean())


def param_groups(model, cfg):
    """Weight decay on weight tensors only: decaying BatchNorm scales and
    biases mostly shrinks what the next layer undoes, and on narrow networks
    (MobileNetV3: 91.8 % train accuracy after 10 epochs at 5e-4 on every
    parameter) it underfits."""
    params = [p for p in model.parameters() if p.requires_grad]
    if cfg.decay_all:
        return [{"params": params, "weight_decay": cfg.weight_decay}]
    return [{"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.weight_decay},
            {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0}]


def _optimiser(model, cfg, steps_per_epoch):
    opt = torch.optim.SGD(param_groups(model, cfg), lr=cfg.max_lr,
                          momentum=cfg.momentum, nesterov=True)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=cfg.max_lr, epochs=cfg.epochs,
        steps_per_epoch=steps_per_epoch, pct_start=cfg.pct_start,
        anneal_strategy="cos", cycle_momentum=False,
        div_factor=20.0, final_div_factor=200.0)
    return opt, sched


def shuffled_batches(data, split, batch_size, seed, flip=True, sharded=True):
    """This rank's (indices, augmented normalised inputs) of every step of
    one pass over `split` in a seeded order: the same number of steps on
    every rank (a last block of fewer than two samples per rank is topped
    up from the pass's start). Not `sharded`: the whole batches, on every
    rank (one process's)."""
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split.labels), generator=gen).numpy()
    world, rank = (dist.world(), dist.rank()) if sharded else (1, 0)
    # At least two samples per rank: a network with BatchNorm1d (a common
    # classifier head) cannot train on a batch of one (a train split of
    # 10 * 128 + 1 images crashed on its last step).
    least = min(2, batch_size) * world
    for s in range(0, len(order), batch_size):
        block = order[s:s + batch_size]
        if len(block) < least:
            block = np.concatenate([block, order[:least - len(block)]])
        idx = np.sort(block[rank::world])
        yield idx, data.normalise(augment(split.images[idx], gen, flip))


def train_batches(data, split, batch_size, seed, flip=True):
    """(inputs, labels) of one augmented pass (the REDS loops' batches)."""
    for idx, x in shuffled_batches(data, split, batch_size, seed, flip):
        yield x, torch.as_tensor(split.labels[idx]).long()


def loss_of(cfg, logits, y, teacher):
    ce = nn.functional.cross_entropy(logits, y, label_smoothing=cfg.label_smoothing)
    if teacher is None or cfg.distill <= 0:
        return ce
    t = cfg.temperature
    kl = nn.functional.kl_div(nn.functional.log_softmax(logits / t, 1),
                              nn.functional.softmax(teacher / t, 1),
                              reduction="batchmean") * t * t
    return (1 - cfg.distill) * ce + cfg.distill * kl


def _resume(path, model, opt, sched, log):
    if not os.path.exists(path):
        return 0
    state = torch.load(path)
    model.load_state_dict(state["model"])
    opt.load_state_dict(state["opt"])
    sched.load_state_dict(state["sched"])
    log(f"resumed from {path} after epoch {state['epoch'] + 1}")
    return state["epoch"] + 1


def save_whole(obj, path):
    """torch.save, never half a file: a run killed while saving leaves the
    old file or none, which a rerun would otherwise load."""
    torch.save(obj, path + ".tmp")
    os.replace(path + ".tmp", path)


def _save(path, model, opt, sched, epoch):
    if not dist.is_main():
        return
    save_whole({"model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "epoch": epoch}, path)


def _channels_last(model, data):
    """Train in channels-last memory format where the model allows it:
    PyTorch's CPU depthwise convolutions train 1.5x faster so
    (mobilenet_v3_small, 28x28, one thread: 693 -> 464 ms per batch of 128).
    A model that calls .view() on a feature map (`x.view(-1, 320)`, the
    classic MNIST example) fails on channels-last tensors: it keeps the
    default format. Tried on two images in eval mode (no statistic moves)."""
    x = data.normalise(data.train.images[:2])
    was_training = model.training
    model.to(memory_format=torch.channels_last).eval()
    try:
        with torch.no_grad():
            model(x.contiguous(memory_format=torch.channels_last))
        ok = True
    except RuntimeError:
        model.to(memory_format=torch.contiguous_format)
        ok = False
    model.train(was_training)
    return ok


def _peak_lr(model, data, cfg, ckpt_dir, per_epoch, fast, log, what):
    """cfg with its peak learning rate: as given, or (None) the one
    lr_probe chose, kept beside the checkpoints so a resumed run keeps it."""
    if cfg.max_lr is not None:
        return cfg
    path = os.path.join(ckpt_dir, "lr.json")
    # Rank 0's view decides for every rank: another rank could otherwise
    # see the file rank 0 has just written, skip on_main's barrier and meet
    # rank 0 in a different collective (a torchrun build hung so, once the
    # --lr auto trials no longer held the ranks together in smoke runs).
    if dist.exists(path):
        with open(path, encoding="utf-8") as f:
            lr = json.load(f)["lr"]
    else:
        lr = lr_probe.choose(model, data, cfg, lr_probe.trial_steps(per_epoch * cfg.epochs),
                             log, what, lambda x: _memory_format(x, fast))
        dist.on_main(lambda: _write_json(path, {"lr": lr}))
    return replace(cfg, max_lr=lr)


def _write_json(path, obj):
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(obj, f)
    os.replace(path + ".tmp", path)


def _memory_format(x, channels_last):
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def fit(model, data, cfg, ckpt_dir, log, what, teacher=None):
    """Train `model` (resuming from ckpt_dir); returns it in eval mode.
    `teacher(x)` gives distillation logits when cfg.distill > 0."""
    os.makedirs(ckpt_dir, exist_ok=True)
    per_epoch = -(-len(data.train.labels) // cfg.batch_size)
    fast = _channels_last(model, data)
    cfg = _peak_lr(model, data, cfg, ckpt_dir, per_epoch, fast, log, what)
    opt, sched = _optimiser(model, cfg, per_epoch)
    path = os.path.join(ckpt_dir, "last.pt")
    first = _resume(path, model, opt, sched, log)
    net = dist.wrap(model)
    val = None   # the last epoch's, when this call trained one
    for epoch in range(first, cfg.epochs):
        net.train()
        total, correct, seen = 0.0, 0, 0
        with Progress(f"train {what} epoch {epoch + 1}/{cfg.epochs}",
                      per_epoch) as bar:
            for idx, x in shuffled_batches(data, data.train, cfg.batch_size,
                                            cfg.seed * 1000 + epoch, cfg.flip):
                y = torch.as_tensor(data.train.labels[idx]).long()
                with torch.no_grad():
                    soft = teacher(x) if teacher is not None and cfg.distill > 0 else None
                logits = net(_memory_format(x, fast))
                loss = loss_of(cfg, logits, y, soft)
                opt.zero_grad(set_to_none=True)
                backward(loss, what)
                opt.step()
                sched.step()
                total += loss.item() * len(y)
                correct += int((logits.argmax(1) == y).sum())
                seen += len(y)
                bar.update(1, f"loss {total / max(seen, 1):.4f}")
        val = accuracy(predict(model, data, data.val, what=f"{what} val"),
                       data.val.labels)
        _save(path, model, opt, sched, epoch)
        dist.barrier()
        log(f"{what} epoch {epoch + 1}/{cfg.epochs}: loss {total / max(seen, 1):.4f} "
            f"train(aug) {correct / max(seen, 1):.4f} val {val:.4f}")
    recalibrate_bn(model, data, cfg.seed, log, what, val)
    return model.eval()


def recalibrate_bn(model, data, seed, log, what, val=None, samples=12800, batch=256):
    """Re-estimate every BatchNorm's running statistics on clean train
    images (torch.optim.swa_utils.update_bn: a cumulative average). Some
    architectures keep a very slow BN momentum (torchvision's MobileNetV3:
    0.01) that lags weights trained at a high learning rate, so eval-mode
    outputs can be far off until the schedule has decayed; after this the
    statistics are those of the final weights. Kept unless validation
    accuracy drops by more than its noise (two standard errors: a few
    images of a small val split decide nothing): on other networks the
    trained statistics were the better ones (a user's residual network lost
    6 pp to them). `val`: the trained statistics' val accuracy when known
    (the last epoch's). Every rank uses the same samples and the same
    split, so ranks stay identical."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return
    val_of = lambda: accuracy(predict(model, data, data.val, what=f"{what} val"), data.val.labels)  # noqa: E731
    before = val_of() if val is None else val
    trained = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    order = np.sort(np.random.default_rng(seed + 77).permutation(
        len(data.train.labels))[:samples])
    # No block of one (BatchNorm1d cannot take it): a last single sample joins the block before.
    starts = [s for s in range(0, len(order), batch) if len(order) - s != 1 or s == 0]
    inputs = [data.normalise(data.train.images[order[s:e]])
              for s, e in zip(starts, starts[1:] + [len(order)])]
    torch.optim.swa_utils.update_bn(inputs, model)
    after = val_of()
    n = max(len(data.val.labels), 1)
    if after >= before - 2 * math.sqrt(max(before * (1 - before), 1 / n) / n):
        log(f"{what}: BatchNorm statistics re-estimated on {len(order)} train images; "
            f"val {before:.4f} -> {after:.4f}")
        return
    for m, state in zip(norms, trained):
        m.load_state_dict(state)
    log(f"{what}: BatchNorm statistics re-estimated on {len(order)} train images gave val "
        f"{after:.4f}, under the trained ones' {before:.4f}: the trained ones kept")


def backward(loss, what):
    """loss.backward(); a failure in the user's network (an in-place
    operation on a tensor autograd needs, a detached output) is one line
    naming what was trained, not a traceback."""
    try:
        loss.backward()
    except RuntimeError as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise BuildError(f"training {what}: PyTorch's backward pass failed: {first}") from None
