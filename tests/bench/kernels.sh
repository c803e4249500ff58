#!/usr/bin/env bash
# Builds tests/bench/kernel_bench.c for WebAssembly SIMD128 with the
# Emscripten of the browser module and runs it under Node (best of N).
# `kernels.sh q8`: int8 against float convolutions. KERNEL_BENCH_OUT: the
# build folder (default build/kernel_bench).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${KERNEL_BENCH_OUT:-build/kernel_bench}
mkdir -p "$out"
NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -std=c11 -D_POSIX_C_SOURCE=200809L \
  -Isrc tests/bench/kernel_bench.c src/kernels/simd/*.c src/kernels/ref/*.c \
  -sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=node -o "$out/kernel_bench.cjs"
# Emscripten 3.1.6's Node glue predates Node's fetch.
exec node --no-experimental-fetch "$out/kernel_bench.cjs" "$@"
