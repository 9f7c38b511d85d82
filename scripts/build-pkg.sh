#!/usr/bin/env bash
# Builds the npm package into pkg/: one wasm-pack (web target) build, then
# scripts/finish-pkg.mjs adds the per-runtime entries (packaging/), the
# portable type declarations, README, LICENSE and package.json.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -x node_modules/.bin/wasm-opt ] || npm ci --no-audit --no-fund >/dev/null

# A clean pkg/: files of an earlier layout must not linger (they would not be
# shipped, and www.sh compares pkg/ with its installed copy).
rm -rf pkg
# --mode no-install: use the wasm-bindgen on PATH (same version as Cargo.lock)
# and fail fast instead of downloading one.
wasm-pack --quiet build --release --target web --out-dir pkg --out-name imagegen --mode no-install . 2>&1 \
  | grep -v "failed to get wasm-pack version" || true
test -f pkg/imagegen_bg.wasm

# Not shipped: wasm-pack's own files and the raw wasm exports' declarations.
rm -f pkg/.gitignore pkg/imagegen_bg.wasm.d.ts
node scripts/finish-pkg.mjs
echo "pkg/ built: $(wc -c < pkg/imagegen_bg.wasm) bytes wasm, $(gzip -9c pkg/imagegen_bg.wasm | wc -c) gzip"
