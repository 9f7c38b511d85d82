#!/usr/bin/env bash
# The demo web app in www/ (Next.js): install, build, test, run.
#   bash scripts/www.sh install       # pkg/ (built if missing) copied into www/node_modules by `npm ci`
#   bash scripts/www.sh build         # next build (offline)
#   bash scripts/www.sh test          # install, next build, then the browser end-to-end tests
#   bash scripts/www.sh start [port]  # build if needed, then next start on http://127.0.0.1:3000
# `start` turns on the Worker mode's dev login (IMAGEGEN_DEV_LOGIN=1) with JWT_SECRET from
# .dev.vars when that file exists (it is written by scripts/dev-vars.mjs / scripts/demo.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
export NEXT_TELEMETRY_DISABLED=1

install() {
  [ -f pkg/imagegen_bg.wasm ] || bash scripts/build-pkg.sh
  # www depends on "file:../pkg" installed as a copy (www/.npmrc: install-links=true);
  # reinstall when that copy is missing or differs from pkg/.
  if [ ! -d www/node_modules/next ] || ! diff -rq -x .gitignore pkg www/node_modules/imagegen >/dev/null 2>&1; then
    (cd www && npm ci --no-audit --no-fund --loglevel=error && rm -rf .next)
  fi
}

build() {
  (cd www && npx next build)
}

case "${1:-test}" in
  install) install ;;
  build) install; build ;;
  test)
    install
    # The Worker-mode test runs the built Worker in Miniflare (root devDependency) and
    # the tests drive Debian's Chromium.
    [ -d node_modules/miniflare ] || npm ci --no-audit --no-fund --loglevel=error
    [ -f worker/build/index.js ] || bash scripts/build-worker.sh
    if [ ! -x /usr/bin/chromium ]; then
      apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium >/dev/null
    fi
    (cd www && npm test)
    ;;
  start)
    install
    [ -f www/.next/BUILD_ID ] || build
    if [ -f .dev.vars ]; then
      secret=$(sed -n 's/^JWT_SECRET=["'\'']\{0,1\}\([^"'\'']*\)["'\'']\{0,1\}$/\1/p' .dev.vars)
      if [ -n "$secret" ]; then export IMAGEGEN_DEV_LOGIN=1 JWT_SECRET="$secret"; fi
    fi
    port="${2:-3000}"
    echo "demo: http://127.0.0.1:$port  (dev login for the Worker mode: ${IMAGEGEN_DEV_LOGIN:-off})"
    cd www && exec npx next start -p "$port" -H 127.0.0.1
    ;;
  *) echo "usage: bash scripts/www.sh install|build|test|start [port]" >&2; exit 2 ;;
esac
