#!/usr/bin/env bash
# Installs what the build and the tests need, each step skipped when already
# present. Usage: bash scripts/setup.sh [--browser]
#   --browser   also Debian's chromium + chromium-driver (for the browser tests)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
want_browser=0
for arg in "$@"; do [ "$arg" = "--browser" ] && want_browser=1; done
step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# 1. The pinned Rust toolchain and the wasm target.
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
if ! rustup toolchain list | grep -q "^$channel"; then
  stable_version=$(rustc +stable --version 2>/dev/null | awk '{print $2}')
  if [ "$stable_version" = "$channel" ]; then
    step "linking toolchain $channel to the installed stable"
    rustup toolchain link "$channel" "$(rustc +stable --print sysroot)"
  else
    step "installing toolchain $channel"
    rustup toolchain install "$channel" --profile minimal --component rustfmt,clippy
  fi
fi
if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# 2. wasm-bindgen CLI at exactly the version in Cargo.lock.
[ -f Cargo.lock ] || cargo generate-lockfile
wb_version=$(awk '/^name = "wasm-bindgen"$/{getline; gsub(/"/,"",$3); print $3; exit}' Cargo.lock)
if [ "$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')" != "$wb_version" ]; then
  step "installing wasm-bindgen-cli $wb_version (a few minutes)"
  # --locked can fail when the registry lacks one locked dependency version.
  cargo install --quiet --locked wasm-bindgen-cli --version "$wb_version" \
    || cargo install --quiet --force wasm-bindgen-cli --version "$wb_version"
fi

# 3. wasm-pack.
if ! command -v wasm-pack >/dev/null; then
  step "installing wasm-pack (a few minutes)"
  cargo install --quiet --locked wasm-pack
fi

# 4. Node tooling (binaryen's wasm-opt, TypeScript) from the lockfile.
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/tsc ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dev dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 5. Chromium and its driver, for the browser tests.
if [ "$want_browser" = 1 ] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  step "installing chromium and chromium-driver"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
step "ready"
