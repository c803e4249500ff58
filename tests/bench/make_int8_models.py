"""Int8 benchmark models: each float package make_models.py wrote,
quantized by models/quantize.py and exported for onnxruntime-web by
models/export_qdq.py, so that dyce and onnxruntime-web run the same int8
network.

    /usr/bin/python3 tests/bench/make_int8_models.py OUTDIR

Writes, next to OUTDIR/NAME.dyce (run make_models.py first):
  NAME-int8.dyce        models/quantize.py's output
  NAME-int8.qdq.onnx    its QDQ form (models/export_qdq.py)
for mobilenet_v2, resnet18, efficientnet_b0 (torchvision nets, random
weights) and fmnist_backbone (random weights too, see make_models.py).

Calibration:
- fmnist_backbone: 500 real Fashion-MNIST training images
  (/usr/share/datasets/fashion-mnist, IDX);
- the torchvision nets: SYNTHETIC images, 32 PNGs of uniform random
  pixels (OUTDIR/int8-calibration/noise/, seeded); with random weights
  there is no real image the nets know anyway.
The bench feeds every runtime a tensor uniform in [-1, 1] (runtimes.mjs),
while the float packages map pixels to [0, 1] (mean 0, std 1): the
package quantize.py reads is a copy with INPT mean 0.5 and std 0.5, so the
calibration images cover the bench input's range (the networks are the
same; INPT only says how pixels become that tensor). The int8 packages
keep that INPT.

A model whose quantization or export fails is reported and skipped (the
bench skips its int8 rows); the exit status is 0 unless nothing is left.
"""

import os
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
MODELS_DIR = os.path.join(ROOT, "models")
sys.path.insert(0, MODELS_DIR)
import dyce_format  # noqa: E402

PYTHON = "/usr/bin/python3"
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
SYNTHETIC_COUNT = 32
# name -> (calibration: "synthetic" or a directory, image count)
MODELS = {
    "mobilenet_v2": ("synthetic", SYNTHETIC_COUNT),
    "resnet18": ("synthetic", SYNTHETIC_COUNT),
    "efficientnet_b0": ("synthetic", SYNTHETIC_COUNT),
    "fmnist_backbone": (FASHION_MNIST, 500),
}
QUANTIZE = os.path.join(MODELS_DIR, "quantize.py")
EXPORT = os.path.join(MODELS_DIR, "export_qdq.py")
SOURCES = [os.path.abspath(__file__), QUANTIZE, EXPORT,
           os.path.join(MODELS_DIR, "dyce_format.py")] + [
    os.path.join(MODELS_DIR, "converter", f) for f in
    ("quantize.py", "quantize_cli.py", "calibrate.py", "executor.py",
     "int8_ops.py", "images_in.py", "qdq_onnx.py")]


def fresh(path, sources):
    return os.path.exists(path) and all(
        os.path.getmtime(path) > os.path.getmtime(s)
        for s in sources if os.path.exists(s))


def synthetic_images(out, h, w, count):
    """count PNGs of uniform random RGB pixels in out/noise/ (seeded)."""
    from PIL import Image
    folder = os.path.join(out, "noise")
    os.makedirs(folder, exist_ok=True)
    rng = np.random.default_rng(15)
    for i in range(count):
        path = os.path.join(folder, f"{i:03d}.png")
        if not os.path.exists(path):
            px = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
            Image.fromarray(px, "RGB").save(path)
    return out


def bench_range_copy(src, dst):
    """The float package with INPT mean 0.5, std 0.5: pixels -> [-1, 1]."""
    with open(src, "rb") as f:
        data = f.read()
    graphs, spec, labels, _ = dyce_format.read_package(data)
    spec.mean, spec.std = [0.5] * spec.c, [0.5] * spec.c
    with open(dst, "wb") as f:
        f.write(dyce_format.write_package(
            graphs, spec, labels, dyce_format.read_levels(data) or None))


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(os.path.relpath(c, ROOT) if c.startswith(ROOT) else c for c in cmd)}"
                           f" failed:\n{r.stderr.strip()}")
    return r.stdout


def make(out, name, calibration, count):
    base = os.path.join(out, name)
    dyce, onnx = base + "-int8.dyce", base + "-int8.qdq.onnx"
    sources = SOURCES + [base + ".dyce"]
    if fresh(onnx, sources) and fresh(dyce, sources):
        return "cached"
    with open(base + ".dyce", "rb") as f:
        graphs, spec, _, _ = dyce_format.read_package(f.read())
    if calibration == "synthetic":
        calibration = synthetic_images(os.path.join(out, "int8-calibration"),
                                       spec.h, spec.w, count)
    work = os.path.join(out, "int8-work")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, name + ".dyce")
    bench_range_copy(base + ".dyce", src)
    t0 = time.time()
    log = run([PYTHON, QUANTIZE, src, "-o", dyce, "--calibration", calibration,
               "--calibration-count", str(count)])
    with open(os.path.join(work, name + ".quantize.log"), "w") as f:
        f.write(log)
    os.remove(src)
    run([PYTHON, EXPORT, dyce, "-o", onnx])
    return f"quantized on {count} {'synthetic' if 'int8-calibration' in calibration else 'Fashion-MNIST'} images in {time.time() - t0:.0f} s"


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} OUTDIR")
    out = sys.argv[1]
    if not os.path.exists(QUANTIZE):
        print(f"int8 bench models skipped: {QUANTIZE} does not exist")
        return 0
    made = 0
    for name, (calibration, count) in MODELS.items():
        if not os.path.exists(os.path.join(out, name + ".dyce")):
            print(f"{name}-int8: skipped, {name}.dyce missing (make_models.py)")
            continue
        if calibration != "synthetic" and not os.path.isdir(calibration):
            print(f"{name}-int8: skipped, no calibration images at {calibration}")
            continue
        try:
            print(f"{name}-int8: {make(out, name, calibration, count)}", flush=True)
            made += 1
        except (RuntimeError, OSError, ValueError) as err:
            print(f"{name}-int8: skipped: {err}", flush=True)
    return 0 if made else 1


if __name__ == "__main__":
    sys.exit(main())
