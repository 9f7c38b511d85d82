#!/usr/bin/env bash
# The main job. Builds the npm package and runs the Node demo (images into
# ./out), then starts the local stack and shows it working:
#   - the mock provider server          http://127.0.0.1:18931 (IMAGEGEN_DEMO_MOCK_PORT)
#   - the Worker under `wrangler dev`   http://127.0.0.1:8787  (IMAGEGEN_DEMO_WORKER_PORT; local KV, .dev.vars)
#   - a curl session against the Worker (store key, set chain, generate with fallback)
#   - the web app (if www/ exists)      http://127.0.0.1:3000  (IMAGEGEN_DEMO_WEB_PORT)
# Offline against mock providers by default; with OPENAI_API_KEY /
# GEMINI_API_KEY / STABILITY_API_KEY set, the Node demo and the web app's
# server routes use those providers.
# Usage: bash scripts/demo.sh [--once] [demo args, e.g. "a red fox" --count 4 --aspect 16:9]
#   --once   stop everything after the demonstrations instead of waiting for Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."
once=0
args=()
for a in "$@"; do if [ "$a" = "--once" ]; then once=1; else args+=("$a"); fi; done
export PATH="$PWD/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
export WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false NEXT_TELEMETRY_DISABLED=1
title() { printf '\n\033[1;36m== %s ==\033[0m\n' "$*"; }

bash scripts/setup.sh
title "npm package"
bash scripts/build-pkg.sh
bash scripts/install-pkg.sh examples
title "Node demo (examples/node-demo.mjs)"
node examples/node-demo.mjs "${args[@]+"${args[@]}"}"

# Everything the demo starts runs in its own session (setsid), so stopping its
# process group stops the whole tree (npx → next-server, wrangler → workerd).
pids=()
group_alive() { [ -n "$(ps -o pid= -g "$1" 2>/dev/null)" ]; }
cleanup() {
  trap - EXIT INT TERM
  for p in "${pids[@]+"${pids[@]}"}"; do kill -TERM -- "-$p" 2>/dev/null || true; done
  for p in "${pids[@]+"${pids[@]}"}"; do
    for _ in $(seq 50); do group_alive "$p" || break; sleep 0.1; done
    kill -KILL -- "-$p" 2>/dev/null || true
  done
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
wait_for() { # url, seconds, log
  for _ in $(seq "$2"); do curl -fsS -o /dev/null "$1" 2>/dev/null && return 0; sleep 1; done
  echo "timed out waiting for $1"; [ -n "${3:-}" ] && tail -40 "$3"; return 1
}

# Ports (override for a second copy or a test run): mock, Worker, web app.
mock_port=${IMAGEGEN_DEMO_MOCK_PORT:-18931}
worker_port=${IMAGEGEN_DEMO_WORKER_PORT:-8787}
web_port=${IMAGEGEN_DEMO_WEB_PORT:-3000}
M=http://127.0.0.1:$mock_port W=http://127.0.0.1:$worker_port WEB=http://127.0.0.1:$web_port

title "mock provider server"
mkdir -p .logs
setsid node tests/mock-server/server.mjs --port "$mock_port" > .logs/mock-server.log 2>&1 &
pids+=($!)
wait_for "$M/__mock/requests" 20 .logs/mock-server.log
echo "listening on $M"

title "Worker (wrangler dev)"
node scripts/dev-vars.mjs "$M"
setsid wrangler dev --port "$worker_port" --ip 127.0.0.1 > .logs/wrangler.log 2>&1 &
pids+=($!)
wait_for "$W/healthz" 300 .logs/wrangler.log
echo "listening on $W (log: .logs/wrangler.log)"

title "curl session against the Worker"
bash scripts/curl-session.sh "$W" "$M"

if [ -f www/package.json ] && [ -f scripts/www.sh ]; then
  title "web app"
  setsid bash scripts/www.sh start "$web_port" > .logs/www.log 2>&1 &
  pids+=($!)
  wait_for "$WEB" 600 .logs/www.log
  echo "open $WEB  (log: .logs/www.log)"
fi

if [ "$once" = 1 ]; then
  title "done (--once)"
  exit 0
fi
title "running: mock $M · worker $W$( [ -f www/package.json ] && echo " · web $WEB"). Ctrl-C stops everything."
# `wait` returns when a signal arrives, so the traps above run at once.
while true; do wait || true; sleep 1; done
