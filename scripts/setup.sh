#!/usr/bin/env bash
# Installs what the build, the demo and the tests need, each step skipped when
# already present at the wanted version.
# Usage: bash scripts/setup.sh [--browser] [--check]
#   --browser   also Debian's chromium + chromium-driver (for the browser tests)
#   --check     install nothing: print each tool, the version wanted and the
#               version found; exit 1 if something is missing or wrong
set -euo pipefail
cd "$(dirname "$0")/.."
cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$PWD/node_modules/.bin:$cargo_bin:$PATH"
want_browser=0
check_only=0
for arg in "$@"; do
  case "$arg" in
    --browser) want_browser=1 ;;
    --check) check_only=1 ;;
    *) echo "usage: bash scripts/setup.sh [--browser] [--check]" >&2; exit 2 ;;
  esac
done
step() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }

# The versions wanted, read from the lockfiles so nothing can drift.
lock_version() { # crate name in Cargo.lock
  awk -v n="$1" '$0 == "name = \"" n "\"" {getline; gsub(/"/, "", $3); print $3; exit}' Cargo.lock
}
npm_version() { # package name in package-lock.json
  node -e 'const l=require("./package-lock.json");const p=l.packages["node_modules/"+process.argv[1]];process.stdout.write(p?p.version:"")' "$1"
}
channel=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
wb_version=$(lock_version wasm-bindgen)
wasm_pack_version=0.15.1

# Each tool: name, wanted version, found version (empty when missing).
found_rustc() { rustc --version 2>/dev/null | awk '{print $2}'; }
found_wasm_target() { rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown && echo installed; }
found_wasm_bindgen() { wasm-bindgen --version 2>/dev/null | awk '{print $2}'; }
found_wasm_pack() { wasm-pack --version 2>/dev/null | awk '{print $2}'; }
found_npm_pkg() { # package: version in node_modules when it matches the lockfile's
  node -e 'try{process.stdout.write(require("./node_modules/"+process.argv[1]+"/package.json").version)}catch{}' "$1" 2>/dev/null
}
py_version() { # pinned package in tests/worker/python/requirements.txt
  sed -n "s/^$1==//p" tests/worker/python/requirements.txt
}
found_py_openai() { .tools/py/bin/python -c 'import openai; print(openai.__version__)' 2>/dev/null; }
found_chromium() { chromium --version 2>/dev/null | awk '{print $2}'; }
found_chromedriver() { chromedriver --version 2>/dev/null | awk '{print $2}'; }

if [ "$check_only" = 1 ]; then
  status=0
  row() { # tool wanted found ("any", an exact version, or ">=N" for a major version)
    local mark=ok
    if [ -z "$3" ]; then mark=MISSING; status=1
    elif [ "${2#>=}" != "$2" ]; then [ "${3%%.*}" -ge "${2#>=}" ] || { mark=WRONG; status=1; }
    elif [ "$2" != any ] && [ "$2" != "$3" ]; then mark=WRONG; status=1; fi
    printf '%-22s wanted %-14s found %-14s %s\n' "$1" "$2" "${3:--}" "$mark"
  }
  row node ">=20" "$(node --version 2>/dev/null | tr -d v)"
  row npm any "$(npm --version 2>/dev/null)"
  row rustc "$channel" "$(found_rustc)"
  row wasm32-target installed "$(found_wasm_target)"
  row wasm-bindgen "$wb_version" "$(found_wasm_bindgen)"
  row wasm-pack "$wasm_pack_version" "$(found_wasm_pack)"
  for p in typescript binaryen esbuild miniflare wrangler openai @google/genai ai @ai-sdk/openai @ai-sdk/google; do
    row "npm:$p" "$(npm_version "$p")" "$(found_npm_pkg "$p")"
  done
  for p in webpack vite vitest playwright-core; do
    row "npm:$p" "$(cd tests/install && npm_version "$p")" "$(cd tests/install && found_npm_pkg "$p")"
  done
  row python3 any "$(python3 --version 2>/dev/null | awk '{print $2}')"
  row py:openai "$(py_version openai)" "$(found_py_openai)"
  row curl any "$(curl --version 2>/dev/null | awk 'NR==1{print $2}')"
  row gzip any "$(gzip --version 2>/dev/null | awk 'NR==1{print $2}')"
  row setsid any "$(command -v setsid >/dev/null && echo present)"
  row ps any "$(command -v ps >/dev/null && echo present)"
  row diff any "$(command -v diff >/dev/null && echo present)"
  if [ "$want_browser" = 1 ]; then
    row chromium any "$(found_chromium)"
    row chromedriver any "$(found_chromedriver)"
  fi
  exit $status
fi

# 0. Tools the scripts call that setup cannot install through a registry.
for tool in node npm python3 curl gzip setsid ps diff rustup cargo; do
  command -v "$tool" >/dev/null || { echo "setup: '$tool' is missing; install it with the machine's package manager" >&2; exit 1; }
done

# 1. The pinned Rust toolchain and the wasm target.
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
if [ -z "$(found_wasm_target)" ]; then
  step "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# cargo install, --locked first; without it when the registry lacks one of the
# locked dependency versions (seen with wasm-bindgen-cli 0.2.130).
cargo_install() { # crate version
  cargo install --quiet --locked "$1" --version "$2" \
    || cargo install --quiet --force "$1" --version "$2"
}

# 2. wasm-bindgen CLI at exactly the version in Cargo.lock.
if [ "$(found_wasm_bindgen)" != "$wb_version" ]; then
  step "installing wasm-bindgen-cli $wb_version (a few minutes)"
  cargo_install wasm-bindgen-cli "$wb_version"
fi

# 3. wasm-pack.
if [ "$(found_wasm_pack)" != "$wasm_pack_version" ]; then
  step "installing wasm-pack $wasm_pack_version (a few minutes)"
  cargo_install wasm-pack "$wasm_pack_version"
fi

# 4. Node tooling (binaryen's wasm-opt, TypeScript, esbuild, Miniflare, wrangler,
#    the official SDKs used as oracles) from the lockfile.
if [ ! -x node_modules/.bin/wasm-opt ] || [ ! -x node_modules/.bin/tsc ] || [ ! -x node_modules/.bin/esbuild ] \
   || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  step "installing npm dev dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

# 5b. The tools of the install checks (tests/install: webpack, Vite, vitest,
#     TypeScript, playwright-core), from their own lockfile.
if [ ! -d tests/install/node_modules/webpack ] || [ tests/install/package-lock.json -nt tests/install/node_modules/.package-lock.json ]; then
  step "installing the install checks' npm dev dependencies"
  (cd tests/install && npm ci --no-audit --no-fund --loglevel=error)
fi

# 5c. The official OpenAI Python client (the Worker's edits are tested with
#     it), pinned, in a venv of its own.
if [ "$(found_py_openai)" != "$(py_version openai)" ]; then
  step "installing the OpenAI Python client into .tools/py"
  [ -x .tools/py/bin/python ] || python3 -m venv .tools/py
  .tools/py/bin/python -m pip install --quiet --disable-pip-version-check -r tests/worker/python/requirements.txt
fi

# 6. Chromium and its driver, for the browser tests.
if [ "$want_browser" = 1 ] && ! { command -v chromium >/dev/null && command -v chromedriver >/dev/null; }; then
  step "installing chromium and chromium-driver"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
step "ready"
