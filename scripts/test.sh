#!/usr/bin/env bash
# The whole test suite (README's test command, run by CI):
#   the C structure checks (layers, sizes), C tests natively and under
#   ASan+UBSan (ctest, with the library's exported symbols), the ASan CLI on the
#   exported test models, the training pipeline in smoke mode, then the
#   Node tests (conformance of the three builds against onnxruntime-node,
#   bad input, the cascade and search across builds, wasmtime when
#   installed, the JS API and the governor), then the browser tests (the
#   demo page in Chromium, Firefox ESR and WebKitGTK; battery and CPU
#   throttling in Chromium; screenshots land in test-results/, untracked).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
echo "== structure: C includes point down the layers; file and function sizes (C, Python, JavaScript)"
/usr/bin/python3 scripts/check-layers.py
/usr/bin/python3 scripts/check-sizes.py
node scripts/check-sizes.mjs
bash scripts/build.sh native emscripten wasi
bash scripts/build.sh asan

echo "== exported symbols of the wasm libraries (the native ones: ctest 'symbols')"
for lib in build/emscripten/libdyce_engine.a build/wasi/libdyce_relaxed_engine.a \
    build/wasi/libdyce_relaxed_mt_engine.a; do
  /usr/bin/python3 scripts/check-symbols.py "$lib" llvm-nm
done
echo "== C tests (native)"
ctest --test-dir build/native --output-on-failure
echo "== C tests (ASan + UBSan)"
ctest --test-dir build/asan --output-on-failure

echo "== test models (exported once, cached in build/testmodels)"
/usr/bin/python3 tests/models/export_models.py build/testmodels
echo "== converter: concat, global max pools, GELU / ELU / softplus, normalisations on hand-built ONNX graphs"
/usr/bin/python3 tests/models/test_convert_ops.py
echo "== converter: attention (heads, relative position bias, refusals)"
/usr/bin/python3 tests/models/test_convert_attention.py
echo "== converter: elementwise ops (abs, sqrt, exp, log, reciprocal, max, min, powers, divisions, F.normalize; refusals; int8 keeps them float)"
/usr/bin/python3 tests/models/test_convert_elementwise.py
echo "== converter: moves of values (PixelShuffle / PixelUnshuffle, transposes of H and W, regroupings, flips, repeats, padded ceil-mode average pools; a package the engine refuses stops convert.py)"
/usr/bin/python3 tests/models/test_convert_moves.py
echo "== converter and fp16.py: files that are not what they should be (empty, not ONNX, truncated, bad wiring, short initializers, labels with a BOM or twice, float16 overflow, -o a folder)"
/usr/bin/python3 tests/models/test_convert_files.py
echo "== converter: weights computed in forward (standardised, spectral_norm, weight_norm) and einsum"
/usr/bin/python3 tests/models/test_convert_weights.py
echo "== converter: every small test model exported at opsets 11, 12 (upgraded to 13) and 14-17 (opset 17's LayerNormalization node)"
/usr/bin/python3 tests/models/test_convert_opsets.py
echo "== builder: --widths' unit groups of traced networks (torchvision), knapsack, reordering, refusals"
/usr/bin/python3 tests/build/test_widths_groups.py
echo "== builder: image folders as people have them (gray stored as colour, PNGs without an extension, non-UTF-8 names, links to nothing, oversized images, NFD names, EXIF orientation)"
/usr/bin/python3 tests/build/test_folders.py
echo "== REDS pipelines' command line: a work folder is not reused with another recipe; --threads 0 refused"
/usr/bin/python3 tests/build/test_reds_cli.py
echo "== builder: module versions in rebuilt state dicts (MnasNet), logits of networks that return several values in training mode"
/usr/bin/python3 tests/build/test_backbones.py

echo "== ASan + UBSan CLI on every test model"
for m in build/testmodels/*.dyce; do
  build/asan/dyce run "$m" --input "${m%.dyce}.input.npy" >/dev/null
done
echo "ok"

echo "== fuzzing, a short run of each target (scripts/fuzz.sh)"
# 25 s per target (after the regressions replay) keeps CI well under 30
# minutes; fuzz longer by hand: scripts/fuzz.sh 600.
bash scripts/fuzz.sh "${DYCE_FUZZ_SECONDS:-25}"

echo "== training pipeline, smoke mode (train, export, convert, package, records)"
# --force: a clean run of every step (it takes under a minute).
/usr/bin/python3 models/train_fmnist.py --smoke --force
echo "== REDS pipeline, smoke mode (DS-CNN, importance, knapsack, joint fine-tuning, levels, records)"
/usr/bin/python3 models/train_reds.py --smoke --force
echo "== REDS on the residual backbone, smoke mode (stream and inner widths, knapsack, fine-tuning, package, engine check per level)"
/usr/bin/python3 models/train_reds_resnet.py --smoke --force
echo "== models/build.py, smoke mode (PNG folder + torchvision:resnet18, ImageNet-shaped 1 000 classes, torchrun x2, bad input)"
node --test tests/build/

echo "== Node tests"
node --test tests/node/

echo "== the npm package: types under tsc --strict, and Vite / webpack / Parcel / esbuild / Rollup builds of a fresh app classifying in Chromium"
node --test --test-concurrency=1 tests/bundlers/

echo "== browser tests (the demo in Chromium via playwright-core, Firefox ESR via puppeteer-core, WebKitGTK via WebKitWebDriver; battery, CPU throttling)"
node --test --test-concurrency=1 tests/browser/
