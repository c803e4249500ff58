"""PyTorch module -> ONNX (opset 13), as the builder exports every graph.

nn.AdaptiveAvgPool2d / AdaptiveMaxPool2d to a size that does not divide
the input (a VGG-style (2, 2) head on a 7x7 map) have no ONNX form, and
PyTorch's exporter refuses them; here they are written as the custom node
dyce.AdaptivePool (output_size, mode), which the converter lowers to the
engine's adaptive_pool. Circular padding (F.pad(mode="circular"),
nn.Conv2d(padding_mode="circular")) is exported by PyTorch 1.13 with its
wrapped parts in the wrong places (onnxruntime agrees with the ONNX file,
not with PyTorch); while exporting it is written as slices and
concatenations, which export exactly. Every other case keeps PyTorch's own
export.
"""

import contextlib
import warnings

import torch
from torch.onnx import register_custom_op_symbolic, symbolic_helper, symbolic_opset9

from . import nets

OPSET = 13
DOMAIN = "dyce"


def _adaptive(mode):
    default = getattr(symbolic_opset9, f"adaptive_{mode}_pool2d")

    def symbolic(g, x, output_size):
        try:
            size = symbolic_helper._parse_arg(output_size, "is")
            dims = symbolic_helper._get_tensor_sizes(x)[2:]
        except Exception:  # a size only known at run time: PyTorch's refusal
            return default(g, x, output_size)
        if None in dims or all(d % s == 0 for d, s in zip(dims, size)):
            return default(g, x, output_size)
        y = g.op(f"{DOMAIN}::AdaptivePool", x, output_size_i=size, mode_s=mode)
        return (y, None) if mode == "max" else y   # max pools also give indices
    return symbolic


_registered = False


def _register():
    global _registered
    if not _registered:
        for mode in ("avg", "max"):
            register_custom_op_symbolic(f"aten::adaptive_{mode}_pool2d", _adaptive(mode), OPSET)
        _registered = True


def _circular(x, pad):
    """F.pad(x, pad, mode="circular"): each axis wrapped, last axis first."""
    for k in range(len(pad) // 2):
        dim, before, after = x.dim() - 1 - k, pad[2 * k], pad[2 * k + 1]
        n = x.shape[dim]
        if before < 0 or after < 0 or before > n or after > n:
            raise ValueError(f"circular padding {pad} of a {tuple(x.shape)} tensor")
        parts = [x.narrow(dim, n - before, before)] if before else []
        parts += [x] + ([x.narrow(dim, 0, after)] if after else [])
        x = torch.cat(parts, dim)
    return x


@contextlib.contextmanager
def _exact_circular_pad():
    pad = torch.nn.functional.pad

    def patched(x, padding, mode="constant", value=None):
        if mode == "circular":
            return _circular(x, list(padding))
        return pad(x, padding, mode, value) if value is not None else pad(x, padding, mode)
    torch.nn.functional.pad = patched
    try:
        yield
    finally:
        torch.nn.functional.pad = pad


def export_onnx(module, input_shape, path):
    _register()
    module.eval()
    with warnings.catch_warnings(), nets.ordinary_path(input_shape) as x, _exact_circular_pad():
        warnings.simplefilter("ignore")
        torch.onnx.export(module, x, path,
                          opset_version=OPSET, do_constant_folding=True,
                          input_names=["input"], output_names=["output"])
    # (no custom_opsets: given, it makes the exporter print a warning for
    # every graph without a dyce node; the domain is recorded at version 1
    # for the graphs that use it anyway)
