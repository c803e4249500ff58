"""Small golden records for the tests, cut from the pipelines' records.

    /usr/bin/python3 models/golden_records.py

The full records files (models/*.records, 10-11 MB: every graph on train,
val and test) are pipeline outputs and stay out of git. The tests only
compare the engine with PyTorch on a few graphs, so this writes the same
format with just those graphs and splits into tests/golden/.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from dyce_build import records_file as records  # noqa: E402

GOLDEN = (
    # (records file, golden file, graphs, splits)
    ("fashion-mnist.records", "fashion-mnist.golden.records",
     ("head", "saver0", "saver2"), ("val", "test")),
    ("fashion-mnist-reds.records", "fashion-mnist-reds.golden.records",
     ("head", "head@w75", "head@w50", "head@w25"), ("test",)),
)


def main():
    for src, dst, graphs, splits in GOLDEN:
        with open(os.path.join(HERE, src), "rb") as f:
            rec = records.subset(records.decode(f.read()), graphs, splits)
        raw = records.encode(rec)
        records.decode(raw)  # reads back
        with open(os.path.join(ROOT, "tests", "golden", dst), "wb") as f:
            f.write(raw)
        print(f"{dst}: {len(raw)} bytes ({', '.join(graphs)}; {', '.join(splits)})")


if __name__ == "__main__":
    main()
