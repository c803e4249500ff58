"""Step 1: pre-train the full-width DS-CNN with the shared fmnist SGD loop.

The recipe is fmnist.fit's (SGD Nesterov 0.9, weight decay 5e-4, batch 128,
label smoothing 0.1, OneCycle max lr 0.2, the augmentation of fmnist.data),
with the epoch count of the profile. The model runs in channels_last memory
format: PyTorch's CPU depthwise convolution is about twice as fast that way.
"""

import shutil

import torch

from fmnist.fit import TrainConfig, fit

from . import nets

SEED = 21


def build():
    """The freshly initialised network (fixed seed)."""
    torch.manual_seed(SEED)
    return nets.DSCNN()


def train(ctx, net):
    """Train `net` in place (resuming from WORK/ckpt/pretrain); eval mode."""
    ckpt = ctx.path("ckpt", "pretrain")
    if ctx.force:
        shutil.rmtree(ckpt, ignore_errors=True)
    cfg = TrainConfig(epochs=ctx.profile.pretrain_epochs, seed=SEED)
    net = net.to(memory_format=torch.channels_last)
    fit(net, ctx.data, cfg, ckpt, lambda m: ctx.log(f"pretrain: {m}"))
    return net.to(memory_format=torch.contiguous_format).eval()
