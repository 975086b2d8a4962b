#!/usr/bin/env bash
# pareto ocr against the ONNX Runtime PP-OCRv4 pipeline of npm
# @gutenye/ocr-node on the same generated images, side by side: for each
# thread count and round, each category runs in pareto and in the peer, one
# after the other (the order alternates per round), every image timed end to
# end (decode to text) after one untimed warm-up image per process.
#
# usage: bash bench/compare_ocr.sh [--rounds 3] [--threads "1 2"] [--out DIR]   (PIN=CPU)
# Prints per category: exact lines, CER (spaces count), median latency per
# image (median over rounds), peak RSS, for both, and the latency ratio.
# PIN=CPU runs both engines' 1-thread processes under `taskset -c CPU`: on
# a 2-vCPU VM one vCPU can run a thread 40% slower than the other for
# minutes, and unpinned each process lands on either (1-thread ratios of
# one category then moved 0.30 -> 0.45 between runs of the same code).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=3 threads="1 2" out=$root/.cache/ocr-compare
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "usage: compare_ocr.sh [--rounds N] [--threads \"1 2\"] [--out DIR]" >&2; exit 2 ;;
  esac
done
pareto=$root/build/pareto
[ -x "$pareto" ] || { echo "compare_ocr: build pareto first (bash scripts/build.sh release)" >&2; exit 1; }
bash "$root/scripts/fetch-models.sh" >&2
modules=$(bash "$root/bench/ocr/fetch-peer.sh")
# The image set, regenerated when its generator changes.
set_dir=$root/.cache/ocr-set
bash "$root/bench/ocr/ensure_set.sh" "$set_dir"
rm -rf "$out"; mkdir -p "$out"
categories=$(node -e 'const t=require(process.argv[1]);console.log([...new Set(t.map(x=>x.category))].join(" "))' "$set_dir/truth.json")
pin=()
if [ -n "${PIN:-}" ]; then
  taskset -c "$PIN" true || { echo "compare_ocr: PIN=$PIN names no cpu this process may use (taskset above)" >&2; exit 1; }
  echo "compare_ocr: 1-thread processes of both engines pinned to cpu $PIN" >&2
fi
for t in $threads; do
  pin=()
  [ -n "${PIN:-}" ] && [ "$t" = 1 ] && pin=(taskset -c "$PIN")
  for r in $(seq 1 "$rounds"); do
    for c in $categories; do
      ls "$set_dir/$c"/* > "$out/$c.list"
      mapfile -t images < "$out/$c.list"
      run_pareto() { ${pin[@]+"${pin[@]}"} "$pareto" ocr "${images[@]}" --jsonl --warmup 1 --threads "$t" > "$out/pareto-t$t-r$r-$c.jsonl"; }
      run_peer() { ${pin[@]+"${pin[@]}"} node "$root/bench/ocr/peer_ocr.mjs" "$modules" "$t" "$out/$c.list" > "$out/peer-t$t-r$r-$c.jsonl"; }
      if [ $((r % 2)) -eq 1 ]; then run_pareto; run_peer; else run_peer; run_pareto; fi
    done
    echo "compare_ocr: threads $t round $r done" >&2
  done
done
node "$root/bench/ocr/report.mjs" "$set_dir" "$out" "$threads" "$rounds"
