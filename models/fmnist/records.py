"""The records file (docs/FORMAT.md, "records file"): compute, write, read.

Graph order: saver0, saver1, saver2, exit1_a, exit1_b, …, exit8_a, exit8_b,
head (nets.logit_specs). Split order: train, val, test. Predictions are
PyTorch's, float32, eval mode, un-augmented inputs: savers run on the
normalised images; exits and the head run their MLP on the backbone's cached
pooled stage outputs (the same computation as GAP + MLP on the stage output).
"""


import numpy as np

from dyce_build import records_file
from dyce_build.records_file import (  # noqa: F401 (re-exported)
    accuracies, decode, encode, read, same, save_npz, softmax_top1, subset,
    write)

from . import exits as fexits
from . import nets
from .fit import predict


def split_logits(name, module, data, split, features):
    """Logits of one graph on one split."""
    if name.startswith("saver"):
        return predict(module, data, split)
    position = (fexits.exit_position(name) if name.startswith("exit")
                else len(features))
    return fexits.mlp_logits(module.mlp, features[position - 1])


def split_block(split, preds):
    """One split of a records dict from per-graph (top1, conf) pairs."""
    return records_file.split_block(split.name, split.index, split.labels,
                                    preds)


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
