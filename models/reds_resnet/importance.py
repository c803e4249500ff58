"""Step 2: importance Σ|w ⊙ g| of every unit of the ResNet-20 (REDS).

g is the gradient of the cross-entropy summed over `batches` augmented
training minibatches of 128 with the network in eval mode (BatchNorm uses
its running statistics): reds.importance.accumulated_gradients, the same
batches (seed 31) as the DS-CNN.

A unit is one channel of a unit group (nets.unit_groups). Its importance is
Σ|p ⊙ g| over every parameter that exists only because the channel exists:

  * producers: the filter c of every conv producing the channel (stream:
    the stem or projection shortcut and the second conv of every block of
    the stream; inner: the block's first conv) and γ_c, β_c of their
    BatchNorms;
  * consumers (when CONSUMERS): the input slice [:, c] of every layer
    reading the channel (stream: the first conv of every block reading it,
    the next stream's projection shortcut, or the classifier; inner: the
    block's second conv) -- the analogue of the DS-CNN's tied depthwise
    filter, which reds.importance adds to the unit producing its channel.

The DS-CNN counts producer + tied depthwise only (no BN, no next dense
layer). Here a stream channel is shared by up to 4 producers and 5
consumers; counting them all gives each stream channel the importance of
everything it carries, and counting the inner units' consumers too keeps
the two kinds of units comparable in the knapsack (a weight of a block's
second conv belongs to both its inner and its stream unit, and disappears
when either does).
"""

import numpy as np

from reds import importance as rimportance

from . import nets

CONSUMERS = True
save = rimportance.save
load = rimportance.load


def _wg(p, keep_dim):
    """Σ|p ⊙ p.grad| over every dimension but keep_dim."""
    t = (p * p.grad).abs()
    if t.dim() == 1:
        return t
    dims = [d for d in range(t.dim()) if d != keep_dim]
    return t.sum(dims)


def unit_importance(net, consumers=CONSUMERS):
    """[np.array per unit group] (after accumulated_gradients)."""
    out = []
    for group in nets.unit_groups(net):
        imp = 0
        for cb in group.producers:
            imp = imp + _wg(cb[0].weight, 0)
            imp = imp + _wg(cb[1].weight, 0) + _wg(cb[1].bias, 0)
        if consumers:
            for m in group.consumers:
                imp = imp + _wg(m.weight, 1)
        out.append(imp.detach().double().numpy())
    net.zero_grad(set_to_none=True)
    return out


def compute(net, data, batches, log, consumers=CONSUMERS):
    used = rimportance.accumulated_gradients(net, data, batches)
    imps = unit_importance(net, consumers)
    for name, imp in zip(nets.GROUP_NAMES, imps):
        log(f"importance {name}: {used} batches, {len(imp)} units, total "
            f"{imp.sum():.4g}, max {imp.max():.4g}, min {imp.min():.4g}, "
            f"zero {int((imp == 0).sum())}")
    return imps


def summary(imps):
    """Totals per group (for the log / report)."""
    return {name: float(np.sum(imp)) for name, imp in
            zip(nets.GROUP_NAMES, imps)}
