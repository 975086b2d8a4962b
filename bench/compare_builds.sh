#!/usr/bin/env bash
# Two pareto builds side by side (a change's "no slowdown" check): the same
# LLM and OCR benchmarks, the builds alternating within every round, medians
# over the rounds and the ratio NEW / OLD (time: < 1 is faster; tokens/s:
# > 1 is faster).
#   bench/compare_builds.sh OLD_PARETO NEW_PARETO [ROUNDS] [THREADS]
set -euo pipefail
old=${1:?usage: compare_builds.sh OLD_PARETO NEW_PARETO [ROUNDS] [THREADS]}
new=${2:?usage: compare_builds.sh OLD_PARETO NEW_PARETO [ROUNDS] [THREADS]}
rounds=${3:-3} threads=${4:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
models=$root/.cache/bench-models
mkdir -p "$models"
ocr=$root/models/ocr
[ -f "$ocr/ch_PP-OCRv4_det_infer.onnx" ] || { echo "OCR models missing: run scripts/fetch-models.sh" >&2; exit 1; }
for t in q4_0 q8_0; do
  [ -f "$models/synth-0.5b-$t.gguf" ] || "$new" synth --preset 0.5b --type $t -o "$models/synth-0.5b-$t.gguf" --threads 2 >/dev/null
done
field() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }
median() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
declare -A results
run_case() {  # name binary -> one number
  local name=$1 bin=$2
  case $name in
    pp64-*|tg32-*)
      local type=${name#*-} test=${name%%-*}
      "$bin" bench --llm "$models/synth-0.5b-$type.gguf" -p 64 -n 32 -t "$threads" --reps 1 --json | grep "\"test\":\"$test\"" | field tokens_per_s;;
    det) "$bin" bench "$ocr/ch_PP-OCRv4_det_infer.onnx" --shape x=1,3,640,640 --runs 5 --warmup 1 --threads "$threads" -O --json | field median_ms;;
    rec) "$bin" bench "$ocr/ch_PP-OCRv4_rec_infer.onnx" --shape x=1,3,48,320 --runs 20 --warmup 2 --threads "$threads" -O --json | field median_ms;;
    cls) "$bin" bench "$ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx" --shape x=1,3,48,192 --runs 50 --warmup 5 --threads "$threads" -O --json | field median_ms;;
  esac
}
cases="pp64-q4_0 tg32-q4_0 pp64-q8_0 tg32-q8_0 det rec cls"
for ((r = 0; r < rounds; r++)); do
  for c in $cases; do
    # Alternate which build goes first from round to round.
    if ((r % 2 == 0)); then order="old new"; else order="new old"; fi
    for which in $order; do
      bin=$old; [ "$which" = new ] && bin=$new
      results[$c,$which]="${results[$c,$which]:-} $(run_case "$c" "$bin")"
    done
  done
done
printf '%-11s %-11s %12s %12s %8s   (%d rounds, %d threads)\n' case unit old new new/old "$rounds" "$threads"
for c in $cases; do
  unit="ms"; [[ $c == pp* || $c == tg* ]] && unit="tokens/s"
  o=$(echo "${results[$c,old]}" | median) n=$(echo "${results[$c,new]}" | median)
  printf '%-11s %-11s %12.2f %12.2f %8.3f   old:%s new:%s\n' "$c" "$unit" "$o" "$n" "$(awk -v a="$n" -v b="$o" 'BEGIN {print a / b}')" "${results[$c,old]}" "${results[$c,new]}"
done
