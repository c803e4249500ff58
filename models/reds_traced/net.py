"""The traced network at any width level: masks, BatchNorm folding,
importance and reordering over the unit groups of groups.py.

At a level every space keeps its first `width` channels. Every op between
dense layers keeps channels one to one (groups.py checks it), so a
dropped channel can reach a kept one only through a dense convolution or
a linear layer reading it: zeroing the dropped channels at those readers'
inputs (a forward pre-hook) computes exactly what the engine computes on
the narrowed tensors, while the weights stay full-size and shared by all
levels (the REDS fine-tuning trains them jointly).
"""

import copy

import numpy as np
import torch
from torch import nn

from reds import finetune as rfinetune


class Narrowed(nn.Module):
    """A traced network (torch.fx GraphModule) whose width level can be set:
    set_level(tuple over groups.narrow) or None for every channel."""

    def __init__(self, gm, groups):
        super().__init__()
        self.net, self.groups, self._masks = gm, groups, {}
        for s in groups.narrow:
            for target, _ in groups.spaces[s].readers:
                self.net.get_submodule(target).register_forward_pre_hook(self._hook(s))

    def _hook(self, space):
        def mask(_module, inputs):
            m = self._masks.get(space)
            if m is None:
                return None
            x = inputs[0]
            return (x * m.view(1, -1, *([1] * (x.dim() - 2))),) + tuple(inputs[1:])
        return mask

    def set_level(self, level):
        self._masks = {}
        if level is None:
            return
        for s, w in zip(self.groups.narrow, level):
            c = self.groups.spaces[s].channels
            if w < c:
                m = torch.zeros(c)
                m[:w] = 1.0
                self._masks[s] = m

    def forward(self, x):
        return self.net(x)

    def train(self, mode=True):
        """BatchNorm keeps its running statistics (eval) in training too: they
        are the deployed function's, shared by every level."""
        super().train(mode)
        for m in self.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
        return self


def forward(net, x, level):
    """reds.finetune.joint_fit's forward: the network at `level`."""
    net.set_level(tuple(level) if level is not None else None)
    return net(x)


def copy_net(net):
    """An independent copy (the hooks follow the copied modules)."""
    gm = copy.deepcopy(net.net)
    for m in gm.modules():
        m._forward_pre_hooks.clear()
    return Narrowed(gm, net.groups)


def _members(net, space):
    """(module, kind) of every module holding channels of `space`."""
    sp = net.groups.spaces[space]
    get = net.net.get_submodule
    return ([(get(t), "out") for t, _ in sp.producers]
            + [(get(t), "out") for t, _ in sp.channelwise]
            + [(get(t), "in") for t, _ in sp.readers])


def _tensors(module, kind):
    """(tensor, dim) pairs of a module along which a space's channels run."""
    out = []
    for name in ("weight", "bias", "running_mean", "running_var"):
        t = getattr(module, name, None)
        if isinstance(t, torch.Tensor) and t.dim() >= 1:
            if kind == "out":
                out.append((t, 0))
            elif name == "weight":
                out.append((t, 1))
    return out


def importance(net):
    """[np.array per narrow space]: Σ|w ⊙ g| over every weight tied to each
    channel (producers' filters, BatchNorm and depthwise filters, readers'
    input slices), after reds.importance.accumulated_gradients."""
    out = []
    for s in net.groups.narrow:
        imp = torch.zeros(net.groups.spaces[s].channels, dtype=torch.float64)
        seen = set()
        for module, kind in _members(net, s):
            for t, dim in _tensors(module, kind):
                if (id(t), dim) in seen or not isinstance(t, nn.Parameter) or t.grad is None:
                    continue
                seen.add((id(t), dim))
                v = (t * t.grad).abs().transpose(0, dim).reshape(t.shape[dim], -1).sum(1)
                imp += v.detach().double()
        out.append(imp.numpy())
    net.zero_grad(set_to_none=True)
    return out


def permute(net, perms):
    """Reorder every narrow space's channels by `perms` (in place)."""
    with torch.no_grad():
        for s, perm in zip(net.groups.narrow, perms):
            idx = torch.as_tensor(np.asarray(perm), dtype=torch.long)
            seen = set()
            for module, kind in _members(net, s):
                for t, dim in _tensors(module, kind):
                    # (a conv may read and write the same space: both dims)
                    if (id(t), dim) not in seen:
                        seen.add((id(t), dim))
                        t.copy_(t.index_select(dim, idx))
    return net


def fold_bn(net):
    """Every BatchNorm reading only a convolution's output folds into it
    (reds.finetune.fold_conv_bn; a conv bias is scaled first): the BN stays
    as scale 1 plus a shift, so the trained function is the deployed one."""
    gm = net.net
    with torch.no_grad():
        for n in gm.graph.nodes:
            if n.op != "call_module" or not isinstance(gm.get_submodule(n.target),
                                                       nn.BatchNorm2d):
                continue
            src = n.args[0]
            if not (src.op == "call_module" and len(src.users) == 1 and
                    isinstance(gm.get_submodule(src.target), nn.Conv2d)):
                continue
            conv, bn = gm.get_submodule(src.target), gm.get_submodule(n.target)
            if conv.bias is not None:
                conv.bias.mul_(bn.weight / torch.sqrt(bn.running_var + bn.eps))
            rfinetune.fold_conv_bn(conv, bn)
    return net
