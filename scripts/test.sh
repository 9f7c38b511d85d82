#!/usr/bin/env bash
# Runs every test: formatting and lints, native Rust tests, the mock server's
# own tests, wasm-bindgen tests in Node and headless Chromium, the JS and
# TypeScript tests of the built npm package, the packed package installed into
# fresh projects, the Worker, the web app. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export CARGO_TERM_COLOR=never
section() { printf '\n\033[1m=== %s ===\033[0m\n' "$*"; }
summary=()
record() { summary+=("$1"); }

section "format and lints"
cargo fmt --all --check
cargo clippy --quiet --workspace --all-targets -- -D warnings
cargo clippy --quiet --workspace --target wasm32-unknown-unknown --all-targets -- -D warnings
record "fmt + clippy (native, wasm32): clean"

section "native tests"
native_out=$(cargo test --quiet --workspace 2>&1) || { echo "$native_out"; exit 1; }
echo "$native_out" | grep -E "^test result" || true
native_passed=$(echo "$native_out" | awk '/^test result/{s+=$4} END{print s+0}')
record "native cargo tests: $native_passed passed"

section "mock provider server tests"
mock_tests=$(node --test tests/mock-server/server.test.mjs tests/mock-server/sdk.test.mjs 2>&1) || { echo "$mock_tests"; exit 1; }
echo "$mock_tests" | grep -E "^# (pass|fail|skipped)"
record "mock server tests: $(echo "$mock_tests" | awk '/^# pass/{print $3}') passed"

section "npm package build"
bash scripts/build-pkg.sh

section "conformance: the package's requests and errors against the providers' official SDKs"
bash scripts/install-pkg.sh tests/conformance
conf_out=$(node --test tests/conformance/ 2>&1) || { echo "$conf_out"; exit 1; }
echo "$conf_out" | grep -E "^# (tests|pass|fail|skipped|todo)"
conf_skipped=$(echo "$conf_out" | awk '/^# skipped/{print $3}')
conf_todo=$(echo "$conf_out" | awk '/^# todo/{print $3}')
[ "${conf_skipped:-0}" = 0 ] && [ "${conf_todo:-0}" = 0 ] || { echo "skipped tests are not allowed"; exit 1; }
record "conformance tests (official SDKs as oracles): $(echo "$conf_out" | awk '/^# pass/{print $3}') passed"

section "wasm-bindgen tests (Node, headless Chromium) against the mock server"
mock_log=$(mktemp)
browser_tmp=$(mktemp -d)
mock_pid=""
cleanup() { [ -n "$mock_pid" ] && kill "$mock_pid" 2>/dev/null; rm -rf "$browser_tmp" "$mock_log"; }
trap cleanup EXIT
start_mock() { # port; sets mock_url (empty if it could not listen)
  node tests/mock-server/server.mjs --port "$1" >"$mock_log" 2>&1 &
  mock_pid=$!
  for _ in $(seq 50); do
    grep -q '"url"' "$mock_log" && break
    kill -0 "$mock_pid" 2>/dev/null || break
    sleep 0.1
  done
  mock_url=$(sed -n 's/.*"url":"\([^"]*\)".*/\1/p' "$mock_log")
}
# A fixed port keeps the wasm test builds cached (the URL is compiled in);
# any free port if that one is taken.
start_mock "${IMAGEGEN_MOCK_PORT:-18931}"
[ -n "$mock_url" ] || start_mock 0
[ -n "$mock_url" ] || { echo "mock server did not start:"; cat "$mock_log"; exit 1; }
export IMAGEGEN_MOCK_URL="$mock_url"
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export CHROMEDRIVER=/usr/bin/chromedriver
node_out=$(cargo test --target wasm32-unknown-unknown --test node 2>&1) || { echo "$node_out"; exit 1; }
echo "$node_out" | grep -E "^test result"
web_out=$(TMPDIR="$browser_tmp" cargo test --target wasm32-unknown-unknown --test web 2>&1) || { echo "$web_out"; exit 1; }
echo "$web_out" | grep -E "^test result"
record "wasm-bindgen tests: $(echo "$node_out" | awk '/^test result/{print $4}') in Node, $(echo "$web_out" | awk '/^test result/{print $4}') in Chromium"

section "JS tests of the built package (installed as a user would)"
bash scripts/install-pkg.sh tests/js
js_out=$(node --test --test-concurrency=1 tests/js/ 2>&1) || { echo "$js_out"; exit 1; }
echo "$js_out" | grep -E "^# (tests|pass|fail|skipped|todo)"
js_skipped=$(echo "$js_out" | awk '/^# skipped/{print $3}')
js_todo=$(echo "$js_out" | awk '/^# todo/{print $3}')
[ "${js_skipped:-0}" = 0 ] && [ "${js_todo:-0}" = 0 ] || { echo "skipped tests are not allowed"; exit 1; }
tsc -p tests/js
record "JS package tests: $(echo "$js_out" | awk '/^# pass/{print $3}') passed; TypeScript check of tests/js/types.ts: ok"

section "install checks: the packed package in fresh projects (Node ESM/CJS, TypeScript, webpack, Vite, vitest, workerd)"
install_out=$(node --test --test-concurrency=1 tests/install/ 2>&1) || { echo "$install_out"; exit 1; }
echo "$install_out" | grep -E "^# (tests|pass|fail|skipped|todo)"
i_skipped=$(echo "$install_out" | awk '/^# skipped/{print $3}')
i_todo=$(echo "$install_out" | awk '/^# todo/{print $3}')
[ "${i_skipped:-0}" = 0 ] && [ "${i_todo:-0}" = 0 ] || { echo "skipped tests are not allowed"; exit 1; }
record "install checks of the packed tarball: $(echo "$install_out" | awk '/^# pass/{print $3}') passed"

section "Worker: build, then end-to-end in workerd (Miniflare) with the mock providers"
bash scripts/build-worker.sh
worker_out=$(node --test --test-force-exit tests/worker/ 2>&1) || { echo "$worker_out"; exit 1; }
echo "$worker_out" | grep -E "^# (tests|pass|fail|skipped|todo)"
w_skipped=$(echo "$worker_out" | awk '/^# skipped/{print $3}')
[ "${w_skipped:-0}" = 0 ] || { echo "skipped tests are not allowed"; exit 1; }
record "Worker end-to-end tests: $(echo "$worker_out" | awk '/^# pass/{print $3}') passed"

section "web app (www/): next build offline, then browser end-to-end in Chromium"
www_out=$(bash scripts/www.sh test 2>&1) || { echo "$www_out" | tail -80; exit 1; }
echo "$www_out" | grep -E "^# (tests|pass|fail|skipped|todo)"
www_skipped=$(echo "$www_out" | awk '/^# skipped/{print $3}')
[ "${www_skipped:-0}" = 0 ] || { echo "skipped tests are not allowed"; exit 1; }
record "web app: next build ok; browser end-to-end tests: $(echo "$www_out" | awk '/^# pass/{print $3}') passed"

section "wasm size budgets, benchmark smoke run"
bash scripts/check-size.sh
bash bench/run.sh --smoke > /dev/null
record "size budgets: ok; benchmark smoke run: ok"

section "the README's main command: demo.sh --once and Ctrl-C leave nothing running"
demo_out=$(node --test --test-concurrency=1 tests/demo/ 2>&1) || { echo "$demo_out" | tail -80; exit 1; }
echo "$demo_out" | grep -E "^# (tests|pass|fail|skipped|todo)"
d_skipped=$(echo "$demo_out" | awk '/^# skipped/{print $3}')
[ "${d_skipped:-0}" = 0 ] || { echo "skipped tests are not allowed"; exit 1; }
record "demo: --once and Ctrl-C stop every process they started ($(echo "$demo_out" | awk '/^# pass/{print $3}') passed)"

section "summary"
printf '%s\n' "${summary[@]}"
echo "all tests passed"
