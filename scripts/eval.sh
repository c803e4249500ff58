#!/usr/bin/env bash
# Classifies real Fashion-MNIST test images with the shipped package through
# the cascade, once per shipped configuration (accuracy, MACs actually
# spent, latency, exits), natively and through the WASI build.
# Usage: npm run eval [-- --limit N]   (default: the first 2000 test images)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh native wasi

limit=2000
[ "${1:-}" = "--limit" ] && limit=$2
model=models/fashion-mnist.dyce
data=/usr/share/datasets/fashion-mnist
if [ ! -f "$model" ]; then
  echo "eval: $model is not there yet; train it with /usr/bin/python3 models/train_fmnist.py" >&2
  exit 1
fi
echo "== $model"
build/native/dyce info "$model" | sed -n '1,4p'
configs=all
build/native/dyce eval "$model" --data "$data" --config all --limit 1 >/dev/null 2>&1 || configs=backbone
echo "== cascade on the first $limit Fashion-MNIST test images (native build)"
build/native/dyce eval "$model" --data "$data" --split test --config "$configs" --limit "$limit"
echo "== the same through the WASI build, full backbone"
node wasm/dyce-wasi.mjs eval "$model" --data "$data" --split test --graph head --limit "$limit"
