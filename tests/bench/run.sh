#!/usr/bin/env bash
# `npm run bench [-- --json FILE ...]`: builds what is missing, exports the
# benchmark models once (build/benchmodels; their int8 forms too:
# tests/bench/make_int8_models.py), then runs tests/bench/bench.mjs
# with relaxed SIMD enabled, so the relaxed build is measured too (the
# `dyce` rows are always the plain SIMD128 build), then the cold starts
# (tests/bench/coldstart.mjs: fresh Node processes as users start them,
# and dyce in Chromium; DYCE_COLDSTART_RUNS runs each, default 7).
# With `--threads N`: one thread vs N instead (tests/bench/threads.mjs).
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f wasm/dist/dyce.wasm ] && [ -f wasm/dist/dyce-relaxed.wasm ] || bash scripts/build.sh
/usr/bin/python3 tests/models/export_models.py build/testmodels >/dev/null
/usr/bin/python3 tests/bench/make_models.py build/benchmodels >/dev/null
# Int8 forms (models/quantize.py, models/export_qdq.py) of some of them; a
# model it cannot make only loses its int8 rows.
/usr/bin/python3 tests/bench/make_int8_models.py build/benchmodels || true
case " $* " in
  # One thread vs N (tests/bench/threads.mjs) needs the threaded builds,
  # and is all this run does: the cold starts have no thread count.
  *" --threads "*)
    [ -f wasm/dist/dyce-mt.wasm ] && [ -f wasm/dist/dyce-relaxed-mt.wasm ] || bash scripts/build.sh wasi
    exec node --experimental-wasm-relaxed-simd tests/bench/bench.mjs "$@" ;;
esac
node --experimental-wasm-relaxed-simd tests/bench/bench.mjs "$@"
exec node tests/bench/coldstart.mjs --runs "${DYCE_COLDSTART_RUNS:-7}"
