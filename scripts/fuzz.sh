#!/usr/bin/env bash
# Fuzzes the engine with libFuzzer (clang-19, ASan + UBSan):
#   fuzz_load    the package loader, then sessions, graphs and the cascade
#   fuzz_run     a valid cascade with fuzzed inputs, configurations, budgets
#   fuzz_search  the records loader, and the search on fuzzed predictions
#   fuzz_png     the CLI's PNG decoder and the inflate under it (checksums
#                skipped so that mutations reach the decoder)
# Corpora grow in build/fuzz/corpus/<target>, seeded from tests/fuzz/seeds
# and the shipped packages. Inputs that once crashed live in
# tests/fuzz/regressions/<target>/ and are replayed first.
# Usage: scripts/fuzz.sh [SECONDS_PER_TARGET]   (default 60)
#        FUZZ_TARGETS="png" scripts/fuzz.sh 60      (some targets only)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
bash scripts/build.sh fuzz

total=0
for t in ${FUZZ_TARGETS:-load run search png}; do
  corpus=build/fuzz/corpus/$t
  crashes=build/fuzz/crashes/$t
  mkdir -p "$corpus" "$crashes"
  case $t in
    load) for f in models/*.dyce build/fmnist-smoke/*.dyce; do [ -f "$f" ] && cp -n "$f" "$corpus/" || true; done ;;
    search) for f in models/*.records; do [ -f "$f" ] && cp -n "$f" "$corpus/" || true; done ;;
  esac
  seeds=()
  [ -d "tests/fuzz/seeds/$t" ] && seeds+=("tests/fuzz/seeds/$t")
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then
    build/fuzz/fuzz_$t tests/fuzz/regressions/$t/* >build/fuzz/$t.regressions.log 2>&1 \
      || { tail -30 build/fuzz/$t.regressions.log; echo "fuzz: a regression input of $t crashes again" >&2; exit 1; }
    echo "fuzz_$t: $(ls tests/fuzz/regressions/$t | wc -l) regression inputs pass"
  fi
  log=build/fuzz/$t.log
  if ! build/fuzz/fuzz_$t -max_total_time="$secs" -print_final_stats=1 -rss_limit_mb=4096 \
      -artifact_prefix="$crashes/" "$corpus" "${seeds[@]}" >"$log" 2>&1; then
    tail -40 "$log"
    echo "fuzz: fuzz_$t crashed; the input is in $crashes/ — fix it and add it to tests/fuzz/regressions/$t/" >&2
    exit 1
  fi
  n=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}')
  echo "fuzz_$t: $n executions in ${secs} s, no crash"
  total=$((total + n))
done
echo "fuzz: $total executions in total, no crash"
