#!/usr/bin/env bash
# Installs everything dyce needs on a fresh Debian bookworm machine.
# Idempotent: installs only what is missing, so both README commands can call
# it every time. Debian packages via apt-get, JS dependencies via `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  # native build and sanitizers
  build-essential cmake pkg-config
  # JPEG in the native CLI (dyce eval/run on image files)
  libjpeg62-turbo-dev
  # Emscripten browser module (Debian's 3.1.6) and binaryen for it
  emscripten binaryen
  # WASI build: clang-19 + lld-19 + wasi-libc + compiler-rt builtins for wasm32
  clang-19 lld-19 wasi-libc libclang-rt-19-dev-wasm32
  # libFuzzer and the sanitizer runtimes for clang-19 (fuzz targets)
  libclang-rt-19-dev
  # native XNNPACK (fast path and oracle)
  libxnnpack-dev libpthreadpool-dev
  # model pipeline and test-model export
  python3-torch python3-torchvision python3-onnx python3-numpy python3-scipy python3-pil
  # real data
  dataset-fashion-mnist
  # browser tests: Chromium, Firefox ESR, WebKitGTK (MiniBrowser comes with
  # libwebkit2gtk-4.1-0, driven by WebKitWebDriver on an Xvfb display)
  chromium firefox-esr webkit2gtk-driver libwebkit2gtk-4.1-0 xvfb
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bootstrap: installing ${missing[*]}" >&2
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# npm dependencies: reinstall only when the lock file changed since last time.
# --ignore-scripts: onnxruntime-node's postinstall tries an unreachable host;
# its CPU binaries are bundled in the package.
stamp=node_modules/.dyce-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  echo "bootstrap: npm ci" >&2
  npm ci --ignore-scripts --no-audit --no-fund >&2
  cp package-lock.json "$stamp"
fi
