#!/usr/bin/env bash
# Builds the npm package into pkg/: one wasm-pack (web target) build, plus
# small per-runtime entry files and a package.json with conditional exports.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund >/dev/null

# --mode no-install: use the wasm-bindgen on PATH (same version as Cargo.lock)
# and fail fast instead of downloading one.
wasm-pack --quiet build --release --target web --out-dir pkg --out-name imagegen --mode no-install . 2>&1 \
  | grep -v "failed to get wasm-pack version" || true
test -f pkg/imagegen_bg.wasm

cp packaging/index.*.mjs packaging/index.d.ts pkg/
rm -f pkg/.gitignore
node scripts/write-package-json.mjs
echo "pkg/ built: $(wc -c < pkg/imagegen_bg.wasm) bytes wasm, $(gzip -9c pkg/imagegen_bg.wasm | wc -c) gzip"
