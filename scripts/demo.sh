#!/usr/bin/env bash
# The main job: builds the npm package and runs the Node demo, which writes
# images to ./out. Offline against the built-in mock provider by default;
# real providers when OPENAI_API_KEY / GEMINI_API_KEY / STABILITY_API_KEY are set.
# Extra arguments go to the demo (e.g. "a red fox" --count 4 --aspect 16:9).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build-pkg.sh
(cd examples && npm install --install-links --no-audit --no-fund --no-package-lock --loglevel=error >/dev/null)
node examples/node-demo.mjs "$@"
