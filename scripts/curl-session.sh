#!/usr/bin/env bash
# A curl session against the local Worker: dev JWT → store a key → set the
# provider chain → generate (the primary is scripted to fail so the fallback
# shows) → list keys. Usage: bash scripts/curl-session.sh [worker URL] [mock URL]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-http://127.0.0.1:8787}
M=${2:-http://127.0.0.1:18931}
show() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
short() { node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{const j=JSON.parse(s);for(const d of j.data??[])if(d.b64_json)d.b64_json=d.b64_json.slice(0,24)+"…("+d.b64_json.length+" chars)";console.log(JSON.stringify(j,null,1).slice(0,1800))}catch{console.log(s.slice(0,600))}})'; }

show 'TOKEN=$(node scripts/dev-jwt.mjs demo-user)'
TOKEN=$(node scripts/dev-jwt.mjs demo-user)
echo "${TOKEN:0:24}…"
auth=(-H "authorization: Bearer $TOKEN" -H "content-type: application/json")

show "curl -X PUT $W/v1/keys/openai -d '{\"apiKey\":\"sk-demo-openai-…\"}'"
curl -sS -X PUT "$W/v1/keys/openai" "${auth[@]}" -d '{"apiKey":"sk-demo-openai-0000000000000001"}' | short
show "curl -X PUT $W/v1/keys/gemini -d '{\"apiKey\":\"AIza-demo-…\"}'"
curl -sS -X PUT "$W/v1/keys/gemini" "${auth[@]}" -d '{"apiKey":"AIza-demo-gemini-00000000000001"}' | short
show "curl -X PUT $W/v1/config -d '{\"providers\":[{\"provider\":\"openai\"},{\"provider\":\"gemini\"}]}'"
curl -sS -X PUT "$W/v1/config" "${auth[@]}" -d '{"providers":[{"provider":"openai"},{"provider":"gemini"}]}' | short

# Make the mock OpenAI answer 503 three times for this key, so the Worker falls back.
curl -sS -X POST "$M/__mock/script" -H "content-type: application/json" \
  -d '{"key":"sk-demo-openai-0000000000000001","steps":[{"fixture":"openai/overloaded"},{"fixture":"openai/overloaded"},{"fixture":"openai/overloaded"}]}' >/dev/null
show "curl $W/v1/images/generations -d '{\"prompt\":\"a lighthouse at dusk\",\"n\":2}'   # OpenAI (mock) answers 503 three times"
curl -sS "$W/v1/images/generations" "${auth[@]}" -d '{"prompt":"a lighthouse at dusk","n":2}' | short
show "curl $W/v1/keys"
curl -sS "$W/v1/keys" "${auth[@]}" | short
