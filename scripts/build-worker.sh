#!/usr/bin/env bash
# Builds the Worker (worker/) with worker-build into worker/build/, using the
# registry-installed wasm-bindgen, esbuild and wasm-opt (nothing downloaded).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --loglevel=error
export WASM_BINDGEN_BIN="$(command -v wasm-bindgen)"
export ESBUILD_BIN="$root/node_modules/.bin/esbuild"
export WASM_OPT_BIN="$root/node_modules/.bin/wasm-opt"
cd worker
worker-build --release 2>&1 | grep -vE "failed to get wasm-pack version|^\s*$" || true
test -f build/index.js
wasm=$(ls build/*.wasm | head -1)
echo "worker built: $(wc -c < "$wasm") bytes wasm, $(gzip -9c "$wasm" | wc -c) gzip ($wasm)"
