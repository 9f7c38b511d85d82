#!/usr/bin/env bash
# Runs the benchmarks and writes bench/RESULTS.md (`--smoke`: a few
# iterations, nothing written; that is what CI runs so they cannot rot).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bash scripts/setup.sh >/dev/null
[ -f pkg/imagegen_bg.wasm ] || bash scripts/build-pkg.sh
[ -f worker/build/index.js ] || bash scripts/build-worker.sh
bash scripts/install-pkg.sh bench
if [ "${1:-}" = "--smoke" ]; then
  node bench/run.mjs --smoke
else
  node bench/run.mjs --write
fi
