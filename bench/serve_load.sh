#!/usr/bin/env bash
# pareto serve against llama.cpp's llama-server (built from ../shared/peers)
# on the same model and the same load, interleaved: for each client count,
# each round runs pareto then llama-server, each for SECONDS under CLIENTS
# concurrent clients (bench/serve_load.mjs, loopback only). Both servers get
# the same threads and as many slots as clients, with CTX positions per slot
# (llama-server: -np CLIENTS -c CLIENTS*CTX; its KV cache is one buffer its
# attention spans whole, so slots nobody uses would cost it time). Prints a markdown table of
# medians over the rounds: requests, failures, p50/p99 latency, tokens/s,
# server RSS before and after the load.
#   bench/serve_load.sh [--model M.gguf] [--clients 1,4,16] [--seconds 60] [--rounds 1] [--threads 2] [--max-tokens 64] [--prompts long|short]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
model= clients=1,4,16 seconds=60 rounds=1 threads=2 max_tokens=64 ctx=512 prompts=long
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2;;
    --clients) clients=$2; shift 2;;
    --seconds) seconds=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    --max-tokens) max_tokens=$2; shift 2;;
    --prompts) prompts=$2; shift 2;;
    *) echo "serve_load.sh: unknown option '$1'" >&2; exit 2;;
  esac
done
pareto=$root/build/pareto
[ -x "$pareto" ] || { echo "serve_load.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
peers=$root/../shared/peers
[ -f "$peers/build-llama-cpp.sh" ] || { echo "serve_load.sh: $peers/build-llama-cpp.sh not found (../shared beside the repository)" >&2; exit 1; }
llama=$root/.cache/llama.cpp
bash "$peers/build-llama-cpp.sh" "$llama" >&2
if [ -z "$model" ]; then
  mkdir -p .cache/bench-models
  model=.cache/bench-models/synth-1.1b-q4_0.gguf
  [ -f "$model" ] || "$pareto" synth --preset 1.1b --type q4_0 -o "$model" --threads 2 >/dev/null
fi
port=18431
log=$(mktemp)
server=
trap '[ -n "$server" ] && kill $server 2>/dev/null; rm -f "$log"' EXIT

rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' /proc/$1/status; }
start_server() {  # pareto|llama SLOTS
  local slots=$2
  if [ "$1" = pareto ]; then
    "$pareto" serve "$model" --port $port --parallel "$slots" --ctx $ctx -t "$threads" --queue 64 2>"$log" &
  else
    "$llama/bin/llama-server" -m "$model" --port $port -np $slots -c $((slots * ctx)) -t "$threads" --no-webui 2>"$log" >/dev/null &
  fi
  server=$!
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && return 0
    kill -0 $server 2>/dev/null || { echo "serve_load.sh: $1 server died:" >&2; cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "serve_load.sh: $1 server not ready" >&2; exit 1
}
stop_server() { kill $server; wait $server 2>/dev/null || true; server=; }

declare -A out rss_at
for c in ${clients//,/ }; do
  for r in $(seq 1 "$rounds"); do
    for engine in pareto llama; do
      start_server $engine "$c"
      node bench/serve_load.mjs "http://127.0.0.1:$port" 1 3 8 >/dev/null  # warm-up
      before=$(rss $server)
      line=$(node bench/serve_load.mjs "http://127.0.0.1:$port" "$c" "$seconds" "$max_tokens" "$prompts")
      after=$(rss $server)
      stop_server
      echo "$engine clients=$c round=$r $line rss_before=$before rss_after=$after" >&2
      out[$engine,$c,$r]=$line
      rss_at[$engine,$c,$r]="$before/$after"
    done
  done
done

median() { tr ' ' '\n' | grep -E '^[0-9]' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
field() { sed -n "s/.*\"$1\":\([0-9.e+-]*\).*/\1/p"; }
echo "model $(basename "$model"), $threads threads, one slot per client x $ctx context, $prompts prompts, $max_tokens tokens per request, ${seconds}s per run, median of $rounds round(s)"
echo
echo "| clients | server | requests | failed | p50 ms | p99 ms | tokens/s | RSS before/after MiB |"
echo "|---|---|---|---|---|---|---|---|"
for c in ${clients//,/ }; do
  for engine in pareto llama; do
    vals() { for r in $(seq 1 "$rounds"); do echo "${out[$engine,$c,$r]}" | field "$1"; done | median; }
    rssv() { for r in $(seq 1 "$rounds"); do echo "${rss_at[$engine,$c,$r]}" | cut -d/ -f"$1"; done | median; }
    name=$([ $engine = pareto ] && echo "pareto serve" || echo "llama-server")
    printf "| %s | %s | %s | %s | %.0f | %.0f | %.1f | %s/%s |\n" "$c" "$name" "$(vals requests)" "$(vals failures)" "$(vals p50_ms)" \
      "$(vals p99_ms)" "$(vals tokens_per_s)" "$(rssv 1)" "$(rssv 2)"
  done
done
