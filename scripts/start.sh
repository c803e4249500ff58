#!/usr/bin/env bash
# `npm start`: installs what is missing, builds, and serves the demo page on
# http://127.0.0.1:$PORT/web/ (default 8080), printing the URL. The page
# loads models/fashion-mnist.dyce, or, until that package ships
# configurations, the smoke-trained one (made here when missing).
# The command-line evaluation that used to run here is `npm run eval`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
bash scripts/build.sh

smoke=build/fmnist-smoke/fashion-mnist
has_configs() { # the package exists and ships configurations (dyce search has run)
  [ -f "$1" ] && build/native/dyce eval "$1" --data /usr/share/datasets/fashion-mnist --config all --limit 1 >/dev/null 2>&1
}
if ! has_configs models/fashion-mnist.dyce && ! has_configs "$smoke-configs.dyce"; then
  echo "start: models/fashion-mnist.dyce has no configurations yet; making a smoke-trained package for the page" >&2
  /usr/bin/python3 models/train_fmnist.py --smoke >/dev/null
  build/native/dyce search "$smoke.dyce" --records "$smoke.records" --lambda-step 0.01 \
    -o "$smoke-configs.dyce" >/dev/null
fi
exec node scripts/serve.mjs --port "${PORT:-8080}"
