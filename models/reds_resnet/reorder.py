"""Step 3: sort every unit group by importance (descending), in place.

For a group with permutation p (reds.reorder.permutations: stable argsort
of −importance): the filters of every producing conv and their BatchNorm
(weight, bias, running mean and variance) are permuted by p, and the input
channels of every consuming layer (weight[:, p]). A stream's producers are
all permuted by the same p, so the identity shortcuts and the adds stay
aligned. The function is unchanged; reds.reorder.check asserts identical
logits (max abs difference < 1e-4) on the first 1 000 val images.
"""

import torch

from reds import reorder as rreorder

from . import nets

permutations = rreorder.permutations
check = rreorder.check
TOLERANCE = rreorder.TOLERANCE


def apply(net, perms):
    """Permute net's unit groups in place by `perms` (nets.GROUP_NAMES
    order)."""
    groups = nets.unit_groups(net)
    if len(perms) != len(groups):
        raise ValueError(f"{len(perms)} permutations for {len(groups)} "
                         "unit groups")
    with torch.no_grad():
        for group, perm in zip(groups, perms):
            perm = torch.as_tensor(perm, dtype=torch.long)
            for cb in group.producers:
                cb[0].weight.data = cb[0].weight.data[perm].clone()
                for name in ("weight", "bias", "running_mean",
                             "running_var"):
                    t = getattr(cb[1], name)
                    t.data = t.data[perm].clone()
            for m in group.consumers:
                m.weight.data = m.weight.data[:, perm].clone()
    return net
