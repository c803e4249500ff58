"""The records file of the REDS ResNet-20 package (docs/FORMAT.md).

Entries: the head at every level, `head` (w100), `head@w75`, `head@w50`,
`head@w25` (reds.exits.head_name), splits train, val, test. MACs of an
entry are the head graph's own at its level (GAP + Linear S2 -> 10 = 10·S2),
as the DS-CNN's records count a graph alone. Predictions: PyTorch float32,
eval mode, un-augmented, the sliced forward at the level's widths. With the
records beside the package, `dyce eval --graph head --level L` reports how
often the engine agrees with PyTorch. The encoder and the read-back check
are the builder's (dyce_build.records_file).
"""

import numpy as np

from dyce_build import records_file
from reds.exits import head_name

from . import finetune as rfinetune
from . import nets


def collect(net, named_levels, data, log=None):
    """Records dict (dyce_build.records_file's layout) and {level: {split: logits}}."""
    rec = {"names": [head_name(n) for n, _ in named_levels],
           "macs": np.array([nets.graph_macs(w)["head"]
                             for _, w in named_levels], np.uint64),
           "classes": nets.NUM_CLASSES, "splits": []}
    for split in data.splits():
        preds = []
        for name, widths in named_levels:
            logits = rfinetune.predict(net, data, split, widths)
            preds.append(records_file.softmax_top1(logits))
            if log:
                log(f"records: {name} {split.name} done")
        rec["splits"].append(records_file.split_block(
            split.name, split.index, split.labels, preds))
    return rec
