#!/usr/bin/env bash
# Builds the three targets (docs/ARCHITECTURE.md):
#   build/native/dyce           native CLI (+ C tests)
#   wasm/dist/dyce.mjs + .wasm  Emscripten browser module
#   wasm/dist/dyce.browser.mjs  wasm/index.mjs as one file, and dyce.node.mjs
#                               wasm/node.mjs (scripts/bundle.mjs)
#   wasm/dist/dyce-wasi.wasm    WASI CLI
# Usage: scripts/build.sh [native|emscripten|wasi|asan|fuzz ...]  (default: the three)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(native emscripten wasi)
jobs=$(nproc 2>/dev/null || echo 2)

configure_and_build() { # dir, cmake args...
  local dir=$1; shift
  "$@" -S . -B "$dir" -DCMAKE_BUILD_TYPE=${BUILD_TYPE:-Release} >"$dir.configure.log" 2>&1 \
    || { cat "$dir.configure.log"; exit 1; }
  cmake --build "$dir" -j "$jobs" 2>&1 | grep -vE '^\[ *[0-9]+%\]|^-- ' || true
  [ "${PIPESTATUS[0]}" = 0 ] || { echo "build failed in $dir" >&2; exit 1; }
}

mkdir -p build
for t in "${targets[@]}"; do
  echo "== build $t" >&2
  case $t in
    native) configure_and_build build/native cmake ;;
    # -O2 -g: fast enough to run real models under the sanitizers.
    asan) BUILD_TYPE=RelWithDebInfo configure_and_build build/asan cmake -DDYCE_SANITIZE=ON ;;
    # libFuzzer targets: clang-19 with ASan + UBSan.
    fuzz) BUILD_TYPE=RelWithDebInfo configure_and_build build/fuzz cmake -DDYCE_FUZZ=ON \
            -DCMAKE_C_COMPILER=clang-19 ;;
    # Debian's Emscripten tools need Node to find their modules here.
    # Then the one-file entries, which inline the Emscripten glue.
    emscripten) NODE_PATH=/usr/share/nodejs configure_and_build build/emscripten emcmake cmake
                node scripts/bundle.mjs ;;
    wasi) configure_and_build build/wasi cmake -DCMAKE_TOOLCHAIN_FILE=cmake/wasi.cmake ;;
    *) echo "unknown target $t" >&2; exit 2 ;;
  esac
done
