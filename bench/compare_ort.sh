#!/usr/bin/env bash
# Interleaved latency comparison, pareto vs ONNX Runtime, on the PP-OCRv4
# models: ROUNDS rounds, each running both engines back to back; prints the
# median of each engine's per-round medians and their ratio.
# usage: bench/compare_ort.sh [ROUNDS] [THREADS] [-O]   (-O: pareto compiles the graph at load)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5} threads=${2:-1} compile=${3:-}
ort=$root/.cache/npm/node_modules
p=$root/build/pareto
printf '%-8s %-14s %7s %12s %12s %12s %10s\n' model input threads pareto_ms ort_ms ort_noopt_ms ratio
for spec in det:ch_PP-OCRv4_det_infer.onnx:1,3,640,640:5 rec:ch_PP-OCRv4_rec_infer.onnx:1,3,48,320:20 cls:ch_ppocr_mobile_v2.0_cls_infer.onnx:1,3,48,192:50; do
  IFS=: read -r tag file shape runs <<<"$spec"
  model=$root/models/ocr/$file
  pm=() om=() on=()
  for ((r = 0; r < rounds; r++)); do
    pm+=("$("$p" bench "$model" --shape "x=$shape" --runs "$runs" --warmup 2 --threads "$threads" $compile --json | sed 's/.*"median_ms": *\([0-9.e+-]*\).*/\1/')")
    om+=("$(node "$root/bench/ort_bench.js" "$ort" "$model" "x=$shape" "$runs" "$threads" opt | sed 's/.*"median_ms":\([0-9.]*\).*/\1/')")
    on+=("$(node "$root/bench/ort_bench.js" "$ort" "$model" "x=$shape" "$runs" "$threads" noopt | sed 's/.*"median_ms":\([0-9.]*\).*/\1/')")
  done
  med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
  P=$(med "${pm[@]}") O=$(med "${om[@]}") N=$(med "${on[@]}")
  printf '%-8s %-14s %7s %12.2f %12.2f %12.2f %9.2fx\n' "$tag" "$shape" "$threads" "$P" "$O" "$N" "$(awk -v a="$P" -v b="$O" 'BEGIN {print a / b}')"
done
