"""The records file (docs/FORMAT.md, "The records file"): encode, decode,
write with a read-back check, subsets, accuracies.

Version 1 stores labels and top-1 predictions as u8 (at most 255 classes);
version 2 as u16 (up to 65 535). `encode` writes version 1 whenever the
classes fit, so the Fashion-MNIST records stay byte-identical, and version
2 otherwise. A records dict holds names, macs, classes and splits, each
split a dict of name, index, label, top1 (graphs, n) and conf (graphs, n).
"""

import struct

import numpy as np
import torch

MAGIC = b"DYCERECS"
MAX_CLASSES = {1: 255, 2: 65535}


def softmax_top1(logits, probabilities=False):
    """(top-1 class, max softmax probability f32) per row of logits; with
    `probabilities`, the rows are probabilities already (as the engine
    takes a graph that ends in a softmax)."""
    probs = torch.as_tensor(logits)
    if not probabilities:
        probs = torch.softmax(probs, dim=1)
    conf, top1 = probs.max(dim=1)
    return top1.numpy().astype(np.int64), conf.numpy().astype(np.float32)


def version_for(classes):
    """1 when labels fit a byte, else 2; an error past 65 535."""
    for version, limit in MAX_CLASSES.items():
        if 2 <= classes <= limit:
            return version
    raise ValueError(f"{classes} classes: records hold 2 .. 65535")


def _class_dtype(version):
    return "u1" if version == 1 else "<u2"


def split_block(name, index, labels, preds):
    """One split of a records dict from per-graph (top1, conf) pairs."""
    return {"name": name, "index": np.asarray(index, np.uint32),
            "label": np.asarray(labels, np.int64),
            "top1": np.stack([p[0] for p in preds]),
            "conf": np.stack([p[1] for p in preds])}


def _padded(raw):
    return raw + b"\0" * (-len(raw) % 4)


def _string(text):
    raw = text.encode()
    return struct.pack("<I", len(raw)) + _padded(raw)


def encode(rec):
    """The records dict as bytes."""
    version = version_for(rec["classes"])
    cls = _class_dtype(version)
    out = [MAGIC, struct.pack("<4I", version, len(rec["names"]),
                              len(rec["splits"]), rec["classes"])]
    out += [_string(n) for n in rec["names"]]
    out.append(np.asarray(rec["macs"], "<u8").tobytes())
    for s in rec["splits"]:
        out += [_string(s["name"]), struct.pack("<I", len(s["label"])),
                s["index"].astype("<u4").tobytes(),
                _padded(np.asarray(s["label"]).astype(cls).tobytes())]
        for top1, conf in zip(s["top1"], s["conf"]):
            out += [_padded(np.asarray(top1).astype(cls).tobytes()),
                    conf.astype("<f4").tobytes()]
    return b"".join(out)


def subset(rec, graphs, splits):
    """The records of `graphs` (names) on `splits` (names) only."""
    pick = [rec["names"].index(g) for g in graphs]
    return {"names": list(graphs), "macs": [rec["macs"][i] for i in pick],
            "classes": rec["classes"],
            "splits": [dict(s, top1=s["top1"][pick], conf=s["conf"][pick])
                       for s in rec["splits"] if s["name"] in splits]}


class _Reader:
    """Sequential little-endian reads with bounds checks."""

    def __init__(self, raw):
        self.raw, self.pos = raw, 0

    def take(self, size, pad=False):
        end = self.pos + size
        if end > len(self.raw):
            raise ValueError(f"records truncated at byte {self.pos}")
        chunk = self.raw[self.pos:end]
        self.pos = end + (-size % 4 if pad else 0)
        return chunk

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def array(self, dtype, n, pad=False):
        dt = np.dtype(dtype)
        return np.frombuffer(self.take(dt.itemsize * n, pad), dt).copy()

    def string(self):
        return self.take(self.u32(), pad=True).decode()


def decode(raw):
    """Parse records bytes back into the dict of `collect`."""
    r = _Reader(raw)
    if r.take(8) != MAGIC:
        raise ValueError("not a records file (bad magic)")
    version, graphs, splits, classes = (r.u32() for _ in range(4))
    if version not in MAX_CLASSES:
        raise ValueError(f"records version {version}, expected 1 or 2")
    cls = _class_dtype(version)
    rec = {"names": [r.string() for _ in range(graphs)],
           "macs": r.array("<u8", graphs), "classes": classes, "splits": []}
    for _ in range(splits):
        name, n = r.string(), r.u32()
        s = {"name": name, "index": r.array("<u4", n),
             "label": r.array(cls, n, pad=True).astype(np.int64),
             "top1": [], "conf": []}
        for _ in range(graphs):
            s["top1"].append(r.array(cls, n, pad=True).astype(np.int64))
            s["conf"].append(r.array("<f4", n))
        s["top1"], s["conf"] = np.stack(s["top1"]), np.stack(s["conf"])
        rec["splits"].append(s)
    if r.pos != len(raw):
        raise ValueError(f"{len(raw) - r.pos} trailing bytes in the records")
    return rec


def read(path):
    """Read a .records file."""
    with open(path, "rb") as f:
        return decode(f.read())


def same(a, b):
    """True when two records dicts hold identical data."""
    if a["names"] != b["names"] or a["classes"] != b["classes"] \
            or not np.array_equal(a["macs"], b["macs"]) \
            or len(a["splits"]) != len(b["splits"]):
        return False
    return all(sa["name"] == sb["name"] and all(
        np.array_equal(sa[k], sb[k])
        for k in ("index", "label", "top1", "conf"))
        for sa, sb in zip(a["splits"], b["splits"]))


def write(path, rec):
    """Write the records file, read it back and check the round trip."""
    raw = encode(rec)
    with open(path, "wb") as f:
        f.write(raw)
    if not same(read(path), rec):
        raise RuntimeError(f"{path}: records do not read back identically")


def save_npz(path, rec):
    """The same records as a numpy archive (arrays keyed split/field)."""
    arrays = {"names": np.array(rec["names"]), "macs": rec["macs"]}
    for s in rec["splits"]:
        arrays.update({f"{s['name']}/{k}": s[k]
                       for k in ("index", "label", "top1", "conf")})
    np.savez_compressed(path, **arrays)


def accuracies(rec):
    """{split: {graph: top-1 accuracy}}."""
    return {s["name"]: {n: float((t == s["label"]).mean())
                        for n, t in zip(rec["names"], s["top1"])}
            for s in rec["splits"]}
