"""The WGHT section of a `.dyce` package as dyce_format writes it: blocks of
float32, float16 (weight-only fp16) or int8 values (docs/FORMAT.md,
docs/INT8.md), each starting on a 16-byte boundary."""

import numpy as np

ALIGN = 16


def _align(n, a=ALIGN):
    return (n + a - 1) // a * a


class WeightSection:
    """The WGHT section: blocks each starting on a 16-byte boundary; offsets
    count 4-byte words from the section start."""

    def __init__(self):
        self.blocks = []
        self.count = 0          # words

    def _append(self, raw):
        offset = self.count
        padded = _align(len(raw))
        self.blocks.append(raw + bytes(padded - len(raw)))
        self.count += padded // 4
        return offset

    def add(self, array):
        """Append a float32 block; returns (offset in floats, count) or (0, 0)."""
        if array is None:
            return 0, 0
        flat = np.ascontiguousarray(array, dtype="<f4").ravel()
        if not np.all(np.isfinite(flat)):
            raise ValueError("non-finite weight")
        return self._append(flat.tobytes()), flat.size

    def add_f16(self, array):
        """Append a float16 block (weight-only fp16, version 2); returns
        (offset in words, count in halves) or (0, 0)."""
        if array is None:
            return 0, 0
        flat = np.ascontiguousarray(array, dtype="<f2").ravel()
        if not np.all(np.isfinite(flat)):
            raise ValueError("weight does not fit float16 (|x| > 65504)")
        return self._append(flat.tobytes()), flat.size

    def add_int8(self, array):
        """Append int8 values (-127..127); returns (offset in words, count
        in bytes)."""
        flat = np.ascontiguousarray(array).ravel()
        if flat.size == 0 or flat.min() < -127 or flat.max() > 127:
            raise ValueError("int8 weights must be -127..127")
        return self._append(flat.astype("i1").tobytes()), flat.size

    def add_int8_bias(self, bias, wscale):
        """int32 bias[Cout] then f32 wscale[Cout]: (offset, 2 * Cout words)."""
        wscale = np.ascontiguousarray(wscale, "<f4").ravel()
        if not (np.all(np.isfinite(wscale)) and np.all(wscale > 0)):
            raise ValueError("weight scales must be finite and > 0")
        if bias is None:
            bias = np.zeros(wscale.size, np.int64)
        bias = np.asarray(bias).ravel()
        if bias.size != wscale.size or np.abs(bias).max(initial=0) > 2**31 - 1:
            raise ValueError("int8 bias: Cout int32 values expected")
        raw = bias.astype("<i4").tobytes() + wscale.tobytes()
        return self._append(raw), 2 * wscale.size

    def tobytes(self):
        return b"".join(self.blocks)
