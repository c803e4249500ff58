"""The records of a build: PyTorch's top-1 and confidence of every graph
with logits (savers, exits, head) on every split, in package order.

Savers run on the normalised images; exits run their MLP on the cached
pooled stage outputs; the head's logits come from the same backbone pass.
"""

import numpy as np

from . import exits as bexits
from . import records_file
from .fit import predict


def logit_graphs(specs):
    """Names of the graphs with logits, records order: savers, exits, head."""
    names = [s[0] for s in specs]
    return ([n for n in names if n.startswith("saver")]
            + [n for n in names if n.startswith("exit")] + ["head"])


def collect(specs, data, views, savers, exits, macs, probs=()):
    """The records dict (records_file) of a build; `probs`: the graphs
    whose outputs are probabilities already (package.probability_graphs)."""
    names = logit_graphs(specs)
    rec = {"names": names, "macs": np.array([macs[n] for n in names], np.uint64),
           "classes": len(data.classes), "splits": []}
    for split in data.splits():
        feats, head = views[split.name]
        preds = []
        for n in names:
            if n.startswith("saver"):
                logits = predict(savers[n], data, split, what=f"{n} on {split.name}")
            elif n.startswith("exit"):
                logits = bexits.mlp_logits(exits[n].mlp, feats[bexits.position(n) - 1])
            else:
                logits = head
            preds.append(records_file.softmax_top1(logits, probabilities=n in probs))
        rec["splits"].append(records_file.split_block(split.name, split.index,
                                                      split.labels, preds))
    return rec
