"""Step 5: joint fine-tuning of the nested ResNet-20 subnetworks (REDS loss).

The recipe of reds.finetune (docs/REDS.md, step 5), on the sliced forward
of sliced.py: every batch runs every level's subnetwork on the same
augmented inputs, loss_i is weighted by α_i/Σα with α_i = sqrt(parameters
of subnetwork i / parameters of the full network), the gradients of all
levels accumulate and one optimiser step follows; every weight is shared.
BatchNorm is folded into the convs first (`fold_bn`: conv weights absorb
γ/σ, the BN keeps mean 0, variance 1 − eps, γ = 1, β − μγ/σ, eval mode),
so the trained function is the deployed one and the subnetworks share the
statistics by construction. Optional in-place distillation (`kd`) exactly
as reds.finetune: the full level (levels[0]) trains on the labels, every
narrower level on (1 − kd)·CE + kd·T²·KL(full ‖ level).

The training loop is reds.finetune.joint_fit (the DS-CNN's, with this
net's sliced forward): SGD Nesterov 0.9, batch 128, label smoothing 0.1,
gradient norm ≤ CLIP, OneCycle (10 % warm-up, cosine), a checkpoint after
every epoch (an interrupted run resumes exactly). The time per batch (all
levels, forward + backward) is logged, for extrapolating a run's
duration.
"""

import math

import torch
from torch import nn

from reds import finetune as rfinetune

from . import nets, sliced

FT_LR = rfinetune.FT_LR
KD = rfinetune.KD
KD_TEMPERATURE = rfinetune.KD_TEMPERATURE
BATCH = rfinetune.BATCH
LOG_EVERY = 50


def conv_bns(net):
    """Every (Conv2d, BatchNorm2d) pair of the network."""
    return [m for m in net.modules()
            if isinstance(m, nn.Sequential) and len(m) == 2
            and isinstance(m[0], nn.Conv2d)
            and isinstance(m[1], nn.BatchNorm2d)]


def fold_bn(net):
    """reds.finetune.fold_conv_bn for every conv + BN pair, in place."""
    with torch.no_grad():
        for conv, bn in conv_bns(net):
            rfinetune.fold_conv_bn(conv, bn)
    return net


def alphas(levels):
    """REDS weights α_i/Σα, α_i = sqrt(param fraction), per level."""
    full = nets.param_count(nets.FULL)
    a = [math.sqrt(nets.param_count(w) / full) for w in levels]
    return [v / sum(a) for v in a]


def predict(net, data, split, widths, batch_size=500):
    """Logits of one level's subnetwork on a split (eval mode)."""
    return rfinetune.predict(net, data, split, widths, batch_size,
                             forward=sliced.forward)


def finetune(net, data, levels, epochs, ckpt_dir, log, force=False,
             lr=FT_LR, kd=KD, temperature=KD_TEMPERATURE):
    """Fine-tune `net` (nets.ResNet at full width) jointly on `levels`
    (list of nets.Widths; levels[0] must be FULL when kd > 0) in place.
    Returns (net in eval mode, {"ms_per_batch": ..., "batches": ...})."""
    weights = alphas(levels)
    rfinetune.prepare(net, data, fold_bn, [w.units() for w in levels],
                      weights, tuple(levels[0]) == tuple(nets.FULL), log,
                      f"max lr {lr}, epochs {epochs}, kd {kd} "
                      f"(T {temperature})", kd)
    timing = {"full_batches": 0, "seconds": 0.0}

    def on_batch(step, steps, seconds, size, loss):
        if size == BATCH:
            timing["full_batches"] += 1
            timing["seconds"] += seconds
        if step % LOG_EVERY == 0 and timing["full_batches"]:
            log(f"  finetune batch {step}/{steps}: loss {loss:.4f} "
                f"({1000 * timing['seconds'] / timing['full_batches']:.0f}"
                " ms/batch)")

    rfinetune.joint_fit(net, data, levels, sliced.forward, weights, epochs,
                        ckpt_dir, log, force=force, lr=lr, kd=kd,
                        temperature=temperature, on_batch=on_batch)
    if timing["full_batches"]:
        timing["ms_per_batch"] = 1000 * timing["seconds"] / timing[
            "full_batches"]
        est = timing["ms_per_batch"] / 1000 * (-(-55000 // BATCH))
        log(f"finetune: {timing['ms_per_batch']:.0f} ms per batch of {BATCH} "
            f"({len(levels)} levels, forward + backward + step) -> about "
            f"{est / 60:.1f} min per epoch of 55 000 images (training only)")
    return net.eval(), timing
