"""--backbone SPEC -> an nn.Module for the data's classes and channels.

`torchvision:NAME` builds torchvision's architecture with random weights,
`num_classes` set, and the first convolution rebuilt for the input's
channel count; for inputs under 96 pixels its stride becomes 1 (as CIFAR
versions of ImageNet networks do: a stride-2 stem would shrink a 28x28
image to 1x1 before the last stage), unless --keep-stem.
`FILE.py:FUNCTION` imports the file and calls FUNCTION(num_classes,
in_channels). `FILE.onnx` is a trained classifier exported to ONNX, run by
PyTorch operators with the file's weights, never trained (onnx_backbone.py).
Every way the module must map (1, C, H, W) to (1, K) logits,
checked here before any training.
"""

import collections
import copy
import functools
import importlib.util
import os
import re
import sys

import torch
from torch import nn

from .errors import BuildError

SMALL_INPUT = 96


def _first_conv(module):
    """(parent, attribute name, conv) of the first nn.Conv2d in module order."""
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            parent_name, _, attr = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            return parent, attr, m
    return None, None, None


def _adapt_stem(model, channels, small, keep_stem):
    parent, attr, conv = _first_conv(model)
    if conv is None:
        return model
    stride = conv.stride
    if small and not keep_stem:
        stride = (1, 1)
    if conv.in_channels == channels and stride == conv.stride:
        return model
    if conv.groups != 1:
        raise BuildError("the first convolution is grouped; cannot rebuild it "
                         f"for {channels} input channels")
    new = nn.Conv2d(channels, conv.out_channels, conv.kernel_size, stride,
                    conv.padding, conv.dilation, 1, conv.bias is not None,
                    conv.padding_mode)
    setattr(parent, attr, new)
    return model


def torchvision_backbone(name, num_classes, channels, size, keep_stem=False):
    import torchvision.models as tvm
    names = tvm.list_models(module=tvm)
    if name not in names:
        close = [n for n in names if name.split("_")[0] in n][:6]
        raise BuildError(f"torchvision has no classification model '{name}'"
                         + (f" (similar: {', '.join(close)})" if close else ""))
    try:
        model = tvm.get_model(name, weights=None, num_classes=num_classes)
    except TypeError as err:
        raise BuildError(f"torchvision:{name}: {err}") from None
    if hasattr(model, "aux_logits"):  # inception/googlenet: the main output only
        model.aux_logits = False
        for attr in ("AuxLogits", "aux1", "aux2"):
            if hasattr(model, attr):
                setattr(model, attr, None)
    return _adapt_stem(model, channels, min(size) < SMALL_INPUT, keep_stem)


def file_backbone(path, function, num_classes, channels):
    if not os.path.exists(path):
        raise BuildError(f"--backbone {path}:{function}: no such file")
    spec = importlib.util.spec_from_file_location(
        "dyce_user_" + os.path.splitext(os.path.basename(path))[0], path)
    module = importlib.util.module_from_spec(spec)
    # as `python FILE.py` would: modules beside the file import
    folder = os.path.dirname(os.path.abspath(path))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except Exception as err:
        raise BuildError(f"{path}: cannot import ({type(err).__name__}: {err})") from None
    fn = getattr(module, function, None)
    if not callable(fn):
        raise BuildError(f"{path} has no function '{function}'")
    try:
        model = fn(num_classes, channels)
    except Exception as err:
        raise BuildError(f"{path}:{function}({num_classes}, {channels}) "
                         f"failed: {type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise BuildError(f"{path}:{function} returned {type(model).__name__}, "
                         "not an nn.Module")
    explicit_padding(model)
    return model


def explicit_padding(model):
    """Convolutions with padding='same' / 'valid' get the equal numbers they
    stand for: PyTorch 1.13 cannot export string padding to ONNX
    ('aten::_convolution_mode'). 'same' with an odd total (an even kernel)
    pads one more at the end, which numbers cannot say: left as it is, the
    export then names the layer."""
    for m in model.modules():
        if not isinstance(m, nn.Conv2d) or not isinstance(m.padding, str):
            continue
        if m.padding == "valid":
            m.padding = (0, 0)
            continue
        total = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size)]
        if all(t % 2 == 0 for t in total) and m.stride == (1, 1):
            m.padding = tuple(t // 2 for t in total)


def split_spec(spec, option="--backbone"):
    """'torchvision:NAME', 'FILE.py:FUNCTION' or 'FILE.onnx' -> (kind, a, b);
    `option` names the option it came from in the error."""
    if spec.startswith("torchvision:"):
        return "torchvision", spec.split(":", 1)[1], None
    if spec.lower().endswith(".onnx"):
        return "onnx", spec, None
    path, sep, fn = spec.rpartition(":")
    if not sep or not path.endswith(".py") or not fn:
        raise BuildError(f"{option} {spec}: expected "
                         + ("torchvision:NAME, " if option == "--backbone" else "")
                         + "FILE.py:FUNCTION or FILE.onnx"
                         + ("" if option == "--backbone" else
                            " (several with commas; or auto or none alone)"))
    return "file", path, fn


def spec_files(spec):
    """The files `spec` is read from (a .py or .onnx file), for cache keys."""
    kind, a, _ = split_spec(spec)
    return [a] if kind in ("file", "onnx") and os.path.isfile(a) else []


def build(spec, num_classes, channels, size, keep_stem=False, log=None):
    """The backbone of `spec` for the data, its output checked."""
    kind, a, b = split_spec(spec)
    if kind == "torchvision":
        model = torchvision_backbone(a, num_classes, channels, size, keep_stem)
        conv = _first_conv(model)[2]
        if log and conv is not None and min(size) < SMALL_INPUT and not keep_stem:
            log(f"{spec}: its first convolution at stride {conv.stride[0]} for "
                f"{size[0]}x{size[1]} images (under {SMALL_INPUT} px; --keep-stem keeps "
                "torchvision's, as weights trained on the unchanged model need)")
    elif kind == "onnx":
        from . import onnx_backbone
        model = onnx_backbone.load(a, channels, size)
    else:
        model = file_backbone(a, b, num_classes, channels)
    check_output(model, num_classes, (1, channels) + tuple(size), spec, log)
    return model.eval()


def is_onnx(spec):
    """A backbone whose weights come with it (never trained)."""
    return split_spec(spec)[0] == "onnx"


def check_output(model, num_classes, input_shape, what, log=None):
    """The model gives (1, K) logits; one that returns them among other
    values (a tuple, list or dict holding exactly one (1, K) tensor, e.g.
    `return logits, features`) is changed to return them alone."""
    model.eval()
    try:
        with torch.no_grad():
            out = model(torch.zeros(input_shape))
    except Exception as err:
        # A network made for one input size (torchvision's ViT: "Wrong image
        # height! Expected 224 but got 28!") says which: say the option too.
        size = re.search(r"[Ee]xpected (\d+) but got %d\b" % input_shape[-2], str(err))
        raise BuildError(f"{what} cannot run on a {tuple(input_shape)} input: "
                         f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
                         + (f" (it takes {size[1]}x{size[1]} inputs: --size {size[1]})" if size else "")) from None
    key = _logits_key(out, num_classes)
    if key is None and (not isinstance(out, torch.Tensor) or tuple(out.shape) != (1, num_classes)):
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise BuildError(f"{what} outputs {shape} for a {tuple(input_shape)} "
                         f"input; expected (1, {num_classes}) logits, one per class"
                         + _output_hint(out, num_classes))
    train_key = _training_key(model, num_classes, input_shape, what, key)
    if key is not None or train_key is not None:
        _return_only(model, key, train_key)
    if key is not None and log:
        log(f"{what} returns {len(out)} value{'s' if len(out) != 1 else ''}; its output "
            f"[{key!r}], (1, {num_classes}), is taken as the logits")
    if train_key is not None and train_key != key and log:
        log(f"{what} returns several values in training mode (e.g. auxiliary logits); "
            f"its output [{train_key!r}] is trained as the logits")


def _training_key(model, num_classes, input_shape, what, eval_key=None):
    """Where the logits are when `model` trains: None for a tensor, else
    the index or key, in the tuple, list or dict it returns then (`if
    self.training: return logits, aux`), of the value the module that
    makes the eval-mode logits gives (forward hooks name each value's
    module); where no module makes them alone, the first value, as
    GoogLeNet and Inception put them, or a dict's 'logits' / 'out'. Run on
    a copy, so BatchNorm's running statistics stay as they were."""
    x = torch.randn((2,) + tuple(input_shape[1:]), generator=torch.Generator().manual_seed(0))
    try:
        probe = copy.deepcopy(model)   # (a module that cannot be copied is not probed)
        with torch.no_grad():
            out, made_by = _with_producers(probe.eval(), x)
            logits = out if eval_key is None else out[eval_key]
            maker = made_by.get(id(logits))
            out, made_by = _with_producers(probe.train(), x)
    except Exception:   # a failure only in training mode shows when it trains
        return None
    if isinstance(out, torch.Tensor):
        return None
    items = (list(enumerate(out)) if isinstance(out, (tuple, list))
             else list(out.items()) if isinstance(out, dict) else [])
    same = [k for k, v in items if maker is not None and made_by.get(id(v)) == maker]
    usual = [k for k, _ in items[:1]] if isinstance(out, (tuple, list)) else \
        [k for k in ("logits", "out") if isinstance(out, dict) and k in out][:1]
    key = (same or usual or [None])[0]
    if key is None or not isinstance(out[key], torch.Tensor) or tuple(out[key].shape) != (2, num_classes):
        raise BuildError(f"{what} returns {type(out).__name__} in training mode, without "
                         f"(N, {num_classes}) logits from the module that makes them in eval "
                         "mode, first, or under 'logits' / 'out': return the logits alone, or "
                         "first, when self.training")
    return key


def _with_producers(model, x):
    """model(x), and {id(value): name of the module that returned it}."""
    made_by = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, n=n: made_by.__setitem__(id(out), n))
             for n, m in model.named_modules() if n]
    try:
        return model(x), made_by
    finally:
        for h in hooks:
            h.remove()


def _logits_key(out, num_classes):
    """The index or key of the one (1, K) tensor in a tuple, list or dict."""
    items = (enumerate(out) if isinstance(out, (tuple, list))
             else out.items() if isinstance(out, dict) else ())
    keys = [k for k, v in items
            if isinstance(v, torch.Tensor) and tuple(v.shape) == (1, num_classes)]
    return keys[0] if len(keys) == 1 else None


def _return_only(model, key, train_key=None):
    """Make `model` return output[key] (output[train_key] while training;
    a None key: the output as it is): its class becomes a subclass whose
    forward picks it, so parameter names and torch.fx node names stay the
    user's (a wrapper module would prefix them)."""
    cls = type(model)

    @functools.wraps(cls.forward)  # torch.fx reads the user's signature
    def forward(self, *args, **kwargs):
        out = cls.forward(self, *args, **kwargs)
        pick = train_key if self.training else key
        return out if pick is None else out[pick]
    model.__class__ = type(cls.__name__, (cls,), {"forward": forward})


def _output_hint(out, num_classes):
    """What usually causes a wrong output, where it is recognisable."""
    if isinstance(out, (tuple, list, dict)):
        return (f" (it returns {len(out)} values, and not exactly one of them is "
                f"(1, {num_classes}): return the logits alone, e.g. from a wrapper module)")
    if isinstance(out, torch.Tensor) and tuple(out.shape) == (num_classes,):
        return (" (the batch dimension is gone: a .squeeze() drops it for one "
                "image; use .flatten(1))")
    if isinstance(out, torch.Tensor) and out.dim() == 2 and out.shape[1] > num_classes:
        return (f" (a model of {out.shape[1]} classes: if the data holds only some of "
                f"them, --labels FILE names all {out.shape[1]} in the model's order)")
    return ""


# Where training scripts keep the weights inside a checkpoint dict.
_CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "weights")


def _state_dict_of(state, path):
    """The state dict in what torch.load gave: a state dict, a whole
    module, or a checkpoint dict holding one (under the usual keys); keys
    of a DataParallel / DistributedDataParallel model lose 'module.'."""
    if isinstance(state, nn.Module):
        state = state.state_dict()
    # A checkpoint may hold tensors beside its state dict (PyTorch's
    # ImageNet example saves best_acc1 as one): its keys decide first.
    inner = (next((state[k] for k in _CHECKPOINT_KEYS if isinstance(state.get(k), (dict, nn.Module))), None)
             if isinstance(state, dict) else None)
    if inner is not None:
        state = inner.state_dict() if isinstance(inner, nn.Module) else inner
    elif isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
        raise BuildError(f"--weights {path}: a dict without tensors or a state dict "
                         f"under {', '.join(_CHECKPOINT_KEYS)} (keys: "
                         f"{', '.join(map(str, list(state)[:8]))})")
    if not isinstance(state, dict):
        raise BuildError(f"--weights {path}: holds {type(state).__name__}, not a state dict")
    # DataParallel / DistributedDataParallel ('module.') and torch.compile
    # ('_orig_mod.') wrap the model's own names.
    for prefix in ("module.", "_orig_mod.", "module."):
        if state and all(str(k).startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _read_state(path, option):
    if not os.path.exists(path):
        raise BuildError(f"{option} {path}: no such file")
    try:
        state = torch.load(path, map_location="cpu")
    except Exception as err:
        hint = ("; a whole model pickled by a script can only be read with its class "
                "where it was defined: save model.state_dict() instead"
                if "Can't get attribute" in str(err) else "")
        raise BuildError(f"{option} {path}: cannot read ({err}){hint}") from None
    return _state_dict_of(state, path)


def _other_channels(w, channels):
    """A first convolution's weight (O, C', kh, kw) for `channels` inputs:
    summed over C' for one channel (a gray image is R = G = B: the same
    response); else C' repeated up to `channels` and scaled by
    C' / channels (the same response to a gray image when `channels` is a
    multiple of C', as 1 -> 3)."""
    if channels == 1:
        return w.sum(1, keepdim=True)
    times = -(-channels // w.shape[1])
    return w.repeat(1, times, 1, 1)[:, :channels] * (w.shape[1] / channels)


def with_metadata(state, model):
    """`state` as an OrderedDict carrying module versions (_metadata): its
    own, else `model`'s. A dict built anew (names stripped of 'module.',
    tensors cloned, --init's fitting ones) has none, and modules that check
    their version on load refuse it (torchvision's MnasNet: "version
    should be set to 1 or 2 instead of None")."""
    out = collections.OrderedDict(state)
    meta = getattr(state, "_metadata", None)
    out._metadata = meta if meta is not None else getattr(model.state_dict(), "_metadata", None)
    return out


def init_weights(model, path):
    """--init: the tensors of `path` whose names and shapes fit, a first
    convolution's adapted to the input channels (_other_channels); the
    rest (a classifier for another class count) keeps its fresh values.
    Returns (loaded, adapted, fresh) tensor names."""
    state, own = _read_state(path, "--init"), model.state_dict()
    loaded, adapted, fresh, new = [], [], [], {}
    for k, v in own.items():
        w = state.get(k)
        if isinstance(w, torch.Tensor) and w.shape == v.shape:
            new[k] = w
            loaded.append(k)
        elif isinstance(w, torch.Tensor) and w.dim() == v.dim() == 4 and \
                w.shape[0] == v.shape[0] and w.shape[2:] == v.shape[2:]:
            new[k] = _other_channels(w, v.shape[1]).to(v.dtype)
            adapted.append(k)
        else:
            fresh.append(k)
    if not loaded:
        raise BuildError(f"--init {path}: no tensor fits the backbone (its names: "
                         f"{', '.join(list(state)[:3])}…; the backbone's: "
                         f"{', '.join(list(own)[:3])}…)")
    model.load_state_dict(with_metadata(new, model), strict=False)
    return loaded, adapted, fresh


def load_weights(model, path):
    state = _read_state(path, "--weights")
    try:
        model.load_state_dict(with_metadata(state, model))
    except RuntimeError as err:
        raise BuildError(f"--weights {path} does not fit the backbone: "
                         f"{_misfit(model.state_dict(), state, err)}") from None
    return model.eval()


def _misfit(own, state, err):
    """Why `state` does not load into a module whose state dict is `own`:
    the names missing and the names unexpected (a few of each), with the
    prefix that tells them apart when there is one ('net.' before every
    name), else PyTorch's first line (a shape that differs)."""
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if not missing and not unexpected:
        lines = str(err).splitlines()
        first = (lines[1:2] or lines or [""])[0].strip()
        # The classifier's shape: weights trained for another class count.
        last = next((k for k in reversed(list(own)) if k.endswith(".weight")), None)
        if last in state and tuple(state[last].shape[:1]) != tuple(own[last].shape[:1]):
            first += (f" (its last layer, {last}, has {state[last].shape[0]} outputs and the data "
                      f"{own[last].shape[0]} classes: --labels, or --init to train a new head)")
        return first
    few = lambda names: ", ".join(names[:3]) + (", …" if len(names) > 3 else "")
    parts = ([f"{len(missing)} of its tensors missing ({few(missing)})"] if missing else []) + \
        ([f"{len(unexpected)} names the backbone lacks ({few(unexpected)})"] if unexpected else [])
    heads = {u[:len(u) - len(m)] for u in unexpected for m in missing
             if u.endswith("." + m)}
    if len(heads) == 1 and len(missing) == len(unexpected):
        parts.append(f"the file's names carry a prefix '{heads.pop()}': strip it")
    return "; ".join(parts)
