#!/usr/bin/env bash
# Builds the Worker (worker/) into worker/build/: cargo (wasm32, release),
# wasm-bindgen (web target, so the entry passes in the module workerd has
# compiled), wasm-opt -Oz, and the entry module worker/js/index.js bundled
# with wasm-bindgen's JS glue by esbuild (minified: less for the runtime to
# parse at start-up). Uses the registry-installed wasm-bindgen, wasm-opt and
# esbuild; nothing is downloaded.
#   worker/build/index.js        entry and glue, one module (wrangler.toml `main`)
#   worker/build/index_bg.wasm   the optimised wasm, imported by index.js
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
export PATH="$root/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
[ -x node_modules/.bin/wasm-opt ] && [ -x node_modules/.bin/esbuild ] || npm ci --no-audit --no-fund --loglevel=error
target_dir=$(cargo metadata --format-version 1 --no-deps | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>console.log(JSON.parse(s).target_directory))')
cargo build --quiet --release --target wasm32-unknown-unknown -p imagegen-worker
out=worker/build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# --experimental-reset-state-function: the entry starts a fresh instance after a trap.
wasm-bindgen --target web --out-dir "$tmp" --out-name glue --no-typescript \
  --experimental-reset-state-function "$target_dir/wasm32-unknown-unknown/release/imagegen_worker.wasm"
wasm-opt -Oz --enable-bulk-memory --enable-nontrapping-float-to-int --enable-sign-ext \
  --enable-mutable-globals --strip-debug --strip-producers "$tmp/glue_bg.wasm" -o "$tmp/index_bg.wasm"
cp worker/js/*.js "$tmp/"
mv "$tmp/index.js" "$tmp/entry.js"
# wasm-bindgen's glue may list a JS snippet module (worker/js/form.js, the
# library's inputs.js) several times in its imports object, each time the
# same module: esbuild's duplicate-key warning about it is silenced.
esbuild "$tmp/entry.js" --bundle --format=esm --platform=neutral --minify --log-level=warning \
  --log-override:duplicate-object-key=silent \
  --external:./index_bg.wasm --external:cloudflare:workers --outfile="$tmp/index.js"
rm -rf "$out"
mkdir -p "$out"
cp "$tmp/index.js" "$tmp/index_bg.wasm" "$out/"
echo "worker built: $(wc -c < "$out/index_bg.wasm") bytes wasm, $(gzip -9c "$out/index_bg.wasm" | wc -c) gzip ($out/index_bg.wasm)"
