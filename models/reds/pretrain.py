"""Step 1: pre-train the full-width DS-CNN with the builder's SGD loop.

The recipe is dyce_build.fit's (SGD Nesterov 0.9, weight decay 5e-4 on
weights, batch 128, label smoothing 0.1, OneCycle max lr 0.2, random crop
and flip, BatchNorm statistics re-estimated on clean images at the end),
with the epoch count of the profile; the loop trains in channels_last
memory format where that is faster (PyTorch's CPU depthwise convolution
is about twice as fast that way).
"""

import torch

from dyce_build import backbones

from . import context, nets

SEED = 21


def build():
    """The freshly initialised network (fixed seed)."""
    torch.manual_seed(SEED)
    return nets.DSCNN()


def step(ctx):
    """The profile's `pretrained` weights, else train (or load) WORK/pretrain.pt."""
    if ctx.profile.pretrained:
        ctx.log(f"pretrain: weights from {ctx.profile.pretrained}")
        return backbones.load_weights(build(), ctx.profile.pretrained)
    return context.trained(ctx, "pretrain", build, ctx.profile.pretrain_epochs, SEED)
