#!/usr/bin/env bash
# The official openai npm client against `pareto serve` on a synthetic model:
# models, chat, completions, streaming with usage, logprobs, errors, an
# aborted stream. Skips (77) where scripts/fetch-models.sh has not installed
# the client.
set -euo pipefail
pareto=$1
root=$2
modules=$root/.cache/npm/node_modules
if [ ! -f "$modules/openai/package.json" ]; then
  echo "skip: the openai npm package is not installed (bash scripts/fetch-models.sh)"; exit 77
fi
tmp=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
"$pareto" synth --preset tiny --type q8_0 -o "$tmp/tiny.gguf" > /dev/null
"$pareto" serve "$tmp/tiny.gguf" --port 0 --parallel 2 --ctx 8192 --api-key test-key --alias tiny 2> "$tmp/serve.log" &
server=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's|.*http://127.0.0.1:\([0-9]*\).*|\1|p' "$tmp/serve.log" | head -n1)
  [ -n "$port" ] && break
  sleep 0.1
done
[ -n "$port" ] || { echo "pareto serve did not start:"; cat "$tmp/serve.log"; exit 1; }
node "$(dirname "$0")/openai_client_test.cjs" "$modules" "http://127.0.0.1:$port" test-key
kill -0 "$server" || { echo "the server died:"; cat "$tmp/serve.log"; exit 1; }
