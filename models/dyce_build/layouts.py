"""Which 4-D tensors of a traced backbone are channels-last (N, H, W, C).

Swin (torchvision's and most written after it) permutes its patch
embedding to (N, H, W, C) and keeps every block's output so; an exit there
must pool over H and W (axes 1, 2), not over axes 2, 3, and the converter
must take the stage's output as a channels-last map. The layout is followed
through the torch.fx graph: a permute (0, 2, 3, 1) makes a tensor
channels-last, (0, 3, 1, 2) makes it channels-first again, a convolution,
batch norm or pooling module gives channels-first, and every other node
keeps the layout of its first tensor argument (LayerNorm, Linear, the
blocks' additions, functions torch.fx keeps whole such as torchvision's
shifted_window_attention)."""

from torch import fx, nn

TO_LAST, TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)
FIRST = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
         nn.AdaptiveMaxPool2d, nn.GroupNorm, nn.InstanceNorm2d)


def _dims(node, module):
    """The permutation a node applies, or None when it is not a permute."""
    if node.op == "call_module" and type(module).__name__ == "Permute":
        return tuple(getattr(module, "dims", ()))      # torchvision.ops.misc.Permute
    if (node.op == "call_method" and node.target == "permute") or (
            node.op == "call_function" and getattr(node.target, "__name__", "") == "permute"):
        dims = node.args[1:] if len(node.args) > 2 else node.args[1] if len(node.args) > 1 \
            else node.kwargs.get("dims", ())
        return tuple(d for d in dims) if all(isinstance(d, int) for d in dims) else None
    return None


def channels_last(gm: fx.GraphModule, order):
    """{node: True when its output is a channels-last map}."""
    last = {}
    for node in order:
        module = gm.get_submodule(node.target) if node.op == "call_module" else None
        dims = _dims(node, module)
        if dims is not None and len(dims) == 4:
            last[node] = {TO_LAST: True, TO_FIRST: False}.get(
                tuple(d % 4 for d in dims), False)
        elif isinstance(module, FIRST):
            last[node] = False
        else:
            first = next((a for a in node.all_input_nodes), None)
            last[node] = last.get(first, False)
    return last
