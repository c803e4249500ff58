"""Fixture of tests/node/cascade.test.mjs: records for the smoke package in
which TinySaver's rule gives different thresholds on train and on val, as a
backbone over-fitted on train makes it do (docs/SEARCH.md, `tinysaver`).

Usage: tinysaver_fixture.py SMOKE.records OUT.records

The graphs, MACs, splits and labels are the smoke records'; the predictions
are set: the head is right on every sample; saver2's confidences spread
evenly over (0, 1) and it is right where its confidence is at least 0.9 on
train and 0.5 on val and test; every other graph is wrong at confidence
0.05. So the rule (the lowest threshold down to which the saver is as
accurate as the head on what it accepts) stops just above 0.9 on train and
0.5 on val.
"""

import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "models"))
from dyce_build import records_file  # noqa: E402

RIGHT_FROM = {"train": 0.9, "val": 0.5, "test": 0.5}


def main(src, out):
    rec = records_file.read(src)
    names, classes = rec["names"], rec["classes"]
    saver, head = names.index("saver2"), names.index("head")
    for s in rec["splits"]:
        n, label = len(s["label"]), np.asarray(s["label"])
        wrong = (label + 1) % classes
        top1 = np.tile(wrong, (len(names), 1))
        conf = np.full((len(names), n), 0.05, np.float32)
        top1[head], conf[head] = label, 0.99
        # evenly spread, in a fixed shuffled order: no two samples tie
        c = ((np.random.default_rng(7).permutation(n) + 0.5) / n).astype(np.float32)
        conf[saver] = c
        top1[saver] = np.where(c >= RIGHT_FROM[s["name"]], label, wrong)
        s["top1"], s["conf"] = top1.astype(s["top1"].dtype), conf
    records_file.write(out, rec)


if __name__ == "__main__":
    main(*sys.argv[1:])
