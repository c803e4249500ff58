"""Checks of the shipped int8 packages for tests/node/int8_shipped.test.mjs.

Usage: int8_shipped_check.py OUT_DIR
Writes OUT_DIR/report.json with, per models/<name>-int8.dyce:
  bytes, float_bytes, version, sections, int8 tensor count;
  configs: the CONF records (name, level, accuracy, mean MACs);
  checked: for two configurations (the searched one a third down the list
           and the one
           before the last), the CONF's recorded validation accuracy
           and mean MACs next to what the engine measures
           (`build/native/dyce eval --split val --config C`; the val split
           is the 5 000 training images carved with the Fashion-MNIST seed,
           given to the engine as a records file of labels and indices);
and, for fashion-mnist-reds-resnet, `regenerated`: the quantizer run again
with models/quantize.py's defaults gives every section but CONF byte for
byte (CONF is the searched list, made from records by `dyce search`).
"""

import json
import os
import struct
import subprocess
import sys

import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "models"))
import dyce_format as fmt  # noqa: E402
from dyce_build import data as bdata  # noqa: E402
from dyce_build import records_file  # noqa: E402

DYCE = os.path.join(ROOT, "build", "native", "dyce")
FMNIST = "/usr/share/datasets/fashion-mnist"
NAMES = ["fashion-mnist", "fashion-mnist-reds", "fashion-mnist-reds-resnet"]


def conf_records(data):
    """[(name, level, accuracy, mean_macs)] of a package's CONF section."""
    raw = fmt.read_sections(data).get("CONF")
    if raw is None:
        return []
    count, positions = struct.unpack_from("<2I", raw, 0)
    size = 64 + 8 * positions
    out = []
    for i in range(count):
        rec = raw[16 + i * size:16 + (i + 1) * size]
        name = rec[:32].split(b"\0")[0].decode()
        acc, = struct.unpack_from("<f", rec, 44)
        macs, = struct.unpack_from("<d", rec, 48)
        level, = struct.unpack_from("<I", rec, 56)
        out.append({"name": name, "level": level, "accuracy": acc,
                    "mean_macs": macs})
    return out


def val_records(path):
    """A records file holding the val split's indices and labels (one
    placeholder entry), for `dyce eval --split val` on the IDX directory."""
    labels = bdata.read_idx(bdata._idx_path(FMNIST, "train-labels-idx1-ubyte"))
    _, va = bdata.carve(len(labels), 1 / 12, bdata.SPLIT_SEED)
    lab = labels[va].astype(np.int64)
    rec = {"names": ["head"], "macs": np.zeros(1, np.uint64), "classes": 10,
           "splits": [records_file.split_block(
               "val", va, lab, [(lab, np.ones(len(lab), np.float32))])]}
    records_file.write(path, rec)


def engine_eval(pkg, config, records):
    r = subprocess.run([DYCE, "eval", pkg, "--data", FMNIST, "--split", "val",
                        "--config", config, "--records", records, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"dyce eval {pkg} {config}: {r.stderr}")
    line = [x for x in r.stdout.splitlines() if x.startswith("{")][0]
    return json.loads(line)


def regenerate(name, out):
    src = os.path.join(ROOT, "models", f"{name}.dyce")
    dst = os.path.join(out, f"{name}-int8.dyce")
    r = subprocess.run([sys.executable, os.path.join(ROOT, "models/quantize.py"),
                        src, "-o", dst, "--calibration", FMNIST],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"quantize.py: {r.stderr}")
    a = fmt.read_sections(open(dst, "rb").read())
    b = fmt.read_sections(open(os.path.join(ROOT, "models",
                                            f"{name}-int8.dyce"), "rb").read())
    keys = sorted(set(a) | set(b))
    return {"same": [k for k in keys if k != "CONF" and a.get(k) == b.get(k)],
            "differ": [k for k in keys if k != "CONF" and a.get(k) != b.get(k)]}


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    recs = os.path.join(out, "val.records")
    val_records(recs)
    report = {}
    for name in NAMES:
        pkg = os.path.join(ROOT, "models", f"{name}-int8.dyce")
        data = open(pkg, "rb").read()
        fdata = open(os.path.join(ROOT, "models", f"{name}.dyce"), "rb").read()
        graphs = fmt.read_package(data)[0]
        info = subprocess.run([DYCE, "info", pkg], capture_output=True,
                              text=True)
        configs = conf_records(data)
        searched = [c for c in configs if c["name"].startswith("pareto-")]
        pick = ([searched[len(searched) // 3], searched[-2]]
                if len(searched) >= 3 else [])
        checked = []
        for c in pick:
            e = engine_eval(pkg, c["name"], recs)
            checked.append({"config": c["name"], "recorded": c["accuracy"],
                            "measured": e["accuracy"], "n": e["n"],
                            "recorded_macs": c["mean_macs"],
                            "measured_macs": e["mean_macs"]})
        report[name] = {
            "bytes": len(data), "float_bytes": len(fdata),
            "version": fmt.package_version(data),
            "sections": sorted(fmt.read_sections(data)),
            "int8_tensors": sum(1 for g in graphs for q in (g.quant or [])
                                if q is not None),
            "info_status": info.returncode, "info_stderr": info.stderr,
            "configs": configs, "checked": checked}
    report["regenerated"] = regenerate("fashion-mnist-reds-resnet", out)
    with open(os.path.join(out, "report.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
