#!/usr/bin/env bash
# Memory of pareto serve under a steady load: CLIENTS clients for SECONDS
# (bench/serve_load.mjs), the server's resident set sampled every STEP
# seconds. Prints the samples and the growth from the first sample after
# the warm-up minute to the last.
#   bench/serve_soak.sh [--model M.gguf] [--seconds 600] [--clients 4] [--step 30] [--threads 2]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model= seconds=600 clients=4 step=30 threads=2
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2;;
    --seconds) seconds=$2; shift 2;;
    --clients) clients=$2; shift 2;;
    --step) step=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    *) echo "serve_soak.sh: unknown option '$1'" >&2; exit 2;;
  esac
done
pareto=$root/build/pareto
[ -x "$pareto" ] || { echo "serve_soak.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
if [ -z "$model" ]; then
  mkdir -p .cache/bench-models
  model=.cache/bench-models/synth-1.1b-q4_0.gguf
  [ -f "$model" ] || "$pareto" synth --preset 1.1b --type q4_0 -o "$model" --threads 2 >/dev/null
fi
port=18432
"$pareto" serve "$model" --port $port --parallel "$clients" --ctx 512 -t "$threads" 2>/dev/null &
server=$!
out=$(mktemp)
load=
trap 'kill $server $load 2>/dev/null; rm -f "$out"' EXIT
ready=0
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && { ready=1; break; }; sleep 0.1; done
[ $ready = 1 ] || { echo "serve_soak.sh: the server did not become ready" >&2; exit 1; }
node bench/serve_load.mjs "http://127.0.0.1:$port" "$clients" "$seconds" 64 > "$out" &
load=$!
echo "| seconds | RSS MiB | generated tokens |"
echo "|---|---|---|"
first= last=
for t in $(seq 0 "$step" "$seconds"); do
  rss=$(awk '/^VmRSS:/ {print int($2 / 1024)}' /proc/$server/status)
  tokens=$(curl -s "http://127.0.0.1:$port/metrics" | awk '/^pareto_generated_tokens_total / {print $2}')
  echo "| $t | $rss | $tokens |"
  [ "$t" -ge 60 ] && [ -z "$first" ] && first=$rss
  last=$rss
  [ "$t" -lt "$seconds" ] && sleep "$step"
done
wait $load
load=
echo
echo "load: $(cat "$out")"
echo "RSS from 60 s to the end: ${first:-?} -> $last MiB"
