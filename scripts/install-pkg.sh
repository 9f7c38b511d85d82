#!/usr/bin/env bash
# Installs the built pkg/ into a consumer folder (tests/js, examples, www) as a
# copy, the way a user's project would. npm keeps an existing copy of a
# same-version file: dependency, so the old copy is removed first.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:?usage: install-pkg.sh <folder with a package.json depending on file:../pkg>}
rm -rf "$dir/node_modules/imagegen"
(cd "$dir" && npm install --install-links --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null)
cmp -s pkg/imagegen_bg.wasm "$dir/node_modules/imagegen/imagegen_bg.wasm" || { echo "stale imagegen copy in $dir"; exit 1; }
