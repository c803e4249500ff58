#!/usr/bin/env bash
# Measures a cascade package with the engine on the Fashion-MNIST test set
# and writes the figures the docs quote:
#   docs/results/graphs-test.jsonl      every saver, exit and the head alone
#                                       (accuracy, MACs, latency, agreement
#                                       with PyTorch's records)
#   docs/results/configs-test.jsonl     every shipped configuration through
#                                       the cascade (accuracy, mean MACs,
#                                       latency, exit histogram)
#   docs/results/search-*-test.jsonl    each search method's curve on the
#                                       test records (searched on train)
#   docs/pareto.svg                     the plot
# Usage: scripts/report.sh [MODEL.dyce]   (default models/fashion-mnist.dyce)
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-models/fashion-mnist.dyce}
records=${model%.dyce}.records
data=/usr/share/datasets/fashion-mnist
out=docs/results
dyce=build/native/dyce
mkdir -p "$out"

graphs=$($dyce info "$model" --json | node -e '
  const info = JSON.parse(require("fs").readFileSync(0, "utf8"));
  console.log(info.graphs.filter((g) => /^(saver\d+|exit\d+_.+|head)$/.test(g.name)).map((g) => g.name).join(" "));')
echo "report: graphs: $graphs" >&2
for g in $graphs; do
  $dyce eval "$model" --data "$data" --split test --graph "$g" --records "$records" --json
done > "$out/graphs-test.jsonl"
$dyce eval "$model" --data "$data" --split test --config all --json > "$out/configs-test.jsonl"
for method in samethres onepass circular both; do
  $dyce search "$model" --records "$records" --method $method --eval-split test --json 2>/dev/null \
    > "$out/search-$method-test.jsonl"
done
grep -E '"graph":"(head|saver[0-9]+)"' "$out/graphs-test.jsonl" > "$out/references-test.jsonl"
node scripts/plot-pareto.mjs docs/pareto.svg "Fashion-MNIST test set: accuracy vs mean MACs (engine)" \
  "$out/configs-test.jsonl:shipped configurations (engine, cascade):line" \
  "$out/search-samethres-test.jsonl:samethres baseline (records):line" \
  "$out/search-circular-test.jsonl:circular search (records):line" \
  "$out/references-test.jsonl:backbone and savers alone (engine):points"
echo "report: wrote $out/ and docs/pareto.svg" >&2
