#!/usr/bin/env bash
# Decode speed of tune's written model and of llama.cpp's mixes in both
# engines, side by side in one run: llama-bench (llama.cpp from
# ../shared/peers, built by bench/tune_llm.sh into .cache/llama.cpp) and
# `pareto bench --llm` on each file, 64 decoded tokens at 1 thread, rounds
# interleaved with the order alternating; medians of the tokens/s.
#   bash bench/tune_llm_peer.sh [--rounds 5] [FILE.gguf ...]
# Default files: bench/tune_llm.sh's outputs for stories260K (llama.cpp's
# Q4_K_M mix and tune's written model).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=5
[ "${1:-}" = "--rounds" ] && { rounds=$2; shift 2; }
files=("$@")
[ ${#files[@]} -gt 0 ] || files=("$root/.cache/tune-llm/stories260K-Q4_K_M.gguf" "$root/.cache/tune-llm/stories260K-tuned.gguf")
llama=$root/.cache/llama.cpp/bin/llama-bench pareto=$root/build/pareto
[ -x "$llama" ] || { echo "tune_llm_peer.sh: run bench/tune_llm.sh first (it builds llama.cpp)" >&2; exit 1; }
for f in "${files[@]}"; do [ -f "$f" ] || { echo "tune_llm_peer.sh: $f not found" >&2; exit 1; }; done
out=$(mktemp)
trap 'rm -f "$out"' EXIT
llama_ts() { "$llama" -m "$1" -p 0 -n 64 -t 1 -r 1 -o jsonl 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.trim().split("\n")){const j=JSON.parse(l);if(j.n_gen>0)console.log(j.avg_ts)}})'; }
pareto_ts() { "$pareto" bench --llm "$1" -p 1 -n 64 -t 1 --reps 1 --json 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{for(const l of s.trim().split("\n")){const j=JSON.parse(l);if(j.test.startsWith("tg"))console.log(j.tokens_per_s)}})'; }
for r in $(seq 1 "$rounds"); do
  for f in "${files[@]}"; do
    if [ $((r % 2)) = 1 ]; then a=$(llama_ts "$f"); b=$(pareto_ts "$f"); else b=$(pareto_ts "$f"); a=$(llama_ts "$f"); fi
    echo "$(basename "$f") $a $b" >> "$out"
  done
done
node - "$out" <<'JS'
const rows = require('fs').readFileSync(process.argv[2], 'utf8').trim().split('\n').map(l => l.split(' '));
const by = {};
for (const [f, a, b] of rows) { (by[f] = by[f] || {l: [], p: []}); by[f].l.push(+a); by[f].p.push(+b); }
const med = v => { v = [...v].sort((x, y) => x - y); return v[v.length >> 1]; };
console.log('| file | llama.cpp tok/s | pareto tok/s | pareto / llama.cpp |\n|---|---|---|---|');
for (const f in by) { const l = med(by[f].l), p = med(by[f].p); console.log(`| ${f} | ${l.toFixed(0)} | ${p.toFixed(0)} | ${(p / l).toFixed(2)} |`); }
JS
