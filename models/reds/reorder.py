"""Step 3: sort every unit layer by importance (descending), in place.

For unit layer l with permutation p (stable argsort of −importance):
the producing conv's filters and its BatchNorm (weight, bias, running mean
and variance) are permuted by p, so is the depthwise conv reading those
channels (filters and BN), and the input channels of the next dense layer
(the next block's pointwise conv, or the classifier for the last layer).
The function is unchanged; `check` asserts identical logits up to float
rounding (max abs difference < 1e-4).
"""

import numpy as np
import torch

TOLERANCE = 1e-4


def _permute_convbn(m, perm):
    m.conv.weight.data = m.conv.weight.data[perm].clone()
    for name in ("weight", "bias", "running_mean", "running_var"):
        t = getattr(m.bn, name)
        t.data = t.data[perm].clone()


def permutations(imps):
    """Stable descending-importance order of every layer."""
    return [np.argsort(-imp, kind="stable") for imp in imps]


def apply(net, perms):
    """Permute net's units in place by `perms` (one per unit layer)."""
    with torch.no_grad():
        for (producer, dw, consumer), perm in zip(net.unit_layers(), perms):
            perm = torch.as_tensor(perm, dtype=torch.long)
            _permute_convbn(producer, perm)
            if dw is not None:
                _permute_convbn(dw, perm)
            consumer.weight.data = consumer.weight.data[:, perm].clone()
    return net


def check(before, after, data, log, count=1000):
    """Max |logits before − after| on the first val images; abort >= tol."""
    x = data.normalise(data.val.images[:count])
    with torch.no_grad():
        diff = float((before.eval()(x) - after.eval()(x)).abs().max())
    log(f"reorder: max abs logit difference {diff:.3g} on {len(x)} val "
        f"images (tolerance {TOLERANCE})")
    if not diff < TOLERANCE:
        raise RuntimeError(f"reordered network differs: {diff}")
    return diff
