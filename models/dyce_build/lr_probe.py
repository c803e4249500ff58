"""`--lr auto` (the default): each trained network's peak learning rate,
chosen by short trials before its training.

SGD at 0.2 with OneCycle trains the networks with BatchNorm that the
project ships, but a classic CNN without normalisation (two conv blocks,
a Linear head) never leaves chance there (loss 2.30 after 3 epochs on
Fashion-MNIST), and EfficientNet-B0 from scratch reaches 54 % at 0.2
against 71 % at 0.05. A user's network is none we have tried, so each
candidate below trains a copy of the untrained network for a few dozen
steps (the same batches, the same optimiser, warming up as OneCycle
does, then held) and the one whose loss is lowest over the last half of
its steps wins; the larger rate among equals. The trials save and
restore the network's state and PyTorch's random generator, so training
at the chosen rate is exactly the run `--lr RATE` gives."""

import math

import torch

from . import dist
from .backbones import with_metadata
from .progress import Progress
from . import fit as training   # (fit imports this module: names used at call time)

CANDIDATES = (0.2, 0.05, 0.0125, 0.003)
# Losses within 5 % of the lowest count as equal and the larger rate wins:
# short trials favour small rates (EfficientNet-B0 at 32x32, 24 steps:
# 0.003 lowest, 0.0125 1 % above it; 8 epochs at 0.0125 gave 84.7 % val,
# at 0.05 72.7 %; 0.003 was not trained).
TIE = 0.05
# Fewer steps than this (a --smoke run's one, a tiny folder's few) compare
# nothing: after one step every trial's loss is the untrained network's.
MIN_STEPS = 4


def trial_steps(total_steps):
    """Steps per candidate: a tenth of the training, 24 to 48, and never
    more than the training itself (a smoke run's). Fewer do not show a
    rate that fails: the plain CNN's loss at 0.2 is still the lowest after
    16 steps, and above 0.05's from 24 on."""
    return min(total_steps, max(24, min(48, total_steps // 10)))


def _batches(data, cfg, steps):
    """`steps` augmented batches of whole (unsharded) batches, passes over
    train repeated as needed: every rank of a torchrun run tries the same
    batches as one process does, so it picks the same rate."""
    got = []
    while len(got) < steps:
        for idx, x in training.shuffled_batches(data, data.train, cfg.batch_size,
                                                cfg.seed * 1000 + 999 + len(got),
                                                cfg.flip, sharded=False):
            got.append((x, torch.as_tensor(data.train.labels[idx]).long()))
            if len(got) == steps:
                break
    return got


def _trial(model, cfg, batches, lr, prepare, bar):
    opt = torch.optim.SGD(training.param_groups(model, cfg), lr=lr,
                          momentum=cfg.momentum, nesterov=True)
    warm = max(1, len(batches) // 2)
    losses = []
    model.train()
    for i, (x, y) in enumerate(batches):
        for g in opt.param_groups:
            g["lr"] = lr * (0.05 + 0.95 * min(1.0, (i + 1) / warm))
        loss = training.loss_of(cfg, model(prepare(x)), y, None)
        if not torch.isfinite(loss):
            bar.update(len(batches) - i, f"lr {lr:g}: diverged")
            return math.inf
        opt.zero_grad(set_to_none=True)
        training.backward(loss, "the network (an --lr auto trial)")
        opt.step()
        losses.append(loss.item())
        bar.update(1, f"lr {lr:g}")
    tail = losses[len(losses) // 2:]
    return sum(tail) / len(tail)


def pick(scores):
    """The index of the winning candidate: the lowest finite loss, the
    larger rate (the earlier candidate) within TIE of it; None when every
    trial diverged."""
    finite = [s for s in scores if math.isfinite(s)]
    if not finite:
        return None
    best = min(finite)
    return next(i for i, s in enumerate(scores) if s <= best * (1 + TIE))


def choose(model, data, cfg, steps, log, what, prepare):
    """The peak learning rate for `model` (left as it was); `prepare(x)`
    puts a batch in the memory format training uses."""
    if steps < 1:   # nothing will be trained
        return CANDIDATES[0]
    if steps < MIN_STEPS:
        log(f"{what}: learning rate {CANDIDATES[0]:g} (--lr auto: the training has {steps} "
            f"step{'s' if steps != 1 else ''}, too few to tell the rates apart: no trials)")
        return CANDIDATES[0]
    state = with_metadata({k: v.clone() for k, v in model.state_dict().items()}, model)
    rng = torch.get_rng_state()
    was_training = model.training
    batches = _batches(data, cfg, steps)
    scores = []
    # The trials of a large network take minutes: they get a bar too.
    with Progress(f"{what}: --lr auto trials", steps * len(CANDIDATES)) as bar:
        for lr in CANDIDATES:
            scores.append(_trial(model, cfg, batches, lr, prepare, bar))
            model.load_state_dict(state)
    torch.set_rng_state(rng)
    model.train(was_training)
    # Every rank tried the same batches; rank 0's choice holds for all.
    best = dist.broadcast(pick(scores))
    shown = ", ".join(f"{lr:g}: {'diverged' if not math.isfinite(s) else f'{s:.3f}'}"
                      for lr, s in zip(CANDIDATES, scores))
    if best is None:
        log(f"{what}: learning rate: every trial diverged ({shown}); "
            f"training at {CANDIDATES[-1]:g}")
        return CANDIDATES[-1]
    log(f"{what}: learning rate {CANDIDATES[best]:g} (--lr auto: mean loss over the last "
        f"{steps - steps // 2} of {steps} steps at {shown})")
    return CANDIDATES[best]
