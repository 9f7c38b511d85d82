#!/usr/bin/env bash
# Fails when a wasm artifact outgrows its budget (gzip): the npm package
# 190 KB, the Worker 270 KB (it starts faster the smaller it is; see
# bench/RESULTS.md). Deterministic, so it may fail CI.
set -euo pipefail
cd "$(dirname "$0")/.."
status=0
check() {
  local file=$1 limit_kb=$2
  local gz; gz=$(gzip -9c "$file" | wc -c)
  local kb=$(( (gz + 1023) / 1024 ))
  if [ "$gz" -le $(( limit_kb * 1024 )) ]; then
    echo "size ok: $file ${kb} KB gzip (limit ${limit_kb} KB)"
  else
    echo "size FAIL: $file ${kb} KB gzip exceeds ${limit_kb} KB"; status=1
  fi
}
check pkg/imagegen_bg.wasm 190
check worker/build/index_bg.wasm 270
exit $status
