"""What every stage of the converter shares: the limits the engine's loader
enforces, the error type, and the node under construction."""

from dataclasses import dataclass

import numpy as np

import dyce_format as fmt

MIN_OPSET, MAX_OPSET = 13, 17
MAX_DIM = 65535
MAX_ELEMENTS = 2 ** 28
MAX_CHANNELS = 2 ** 24
MAX_KERNEL = 1024        # also the limit of strides, dilations and padding
MAX_RECORDS = 65536      # tensors or nodes per graph
MAX_FILE_BYTES = 2 ** 30
FLOAT_MAX = float(np.finfo(np.float32).max)


class ConvertError(Exception):
    """A model that dyce cannot represent; the message says where and why."""


def where(node):
    return f"node '{node.name or node.output[0]}' ({node.op_type})"


def fail(node, reason):
    raise ConvertError(f"{where(node)}: {reason}")


@dataclass
class Op(fmt.Node):
    """A dyce node under construction: tensors are names, not indices yet."""
    origin: str = ""     # the ONNX node it came from, for error messages
