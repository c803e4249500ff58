"""Decoupled DyCE exit training on the frozen backbone's pooled features.

Each exit trains alone (AdamW, cosine learning rate, plain cross-entropy)
on the pooled output of its position over the clean train split and the
augmented views. DyCE's released code may weight samples by how unsure the
first exit is; not here: the search reads every exit's own confidence.
Every rank trains every exit on the same gathered features with the same
seeds, so all ranks hold identical exits without communicating.
"""

import numpy as np
import torch
from torch import nn

from .progress import Progress

BATCH = 512
LR = 3e-3
WEIGHT_DECAY = 1e-4
SHUFFLE_SEED = 8000


def mlp_logits(mlp, features, batch=4096):
    mlp.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(features), batch):
            out.append(mlp(torch.as_tensor(features[s:s + batch])))
    return torch.cat(out).numpy().astype(np.float32)


def train_mlp(mlp, x, y, epochs, seed, on_epoch=None):
    """Trains `mlp` on features `x`; `on_epoch()` after each epoch (a bar)."""
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.as_tensor(x), torch.as_tensor(y).long()
    steps = max(1, epochs * -(-len(y) // BATCH))
    opt = torch.optim.AdamW(mlp.parameters(), lr=LR, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    loss_fn = nn.CrossEntropyLoss()
    mlp.train()
    for _ in range(epochs):
        for idx in torch.randperm(len(y), generator=gen).split(BATCH):
            loss = loss_fn(mlp(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if on_epoch:
            on_epoch()
    return mlp.eval()


def train_all(exits, views, data, epochs, log):
    """Train every exit (ModuleDict name -> Exit, name exit<p>_<type>)."""
    train_views = sorted(v for v in views if v.startswith("train"))
    labels = np.concatenate([data.train.labels] * len(train_views))
    # epochs of every exit: one exit on large features takes a minute
    with Progress("train exits", len(exits) * max(1, epochs)) as bar:
        for i, (name, ex) in enumerate(exits.items()):
            p = position(name)
            x = np.concatenate([views[v][0][p - 1] for v in train_views])
            train_mlp(ex.mlp, x, labels, epochs, SHUFFLE_SEED + i, lambda: bar.update(1, name))
            val = (mlp_logits(ex.mlp, views["val"][0][p - 1]).argmax(1)
                   == data.val.labels).mean()
            log(f"{name}: val {val:.4f}")
    return exits


def position(name):
    """exit<p>_<type> -> p."""
    return int(name[len("exit"):].split("_")[0])
