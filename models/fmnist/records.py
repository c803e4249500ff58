"""The records file (docs/FORMAT.md, "records file"): compute, write, read.

Graph order: saver0, saver1, saver2, exit1_a, exit1_b, …, exit8_a, exit8_b,
head (nets.logit_specs). Split order: train, val, test. Predictions are
PyTorch's, float32, eval mode, un-augmented inputs: savers run on the
normalised images; exits and the head run their MLP on the backbone's cached
pooled stage outputs (the same computation as GAP + MLP on the stage output).
"""

import struct

import numpy as np
import torch

from . import exits as fexits
from . import nets
from .fit import predict

MAGIC = b"DYCERECS"
VERSION = 1


def softmax_top1(logits):
    """(top-1 class u8, max softmax probability f32) per row of logits."""
    probs = torch.softmax(torch.as_tensor(logits), dim=1)
    conf, top1 = probs.max(dim=1)
    return top1.numpy().astype(np.uint8), conf.numpy().astype(np.float32)


def split_logits(name, module, data, split, features):
    """Logits of one graph on one split."""
    if name.startswith("saver"):
        return predict(module, data, split)
    position = (fexits.exit_position(name) if name.startswith("exit")
                else len(features))
    return fexits.mlp_logits(module.mlp, features[position - 1])


def split_block(split, preds):
    """One split of a records dict from per-graph (top1, conf) pairs."""
    return {"name": split.name, "index": split.index.astype(np.uint32),
            "label": split.labels.astype(np.uint8),
            "top1": np.stack([p[0] for p in preds]),
            "conf": np.stack([p[1] for p in preds])}


def collect(specs, data, views):
    """Records dict: names, macs, classes, splits (name, index, label, top1,
    conf); top1 and conf are (graphs, n) arrays."""
    logit = nets.logit_specs(specs)
    rec = {"names": [s[0] for s in logit],
           "macs": np.array([nets.count_macs(m, shape)
                             for _, m, _, shape in logit], np.uint64),
           "classes": nets.NUM_CLASSES, "splits": []}
    for split in data.splits():
        feats = views[split.name]
        preds = [softmax_top1(split_logits(name, m, data, split, feats))
                 for name, m, _, _ in logit]
        rec["splits"].append(split_block(split, preds))
    return rec


def _padded(raw):
    return raw + b"\0" * (-len(raw) % 4)


def _string(text):
    raw = text.encode()
    return struct.pack("<I", len(raw)) + _padded(raw)


def encode(rec):
    """The records dict as bytes."""
    out = [MAGIC, struct.pack("<4I", VERSION, len(rec["names"]),
                              len(rec["splits"]), rec["classes"])]
    out += [_string(n) for n in rec["names"]]
    out.append(np.asarray(rec["macs"], "<u8").tobytes())
    for s in rec["splits"]:
        out += [_string(s["name"]), struct.pack("<I", len(s["label"])),
                s["index"].astype("<u4").tobytes(),
                _padded(s["label"].tobytes())]
        for top1, conf in zip(s["top1"], s["conf"]):
            out += [_padded(top1.tobytes()), conf.astype("<f4").tobytes()]
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
    if version != VERSION:
        raise ValueError(f"records version {version}, expected {VERSION}")
    rec = {"names": [r.string() for _ in range(graphs)],
           "macs": r.array("<u8", graphs), "classes": classes, "splits": []}
    for _ in range(splits):
        name, n = r.string(), r.u32()
        s = {"name": name, "index": r.array("<u4", n),
             "label": r.array("u1", n, pad=True), "top1": [], "conf": []}
        for _ in range(graphs):
            s["top1"].append(r.array("u1", n, pad=True))
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
