"""Step 5: joint fine-tuning of the nested subnetworks (REDS loss).

Every batch runs every level's subnetwork (prefix widths, nets.DSCNN's
sliced forward) on the same augmented inputs; loss_i is weighted by
α_i / Σα with α_i = sqrt(parameters of subnetwork i / parameters of the
full network); the gradients of all levels accumulate and one optimiser
step follows. All weights, BatchNorm parameters included, are shared.

BatchNorm statistics: the subnetworks share one set (the package holds one
set of weights per graph; a level only changes tensor widths, and the
converter folds BN into the convolutions). To make the fine-tuned function
the one that is deployed, BN is folded before fine-tuning (`fold_bn`): the
conv weights absorb γ/σ, the BN layer keeps mean 0, variance 1 − eps,
γ = 1 and β = β − μγ/σ (so it is exactly a per-channel scale + bias), and it
stays in eval mode. Training BN in train mode would normalise each
subnetwork with its own batch statistics and leave running statistics
averaged over all widths, which match no subnetwork at inference (the
problem slimmable networks solve with private BNs, which a shared-weight
package cannot have). Freezing the pre-trained statistics without folding
diverged (NaN in the first epoch): weight decay leaves the conv weights
tiny and σ² down to 1e-5 (dead channels: 0), so the frozen 1/σ gains
amplify every weight update (and channels that were dead in the full
network come alive in narrow subnetworks); the folded parametrisation is
well scaled.

Optimiser: SGD, Nesterov momentum 0.9, weight decay WEIGHT_DECAY, batch
128, label smoothing 0.1, gradient norm clipped at CLIP, OneCycle (max lr
FT_LR, 10 % warm-up, cosine). A checkpoint
after every epoch; an interrupted run resumes exactly.

In-place knowledge distillation (`kd`, a deviation from the REDS loss; as
in slimmable / universally slimmable networks, Yu & Huang 2019): the full
level (levels[0]) trains on the labels; every narrower level's loss is

    (1 − kd) · CE(labels, label smoothing) + kd · T² · KL(p_full,T ‖ p_i,T)

with p_full,T the full level's detached softmax at temperature T on the
same batch (computed first, so it costs nothing extra). The REDS weighting
is kept: level i's loss is multiplied by α_i/Σα as before. Why: with the
plain REDS loss the narrow levels stayed below the paper's figures (w50
90.48 %, w25 87.23 % test after 8 epochs, 87.67 % after 12, climbing
slowly); the full network's soft targets carry the class similarities the
narrow subnetworks have to re-learn after their widths are cut, and the
loss they give is consistent with the full level's decisions, which the
nested weights share. kd = 0 is the REDS loss exactly. Measured
(docs/REDS.md "Fine-tuning variants"): kd = 1 with max lr 0.05 over 30
epochs, the variant with the best mean val accuracy, reaches 91.68 /
91.69 / 90.81 / 89.38 % test at w100/w75/w50/w25 (REDS: 91.6 / 91.51 /
90.75 / 89.22), against 91.74 / 91.73 / 90.48 / 87.23 with the plain loss
over 8 epochs; it is the shipped recipe (pipeline.Profile).
"""

import contextlib
import math
import os
import shutil
import time

import numpy as np
import torch
from torch import nn

from dyce_build import dist
from dyce_build.fit import accuracy, eval_batches, train_batches

from . import nets

SEED = 41
FT_LR = 0.02  # the plain REDS recipe; pipeline.Profile sets the shipped one
KD = 0.0
KD_TEMPERATURE = 1.0
WEIGHT_DECAY = 1e-4
CLIP = 5.0
BATCH = 128


def fold_conv_bn(conv, bn):
    """Fold one BN's statistics and affine into its conv, in place; the BN
    becomes scale 1 + bias (mean 0, var 1 − eps). Same function."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv.weight.mul_(scale.view(-1, 1, 1, 1))
    bn.bias.copy_(bn.bias - bn.running_mean * scale)
    bn.weight.fill_(1.0)
    bn.running_mean.zero_()
    bn.running_var.fill_(1.0 - bn.eps)


def fold_bn(net):
    """fold_conv_bn for every ConvBN of the DS-CNN."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nets.ConvBN):
                fold_conv_bn(m.conv, m.bn)
    return net


def fold_checked(net, data, fold, log):
    """fold(net), checked to leave the logits of 500 val images alone."""
    x = data.normalise(data.val.images[:500])
    with torch.no_grad():
        before = net.eval()(x)
        fold(net)
        diff = float((net(x) - before).abs().max())
        scale = max(1.0, float(before.abs().max()))   # float32 rounding grows with the logits
    log(f"finetune: BN folded, max abs logit change {diff:.3g} (logits up to {scale:.3g})")
    if not diff < 1e-4 * scale:
        raise RuntimeError(f"BN folding changed the network ({diff})")


def alphas(levels):
    """REDS weights α_i/Σα, α_i = sqrt(param fraction), per level."""
    full = nets.param_count(nets.FULL_UNITS)
    a = [math.sqrt(nets.param_count(u) / full) for u in levels]
    return [v / sum(a) for v in a]


def freeze_bn_stats(net):
    """Train mode for everything except BatchNorm (running stats used)."""
    net.train()
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    return net


def dscnn_forward(net, x, widths):
    return net(x, widths)


class AtLevel(nn.Module):
    """forward(net, x, level) as a module, for DistributedDataParallel."""

    def __init__(self, net, forward):
        super().__init__()
        self.net, self.fn = net, forward

    def forward(self, x, level):
        return self.fn(self.net, x, level)


def predict(net, data, split, widths, batch_size=500, forward=dscnn_forward):
    """Logits of one level's subnetwork (its widths, as `forward` takes
    them) on a split (eval mode), sharded over ranks and gathered."""
    net.eval()
    start, stop = dist.shard(len(split.labels))
    with torch.no_grad():
        out = [forward(net, x, widths)
               for x in eval_batches(data, split, batch_size, start, stop)]
    return dist.gather_rows(torch.cat(out).numpy() if out else
                            np.zeros((0, len(data.classes)), np.float32))


def level_accuracies(net, data, levels, splits, forward=dscnn_forward):
    return {s.name: [accuracy(predict(net, data, s, w, forward=forward),
                              s.labels)
                     for w in levels] for s in splits}


def kd_loss(student, teacher_logits, temperature):
    """T² · KL(softmax(teacher/T) ‖ softmax(student/T)), batch mean."""
    t = torch.log_softmax(teacher_logits / temperature, dim=1)
    s = torch.log_softmax(student / temperature, dim=1)
    return temperature ** 2 * nn.functional.kl_div(
        s, t, reduction="batchmean", log_target=True)


def prepare(net, data, fold, described_levels, weights, full_first, log,
            settings, kd):
    """Before joint_fit: BN folded (checked), the plan logged; in-place
    distillation needs the full network as the first level."""
    fold_checked(net, data, fold, log)
    log(f"finetune: levels {described_levels}, loss weights "
        + ", ".join(f"{w:.3f}" for w in weights) + f", {settings}")
    if kd and not full_first:
        raise ValueError("in-place distillation needs levels[0] = full")


def joint_fit(net, data, levels, forward, weights, epochs, ckpt_dir, log,
              force=False, lr=FT_LR, kd=KD, temperature=KD_TEMPERATURE,
              on_batch=None):
    """The REDS training loop, shared with models/reds_resnet: every batch
    runs forward(net, x, level) for each of `levels` (levels[0] the full
    network when kd > 0), level i's loss times weights[i], gradients
    accumulated, one step. Checkpoint per epoch (resumes exactly); val and
    test accuracy per level logged after each epoch. on_batch(step, steps,
    seconds, batch size, mean loss so far) is called after each step."""
    if force:
        dist.on_main(lambda: shutil.rmtree(ckpt_dir, ignore_errors=True))
    os.makedirs(ckpt_dir, exist_ok=True)
    steps = -(-len(data.train.labels) // BATCH)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9,
                          nesterov=True, weight_decay=WEIGHT_DECAY)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, epochs=epochs, steps_per_epoch=steps,
        pct_start=0.1, anneal_strategy="cos", cycle_momentum=False,
        div_factor=10.0, final_div_factor=100.0)
    path = os.path.join(ckpt_dir, "last.pt")
    first = 0
    if dist.exists(path):
        state = torch.load(path)
        net.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        first = state["epoch"] + 1
        log(f"finetune: resumed after epoch {first}")
    loss_fn = nn.CrossEntropyLoss(label_smoothing=0.1)
    # Under torchrun each rank takes its share of every batch
    # (train_batches) and DistributedDataParallel averages the gradients in
    # the last level's backward (the levels before accumulate locally).
    ddp = dist.wrap(AtLevel(net, forward))
    for epoch in range(first, epochs):
        start = time.time()
        freeze_bn_stats(net)
        total, seen = 0.0, 0
        batches = train_batches(data, data.train, BATCH, SEED * 1000 + epoch)
        for step, (x, y) in enumerate(batches, 1):
            t0 = time.time()
            opt.zero_grad(set_to_none=True)
            teacher = None
            for i, (w, level) in enumerate(zip(weights, levels)):
                with (dist.no_sync(ddp) if i < len(levels) - 1 else contextlib.nullcontext()):
                    out = ddp(x, level)
                    if i == 0 or not kd:
                        loss = loss_fn(out, y)
                    else:
                        loss = kd * kd_loss(out, teacher, temperature)
                        if kd < 1:
                            loss = loss + (1 - kd) * loss_fn(out, y)
                    if i == 0 and kd:
                        teacher = out.detach()
                    loss = w * loss
                    loss.backward()
                total += loss.item() * len(y)
            seen += len(y)
            if not math.isfinite(total):
                raise RuntimeError(f"finetune: loss diverged in epoch "
                                   f"{epoch + 1}")
            nn.utils.clip_grad_norm_(net.parameters(), CLIP)
            opt.step()
            sched.step()
            if on_batch:
                on_batch(step, steps, time.time() - t0, len(y), total / seen)
        def checkpoint(epoch=epoch):
            tmp = path + ".tmp"
            torch.save({"model": net.state_dict(), "opt": opt.state_dict(),
                        "sched": sched.state_dict(), "epoch": epoch}, tmp)
            os.replace(tmp, path)
        dist.on_main(checkpoint)
        acc = level_accuracies(net, data, levels, [data.val, data.test],
                               forward)
        log(f"finetune epoch {epoch + 1}/{epochs}: loss {total / seen:.4f} "
            + " ".join(f"{s} " + "/".join(f"{100 * a:.2f}" for a in accs)
                       for s, accs in acc.items())
            + f" ({time.time() - start:.0f} s)")
    return net


def finetune(net, data, levels, epochs, ckpt_dir, log, force=False,
             lr=FT_LR, kd=KD, temperature=KD_TEMPERATURE):
    """Fine-tune the DS-CNN `net` jointly on `levels` (list of unit tuples;
    levels[0] must be the full network when kd > 0) in place."""
    weights = alphas(levels)
    prepare(net, data, fold_bn, levels, weights,
            tuple(levels[0]) == tuple(nets.FULL_UNITS), log,
            f"max lr {lr}, epochs {epochs}, kd {kd} (T {temperature})", kd)
    net = net.to(memory_format=torch.channels_last)
    joint_fit(net, data, [nets.level_widths(u) for u in levels],
              dscnn_forward, weights, epochs, ckpt_dir, log, force=force,
              lr=lr, kd=kd, temperature=temperature)
    return net.to(memory_format=torch.contiguous_format).eval()
