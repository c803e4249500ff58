#!/usr/bin/env bash
# Measures the REDS package (width levels) with the engine on the
# Fashion-MNIST test set and compares three curves, each searched on the
# train records and chosen on val (docs/REDS.md):
#   joint       saver x exits x width: the package's shipped list
#   depth-only  saver x exits at the full width (dyce search --level 0)
#   width-only  each width level's head alone
# Writes docs/results/reds-{joint,depth,width,graphs}-test.jsonl,
# docs/results/reds-compare.json and docs/reds-pareto.svg.
# Usage: scripts/reds-report.sh [MODEL.dyce]  (default models/fashion-mnist-reds.dyce)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/fashion-mnist-reds.dyce}
records=${model%.dyce}.records
data=/usr/share/datasets/fashion-mnist
out=docs/results
dyce=build/native/dyce
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"

$dyce eval "$model" --data "$data" --split test --config all --json > "$out/reds-joint-test.jsonl"
$dyce search "$model" --records "$records" --method both --lambda-step 0.002 --level 0 \
  -o "$tmp/depth.dyce" > /dev/null 2>&1
$dyce eval "$tmp/depth.dyce" --data "$data" --split test --config all --json > "$out/reds-depth-test.jsonl"
levels=$($dyce info "$model" --json | node -e '
  const info = JSON.parse(require("fs").readFileSync(0, "utf8"));
  console.log(info.levels.map((l) => l.name).join(" "));')
for l in $levels; do
  $dyce eval "$model" --data "$data" --split test --graph head --level "$l" --records "$records" --json
done > "$out/reds-width-test.jsonl"
for g in saver0 saver1 saver2; do
  $dyce eval "$model" --data "$data" --split test --graph "$g" --records "$records" --json
done > "$out/reds-savers-test.jsonl"
node scripts/reds-compare.mjs "$out/reds-joint-test.jsonl" "$out/reds-depth-test.jsonl" \
  "$out/reds-width-test.jsonl" > "$out/reds-compare.json"
node scripts/plot-pareto.mjs docs/reds-pareto.svg \
  "DS-CNN on Fashion-MNIST, test set: accuracy vs mean MACs (engine)" \
  "$out/reds-joint-test.jsonl:joint saver x exits x width (shipped):line" \
  "$out/reds-depth-test.jsonl:depth only (saver x exits, full width):line" \
  "$out/reds-width-test.jsonl:width only (REDS levels, head alone):line" \
  "$out/reds-savers-test.jsonl:savers alone:points"
cat "$out/reds-compare.json"
echo "reds-report: wrote $out/reds-*.jsonl, reds-compare.json and docs/reds-pareto.svg" >&2
