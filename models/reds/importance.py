"""Step 2: importance of every unit, Σ|w ⊙ g| (REDS).

g is the gradient of the cross-entropy loss accumulated (summed) over
`batches` training minibatches (batch 128, the builder's augmentation,
a fixed seed), with the network in eval mode, i.e. BatchNorm using its
running statistics: the gradient of the function that is deployed.

Units are the output channels of the dense convolutions: layer 0 is the
stem, layers 1..4 the pointwise convs of blocks 1..4 (the unit groups the
knapsack chooses from). A depthwise filter has no choice of its own: its
channel exists exactly when the channel it filters exists (REDS: "the
depthwise filter count of a block equals the pointwise filter count of the
previous one"), so it is tied to the stem / pointwise unit producing that
channel. The importance of channel c of layer l is therefore
    Σ|w ⊙ g| over the producing filter (stem or pw filter c: all its input
    weights) + Σ|w ⊙ g| over the depthwise filter c that reads it (9
    weights; none for the last pointwise layer, which feeds the classifier).
BatchNorm affine parameters and the next layer's input weights are not
counted (the former follow their conv, the latter belong to the next
layer's units).
"""

import numpy as np
from torch import nn

from dyce_build import dist
from dyce_build.fit import train_batches

SEED = 31


def accumulated_gradients(net, data, batches, batch_size=128):
    """Sum of the loss gradients of every parameter over `batches` batches."""
    net.eval()
    net.zero_grad(set_to_none=True)
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    it = train_batches(data, data.train, batch_size, SEED)
    used = 0
    for x, y in it:   # this rank's share of each batch (train_batches)
        loss_fn(net(x), y).backward()
        used += 1
        if used == batches:
            break
    dist.sum_gradients(net)
    return used


def unit_importance(net):
    """[np.array per unit layer] of Σ|w ⊙ g| (after accumulated_gradients)."""
    out = []
    for producer, dw, _ in net.unit_layers():
        w = producer.conv.weight
        imp = (w * w.grad).abs().flatten(1).sum(1)
        if dw is not None:
            w = dw.conv.weight
            imp = imp + (w * w.grad).abs().flatten(1).sum(1)
        out.append(imp.detach().double().numpy())
    net.zero_grad(set_to_none=True)
    return out


def compute(net, data, batches, log):
    used = accumulated_gradients(net, data, batches)
    imps = unit_importance(net)
    for l, imp in enumerate(imps):
        log(f"importance layer {l}: {used} batches, total {imp.sum():.4g}, "
            f"max {imp.max():.4g}, min {imp.min():.4g}")
    return imps


def save(path, imps):
    np.savez(path, **{f"layer{l}": imp for l, imp in enumerate(imps)})


def load(path):
    with np.load(path) as z:
        return [z[f"layer{l}"] for l in range(len(z.files))]
