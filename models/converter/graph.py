"""One ONNX model -> one dyce_format.Graph: checks of the model's input and
opset, lowering node by node, the rewrites, then numbering the tensors and
checking every op against what the engine's loader accepts."""

import dataclasses
import os

import numpy as np
import onnx

import dyce_format as fmt
from dyce_codes import P_COUNT_PAD, P_KH, P_KW

from . import attention, channels, fusion, moves, norms, rewrite
from .common import (MAX_CHANNELS, MAX_DIM, MAX_ELEMENTS, MAX_KERNEL, MAX_OPSET,
                     MAX_RECORDS, MIN_OPSET, ConvertError, where)
from .lowering import lower_node
from .shapes import nhwc
from .state import Lowering


def _check_shape(where, shape):
    """A dyce NHWC shape (1, H, W, C) within the loader's limits."""
    _, h, w, c = shape
    if max(h, w) > MAX_DIM or c > MAX_CHANNELS or int(np.prod(shape)) > MAX_ELEMENTS:
        raise ConvertError(f"{where}: shape {tuple(shape)} exceeds the dyce limits "
                           f"(height, width <= {MAX_DIM}, channels <= 2^24, "
                           "<= 2^28 elements)")


def _check_pool_padding(op):
    """A max pool or a count_include_pad=0 average pool needs a real cell in
    every window (else no max / a zero divisor): padding < kernel ensures it."""
    padding_counts = op.op == "avg_pool" and op.params[P_COUNT_PAD]
    if op.op == "conv2d" or padding_counts:
        return
    kh, kw = op.params[P_KH], op.params[P_KW]
    pt, pl, pb, pr = op.params[fmt.PADS]
    if max(pt, pb) >= kh or max(pl, pr) >= kw:
        raise ConvertError(f"{op.origin}: padding {[pt, pl, pb, pr]} must be "
                           f"smaller than the kernel {kh}x{kw}")


def _check_op(op, lw):
    """Parameters, weights and result shape within what the loader accepts."""
    if op.op in ("conv2d", "max_pool", "avg_pool"):
        windows = op.params[fmt.WINDOW] + (op.params[fmt.DILATION]
                                           if op.op == "conv2d" else [])
        if not all(1 <= v <= MAX_KERNEL for v in windows):
            raise ConvertError(f"{op.origin}: kernel / stride / dilation "
                               f"{windows} outside 1..{MAX_KERNEL}")
        if max(op.params[fmt.PADS]) > MAX_KERNEL:
            raise ConvertError(f"{op.origin}: padding {op.params[fmt.PADS]} "
                               f"exceeds {MAX_KERNEL}")
        _check_pool_padding(op)
    values = [np.float32(op.act_a), np.float32(op.act_b)] + [
        np.asarray(w, np.float32) for w in (op.weight, op.bias) if w is not None]
    if not all(np.all(np.isfinite(v)) for v in values):
        raise ConvertError(f"{op.origin}: non-finite weight or parameter")
    _check_shape(op.origin, lw.dyce_shape(op.output))


def _to_graph(name, lw, inp, out, ops):
    """Number the tensors and turn _Ops into a dyce_format.Graph."""
    index = {inp: 0}
    for op in ops:
        index[op.output] = len(index)
    shapes = [lw.dyce_shape(t) for t in index]
    _check_shape(f"graph '{name}' input", shapes[0])
    if len(index) > MAX_RECORDS or len(ops) > MAX_RECORDS:
        raise ConvertError(f"graph '{name}': {len(index)} tensors / {len(ops)}"
                           f" nodes exceed the limit {MAX_RECORDS}")
    nodes = []
    for op in ops:
        _check_op(op, lw)
        nodes.append(dataclasses.replace(
            op, inputs=[index[t] for t in op.inputs], output=index[op.output],
            weight=None if op.weight is None else np.asarray(op.weight, np.float32),
            bias=None if op.bias is None else np.asarray(op.bias, np.float32)))
    return fmt.Graph(name, fmt.NONE, shapes, nodes, 0, index[out])


def _input_dims(name, dims, sizes):
    """The input's static shape: a symbolic batch (torch.onnx.export's
    dynamic_axes={'input': {0: 'batch'}}) is 1, symbolic H and W are
    `sizes` (convert.py --size); any other unknown size is refused."""
    shape = []
    for i, d in enumerate(dims):
        if d.HasField("dim_value") and d.dim_value > 0:
            shape.append(d.dim_value)
            continue
        if d.HasField("dim_value"):   # 0: not symbolic, empty
            raise ConvertError(f"input '{name}' has a size of 0 at axis {i} "
                               f"({tuple(x.dim_value for x in dims)}): an empty tensor")
        if i == 0:
            shape.append(1)
        elif sizes and len(dims) == 4 and i in (2, 3):
            shape.append(int(sizes[i - 2]))
        else:
            shown = tuple(d.dim_param or "?" if not d.HasField("dim_value") else d.dim_value
                          for d in dims)
            raise ConvertError(
                f"input '{name}' has symbolic sizes {shown}: the batch is taken as 1, "
                + ("give the height and width with --size H,W"
                   if len(dims) == 4 and i in (2, 3) else "the others must be fixed"))
    if sizes and len(shape) == 4 and tuple(shape[2:]) != tuple(int(v) for v in sizes):
        # --size names the sizes of symbolic axes; fixed ones cannot change
        raise ConvertError(f"--size {int(sizes[0])},{int(sizes[1])}: input '{name}' is fixed at "
                           f"{shape[2]}x{shape[3]} (exported without dynamic height and width); "
                           "leave --size out, or export with dynamic axes")
    return tuple(shape)


def _graph_input(graph, initializers, sizes=None):
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1:
        raise ConvertError(f"the model has {len(inputs)} non-constant inputs, "
                           "expected 1")
    tensor_type = inputs[0].type.tensor_type
    dims = tensor_type.shape.dim
    if tensor_type.elem_type != onnx.TensorProto.FLOAT:
        raise ConvertError(f"input '{inputs[0].name}' is not float32")
    if not dims:
        raise ConvertError(f"input '{inputs[0].name}' has an unknown shape; "
                           "export with fixed sizes")
    shape = _input_dims(inputs[0].name, dims, sizes)
    if nhwc(shape) is None:
        raise ConvertError(f"input '{inputs[0].name}' shape {shape} is not "
                           "(1, C, H, W): dyce takes one image (a batch of 1; export "
                           "with a batch of 1 or a dynamic batch axis)")
    return inputs[0].name, shape


def _maker(graph, name):
    """The ONNX node whose output is `name` (or the last one)."""
    return next((n for n in graph.node if name in n.output), graph.node[-1])


def _keep_old_resizes(old, new, asymmetric):
    """The upgraded model with its nodes' own names back (the version
    converter renames some, so refusals named nodes the file does not
    have), and Upsample (opsets 7-9) and opset-10 Resize kept to what they
    computed (`asymmetric`: the file's opset is below 11, where Resize had
    no coordinate modes): asymmetric coordinates, nearest rounding down;
    the converter writes opset 11's default (half_pixel) instead."""
    names = {tuple(n.output): n.name for n in old.graph.node}
    # an upgraded Upsample gets a new output name: known by what it reads
    resized = {n.input[0]: n.name for n in old.graph.node if n.op_type in ("Upsample", "Resize")}
    for n in new.graph.node:
        n.name = names.get(tuple(n.output), n.name)
        if n.op_type == "Resize" and n.input and n.input[0] in resized:
            n.name = n.name or resized[n.input[0]]
            if not asymmetric:
                continue
            for a in list(n.attribute):
                if a.name in ("coordinate_transformation_mode", "nearest_mode"):
                    n.attribute.remove(a)
            n.attribute.extend([onnx.helper.make_attribute("coordinate_transformation_mode",
                                                           "asymmetric"),
                                onnx.helper.make_attribute("nearest_mode", "floor")])
    return new


def _supported_opset(model):
    """The model at an opset the converter reads: opsets 7..12 (common
    exports, torch.onnx's default was 11 for years) upgraded to 13 by ONNX's
    own version converter, as a user would have to; newer than 17, or an
    upgrade that fails, refused."""
    for imp in model.opset_import:
        if imp.domain not in ("", "ai.onnx") or MIN_OPSET <= imp.version <= MAX_OPSET:
            continue
        if 7 <= imp.version < MIN_OPSET:
            from onnx import shape_inference, version_converter
            try:
                # Shapes first: the Softmax adapter (its axis meant another
                # thing before 13) needs its input's.
                upgraded = version_converter.convert_version(shape_inference.infer_shapes(model),
                                                             MIN_OPSET)
                # Resize has its coordinate modes from opset 11 on: only older
                # ones are asymmetric (opset 11's own Resize says what it is)
                return _keep_old_resizes(model, upgraded, asymmetric=imp.version < 11)
            except Exception as err:   # onnx raises RuntimeError, ValueError, its own
                raise ConvertError(f"opset {imp.version} could not be upgraded to {MIN_OPSET} "
                                   f"by onnx.version_converter ({type(err).__name__}: "
                                   f"{str(err).strip().splitlines()[0] if str(err).strip() else ''}); "
                                   f"export at opset {MIN_OPSET}..{MAX_OPSET}") from None
        raise ConvertError(f"opset {imp.version} is not supported "
                           f"(need {MIN_OPSET}..{MAX_OPSET}; 7..{MIN_OPSET - 1} are upgraded)")
    return model


def _load(path):
    """onnx.load, with the ways a file is not an ONNX model said in one line."""
    if os.path.isfile(path) and os.path.getsize(path) == 0:
        raise ConvertError("an empty file, not an ONNX model")
    import warnings
    from google.protobuf.message import DecodeError
    try:
        with warnings.catch_warnings():   # protobuf's own RuntimeWarning lines
            warnings.simplefilter("ignore")
            model = onnx.load(path)
    except DecodeError as err:
        raise ConvertError(f"not an ONNX model, or a truncated one (protobuf: {err})") from None
    if not model.graph.node and not model.graph.input:
        raise ConvertError("not an ONNX model (it holds no graph)")
    return model


def _check_wiring(graph):
    """Every node reads what the graph input, an initializer or an earlier
    node gives (ONNX orders its nodes so): a file that does not is named
    as such, not taken for a converter bug."""
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    for node in graph.node:
        for name in node.input:
            if name not in known:
                later = any(name in n.output for n in graph.node)
                raise ConvertError(
                    f"node '{node.name}' ({node.op_type}) reads '{name}', which "
                    + ("a later node makes (the nodes are not in order, or form a cycle)"
                       if later else "no node, initializer or graph input makes")
                    + ": the file is not a valid ONNX graph (onnx.checker.check_model says more)")
        known.update(node.output)


def _channels_last_input(graph, inp, shape):
    """An image input (1, H, W, C), C <= 4, that the graph only transposes
    to (1, C, H, W) first (models from TensorFlow / Keras through tf2onnx,
    or a PyTorch forward starting with x.permute(0, 3, 1, 2)): the same
    bytes as dyce's NHWC input."""
    readers = [n for n in graph.node if inp in n.input]
    return len(shape) == 4 and shape[3] <= 4 < min(shape[1], shape[2]) and bool(readers) \
        and all(n.op_type == "Transpose" and list(rewrite.attr(n, "perm", [])) == [0, 3, 1, 2]
                for n in readers)


# Errors of the converter's own code (a form nobody foresaw), not of the model
UNFORESEEN = (ArithmeticError, LookupError, TypeError, ValueError, AttributeError)


def convert_graph(model, name="main", sequence_input=None, sizes=None):
    """One ONNX model (ModelProto or path) -> (dyce_format.Graph, ONNX input
    shape). The Graph's source is NONE; convert_graphs sets it.
    sequence_input(shape): whether a (1, A, B) input is a token sequence
    (1, L, D), laid out as one row of L positions (attention.py), rather
    than channel-major (1, C, L); or a (1, H, W, C) input a channels-last
    map (a Swin stage's output), rather than (1, C, H, W). sizes: (H, W)
    for an input exported with symbolic height and width."""
    if not isinstance(model, onnx.ModelProto):
        model = _load(os.fspath(model))
    model = _supported_opset(model)
    graph = model.graph
    _check_wiring(graph)
    try:
        lw = Lowering(graph)
    except ValueError as err:   # numpy_helper on an initializer whose bytes do not fit
        raise ConvertError(f"an initializer's data does not fit its shape ({err}): the "
                           "file is damaged (truncated, or its external .data file is)") from None
    inp, in_shape = _graph_input(graph, lw.consts, sizes)
    lw.shapes[inp] = in_shape
    if len(in_shape) in (3, 4) and sequence_input and sequence_input(in_shape):
        lw.last.add(inp)
        lw.layout[inp] = (1,) * (5 - len(in_shape)) + tuple(in_shape[1:])
    elif sequence_input is None and _channels_last_input(graph, inp, in_shape):
        lw.last.add(inp)
        lw.layout[inp] = tuple(in_shape)
        in_shape = (1, in_shape[3], in_shape[1], in_shape[2])   # the package's image
    if len(graph.output) != 1:
        raise ConvertError(f"the model has {len(graph.output)} outputs, "
                           "expected 1")
    for node in rewrite.apply(graph, norms.MATCHERS + channels.MATCHERS):
        try:
            lower_node(lw, node)
        except ConvertError:
            raise
        except UNFORESEEN as err:
            # A form the lowering did not foresee: one line naming the node,
            # not a traceback (the cause stays chained for a bug report).
            raise ConvertError(f"{where(node)}: the converter failed on it "
                               f"({type(err).__name__}: {err}); this is a converter "
                               "bug, please report it with the model") from err
    try:
        return _finish(name, graph, lw, inp, in_shape)
    except UNFORESEEN as err:
        raise ConvertError(f"the converter failed finishing the graph ({type(err).__name__}: "
                           f"{err}); this is a converter bug, please report it with the "
                           "model") from err


def _finish(name, graph, lw, inp, in_shape):
    """The lowered graph's output made real, pruned, fused and numbered."""
    if graph.output[0].name in lw.moves:
        moves.pick(lw, _maker(graph, graph.output[0].name), graph.output[0].name)
    out = lw.resolve(graph.output[0].name)
    if graph.output[0].name not in lw.shapes or out == inp:
        raise ConvertError(f"output '{graph.output[0].name}' is not computed "
                           "from the input by any supported node")
    if attention.is_seq(lw, graph.output[0].name):
        # (an alias when the tokens are one row already: the tensor behind it)
        out = lw.resolve(attention.sequence_output(lw, _maker(graph, out), graph.output[0].name))
    ops = fusion.prune(lw.ops, out)
    for step in fusion.REWRITES:
        step(ops, out)
    graph_out = _to_graph(name, lw, inp, out, ops)
    graph_out.output_channels_last = len(lw.shape(out)) == 4 and (
        graph.output[0].name in lw.last or out in lw.last)
    return graph_out, in_shape
