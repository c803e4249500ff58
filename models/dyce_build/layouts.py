"""Which 4-D tensors of a traced backbone are channels-first maps
(N, C, H, W), which channels-last ones (N, H, W, C), and which neither.

Swin (torchvision's and most written after it) permutes its patch
embedding to (N, H, W, C) and keeps every block's output so; an exit there
must pool over H and W (axes 1, 2), not over axes 2, 3, and the converter
must take the stage's output as a channels-last map. MaxViT regroups its
maps into windows (N, windows, tokens, C) between its blocks: no exit can
read those. The layout is followed through the torch.fx graph:

- the input, a convolution, batch norm or pooling module: channels-first;
- a permute or transpose: (0, 2, 3, 1) of a channels-first map makes it
  channels-last, (0, 3, 1, 2) of a channels-last one channels-first again,
  any other regrouping (a reshape, a view, swapaxes) makes it neither —
  until a reshape gives back the shape of the map the regrouping started
  from (ShuffleNet's channel shuffle, MaxViT's window departition), which
  restores that map's layout;
- every other node keeps the layout of its first input that has one
  (LayerNorm, Linear, additions, functions torch.fx keeps whole such as
  torchvision's shifted_window_attention, blocks kept whole)."""

from torch import nn

FIRST, LAST = "first", "last"
TO_LAST, TO_FIRST = (0, 2, 3, 1), (0, 3, 1, 2)
FIRST_MODULES = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d,
                 nn.AdaptiveMaxPool2d, nn.GroupNorm, nn.InstanceNorm2d)
REGROUPS = {"view", "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "swapaxes",
            "transpose", "permute", "movedim", "swapdims"}


def _name(node):
    return node.target if node.op == "call_method" else getattr(node.target, "__name__", "")


def _permutation(node, module):
    """The dims of a 4-D permute, or None."""
    if node.op == "call_module" and type(module).__name__ == "Permute":
        dims = tuple(getattr(module, "dims", ()))          # torchvision.ops.misc.Permute
    elif _name(node) == "permute" and node.op in ("call_method", "call_function"):
        dims = node.args[1:] if len(node.args) > 2 else node.args[1] if len(node.args) > 1 \
            else node.kwargs.get("dims", ())
    else:
        return None
    dims = tuple(dims)
    return tuple(d % 4 for d in dims) if len(dims) == 4 and all(
        isinstance(d, int) for d in dims) else None


def follow(gm, order, shapes):
    """{node: FIRST, LAST or None} for every node; shapes: node -> output
    shape (tuple) where known. A regrouped tensor remembers (layout, shape)
    of the map it came from, to be restored by a reshape back."""
    layout, origin = {}, {}
    for node in order:
        module = gm.get_submodule(node.target) if node.op == "call_module" else None
        inputs = list(node.all_input_nodes)
        first = inputs[0] if inputs else None
        shape = tuple(shapes.get(node) or ())
        dims = _permutation(node, module)
        if node.op == "placeholder" or isinstance(module, FIRST_MODULES):
            layout[node] = FIRST
        elif dims is not None and first is not None:
            was = layout.get(first)
            layout[node] = (LAST if (was, dims) == (FIRST, TO_LAST) else
                            FIRST if (was, dims) == (LAST, TO_FIRST) else
                            was if dims == (0, 1, 2, 3) else None)
            if layout[node] is None:
                origin[node] = origin.get(first) or (was, tuple(shapes.get(first) or ()))
        elif node.op in ("call_method", "call_function") and _name(node) in REGROUPS \
                and first is not None:
            before = tuple(shapes.get(first) or ())
            start = origin.get(first) or (layout.get(first), before)
            if shape == before and first in layout:
                layout[node] = layout[first]
                if first in origin:
                    origin[node] = origin[first]
            elif len(shape) == 4 and start[0] is not None and shape == start[1]:
                layout[node] = start[0]                      # the map regrouped back
            else:
                layout[node], origin[node] = None, start
        else:
            known = next((layout[a] for a in inputs if layout.get(a) is not None), None)
            layout[node] = known
            if known is None and first is not None and first in origin:
                origin[node] = origin[first]
    return layout
