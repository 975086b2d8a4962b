#!/usr/bin/env bash
# Interleaved latency comparison, pareto vs ONNX Runtime, on the PP-OCRv4
# models: ROUNDS rounds, each running every engine back to back; prints the
# median of each engine's per-round medians and the ratios.
#   pareto_fp32  the float model (-O: pareto compiles it at load)
#   pareto_int8  pareto's int8 model (bench/quantize_ocr.sh: .cache/ocr-int8)
#   ort_fp32     ONNX Runtime 1.30, all graph optimizations, the float model
#   ort_int8     ONNX Runtime on pareto's full-QDQ file of the same model
#                (.cache/ocr-int8-qdq, which it fuses into QLinearConv)
# The int8 columns are skipped (-) until bench/quantize_ocr.sh has run.
# usage: bench/compare_ort.sh [ROUNDS] [THREADS] [-O]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5} threads=${2:-1} compile=${3:-}
ort=$root/.cache/npm/node_modules
p=$root/build/pareto
int8=$root/.cache/ocr-int8 qdq=$root/.cache/ocr-int8-qdq
printf '%-5s %-14s %3s %11s %11s %9s %9s %10s %10s %10s\n' model input thr pareto_fp32 pareto_int8 ort_fp32 ort_int8 fp32/ort int8/ort int8/ort8
for spec in det:ch_PP-OCRv4_det_infer.onnx:1,3,640,640:5 rec:ch_PP-OCRv4_rec_infer.onnx:1,3,48,320:20 cls:ch_ppocr_mobile_v2.0_cls_infer.onnx:1,3,48,192:50; do
  IFS=: read -r tag file shape runs <<<"$spec"
  pf=() pi=() of=() oi=()
  pbench() { "$p" bench "$1" --shape "x=$shape" --runs "$runs" --warmup 2 --threads "$threads" $compile --json | sed 's/.*"median_ms": *\([0-9.e+-]*\).*/\1/'; }
  obench() { node "$root/bench/ort_bench.js" "$ort" "$1" "x=$shape" "$runs" "$threads" opt | sed 's/.*"median_ms":\([0-9.]*\).*/\1/'; }
  for ((r = 0; r < rounds; r++)); do
    pf+=("$(pbench "$root/models/ocr/$file")")
    [ -f "$int8/$file" ] && pi+=("$(pbench "$int8/$file")")
    of+=("$(obench "$root/models/ocr/$file")")
    [ -f "$qdq/$file" ] && oi+=("$(obench "$qdq/$file")")
  done
  med() { [ $# -eq 0 ] && { echo -; return; }; printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2fx", a / b }'; }
  PF=$(med "${pf[@]}") PI=$(med ${pi[@]+"${pi[@]}"}) OF=$(med "${of[@]}") OI=$(med ${oi[@]+"${oi[@]}"})
  printf '%-5s %-14s %3s %11s %11s %9s %9s %10s %10s %10s\n' "$tag" "$shape" "$threads" "$PF" "$PI" "$OF" "$OI" \
    "$(ratio "$PF" "$OF")" "$(ratio "$PI" "$OF")" "$(ratio "$PI" "$OI")"
done
