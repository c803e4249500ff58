"""The shared training loop (backbone and savers) and batch inference.

SGD with Nesterov momentum 0.9, weight decay 5e-4, label smoothing, a
OneCycle schedule (cosine annealing, constant momentum), the augmentation of
data.py. A checkpoint is written after every epoch and an interrupted run
resumes from the latest one; every epoch's batches come from a generator
seeded with (seed, epoch), so a resumed run trains exactly like an
uninterrupted one. Test accuracy is logged for monitoring only: nothing is
selected on it (the last epoch is the result).
"""

import os
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from dyce_build.fit import TrainConfig as BaseTrainConfig, _optimiser, _resume

from . import data as fdata


@dataclass
class TrainConfig(BaseTrainConfig):
    """Hyper-parameters of one training run (the builder's, plus logging)."""
    log_every: int = 100
    decay_all: bool = True      # the shipped models were trained so


def predict(model, data, split, batch_size=500):
    """float32 logits (N, 10) of a split, eval mode, un-augmented."""
    model.eval()
    with torch.no_grad():
        out = [model(x) for x in fdata.eval_batches(data, split, batch_size)]
    return torch.cat(out).numpy().astype(np.float32)


def accuracy(logits, labels):
    """Top-1 accuracy of logits against labels."""
    return float((logits.argmax(1) == labels).mean())


def _checkpoint_path(ckpt_dir):
    return os.path.join(ckpt_dir, "last.pt")


def _save(path, model, opt, sched, epoch):
    tmp = path + ".tmp"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                "sched": sched.state_dict(), "epoch": epoch}, tmp)
    os.replace(tmp, path)


def _train_epoch(model, data, cfg, opt, sched, epoch, log):
    """One epoch; returns (mean loss, accuracy on the augmented batches)."""
    model.train()
    loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
    total_loss, correct, seen = 0.0, 0, 0
    batches = fdata.train_batches(data, data.train, cfg.batch_size,
                                  seed=cfg.seed * 1000 + epoch)
    start = time.time()
    for step, (x, y) in enumerate(batches, 1):
        logits = model(x)
        loss = loss_fn(logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        total_loss += loss.item() * len(y)
        correct += int((logits.argmax(1) == y).sum())
        seen += len(y)
        if step % cfg.log_every == 0:
            ms = (time.time() - start) / step * 1000
            log(f"  epoch {epoch + 1} batch {step}: "
                f"loss {total_loss / seen:.4f} ({ms:.0f} ms/batch)")
    return total_loss / seen, correct / seen


def fit(model, data, cfg, ckpt_dir, log):
    """Train `model` (resuming from ckpt_dir) and return it in eval mode."""
    os.makedirs(ckpt_dir, exist_ok=True)
    steps = -(-len(data.train.labels) // cfg.batch_size)
    opt, sched = _optimiser(model, cfg, steps)
    path = _checkpoint_path(ckpt_dir)
    for epoch in range(_resume(path, model, opt, sched, log), cfg.epochs):
        start = time.time()
        loss, train_acc = _train_epoch(model, data, cfg, opt, sched, epoch,
                                       log)
        val = accuracy(predict(model, data, data.val), data.val.labels)
        test = accuracy(predict(model, data, data.test), data.test.labels)
        _save(path, model, opt, sched, epoch)
        log(f"epoch {epoch + 1}/{cfg.epochs}: loss {loss:.4f} train(aug) "
            f"{train_acc:.4f} val {val:.4f} test {test:.4f} "
            f"lr {sched.get_last_lr()[0]:.5f} {time.time() - start:.0f} s")
    return model.eval()
