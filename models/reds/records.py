"""Step 8: the records file of the REDS package (docs/FORMAT.md).

Graph order: saver0, saver1, saver2 (level-independent), then per level
(w100, w75, w50, w25): its exits exit1_a, exit1_b, …, exit3_b (level 0
plain names, other levels `exit<p>_<t>_w<L>`) and its head (`head`,
`head@w75`, `head@w50`, `head@w25`). Splits train, val, test (reds.context.load_data).
MACs of each entry are the graph's own at that level: head@wL is the head
with the level's widths, an exit of level L reads a stage output of the
level's width (its first Linear uses only those inputs; GAP is not
counted), savers as usual. Predictions: PyTorch float32 eval mode,
un-augmented; exits and heads from the cached per-level features
(reds.exits), savers on the normalised images. The encoder and the
read-back check are the builder's (dyce_build.records_file).
"""

import numpy as np

from dyce_build import records_file
from dyce_build.exits import mlp_logits
from dyce_build.fit import predict
from dyce_build.nets import count_macs

from . import exits as rexits
from . import nets


def entries(net, savers, named_levels, level_exits):
    """[(name, macs, fn(split, level_views) -> logits)] in records order."""
    out = []
    for name, saver in savers.items():
        out.append((name, count_macs(saver, nets.INPUT_SHAPE),
                    None, saver))
    for lvl, units in named_levels:
        widths = nets.stage_out_widths(units)
        for p in rexits.POSITIONS:
            for t in rexits.EXIT_TYPES:
                name = rexits.exit_name(p, t, lvl)
                ex = level_exits[name]
                out.append((name, rexits.exit_macs(ex, widths[p - 1]),
                            (lvl, p), ex))
        head_macs = nets.graph_macs(net, units)["head"]
        out.append((rexits.head_name(lvl), head_macs, (lvl, 4), None))
    return out


def collect(net, savers, named_levels, level_exits, data, features):
    """Records dict (dyce_build.records_file's layout)."""
    ents = entries(net, savers, named_levels, level_exits)
    rec = {"names": [e[0] for e in ents],
           "macs": np.array([e[1] for e in ents], np.uint64),
           "classes": nets.NUM_CLASSES, "splits": []}
    for split in data.splits():
        preds = []
        for name, _, where, module in ents:
            if where is None:
                logits = predict(module, data, split)
            else:
                lvl, p = where
                feats = features[lvl][split.name][p - 1]
                logits = (feats if p == 4
                          else mlp_logits(module.mlp, feats))
            preds.append(records_file.softmax_top1(logits))
        rec["splits"].append(records_file.split_block(
            split.name, split.index, split.labels, preds))
    return rec
