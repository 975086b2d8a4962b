#!/usr/bin/env bash
# Interleaved latency and memory comparison, pareto vs ONNX Runtime, on the
# PP-OCRv4 models: ROUNDS rounds, each running every engine back to back;
# prints the median of each engine's per-round medians, the ratios, and
# peak memory.
#   pareto_fp32  the float model (-O: pareto compiles it at load)
#   pareto_bf16  the float model with its convs in bf16 (--precision bf16)
#   pareto_int8  pareto's int8 model (bench/quantize_ocr.sh: .cache/ocr-int8)
#   pareto_qdq   pareto on the full-QDQ file ONNX Runtime runs (ort_int8)
#   ort_fp32     ONNX Runtime 1.30, all graph optimizations, the float model
#   ort_int8     ONNX Runtime on pareto's full-QDQ file of the same model
#                (.cache/ocr-int8-qdq, which it fuses into QLinearConv)
# Memory (MiB, median over rounds): pareto's peak RSS (the whole process);
# ONNX Runtime's peak RSS less what node held before loading it (so node's
# own runtime is not charged to ONNX Runtime).
# bf16 error: relative L2 of pareto_bf16's outputs against pareto_fp32's
# on the same input (pareto bench reports it).
# The int8 columns are skipped (-) until bench/quantize_ocr.sh has run.
# With THREADS > 1 the run starts and ends with `pareto bench --bandwidth`:
# whether this machine's threads got cores of their own meanwhile (a VM's
# vCPUs may share one physical core at times; two-thread timings from
# such a stretch say nothing about the kernels' scaling).
# PIN=CPUS runs every engine under `taskset -c CPUS` (util-linux): at 1
# thread, PIN=1 keeps both engines on one vCPU, where unpinned each process
# lands on either and a VM's two vCPUs can differ by 40% for minutes
# (bench/thread_scaling.sh measures that).
# usage: bench/compare_ort.sh [ROUNDS] [THREADS] [-O]   (ONLY=det|rec|cls: one model; PIN=CPUS)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5} threads=${2:-1} compile=${3:-}
ort=$root/.cache/npm/node_modules
p=$root/build/pareto
int8=$root/.cache/ocr-int8 qdq=$root/.cache/ocr-int8-qdq
field() { sed "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/"; }
cores() {  # a failing probe must not stop the comparison
  if [ "$threads" -gt 1 ]; then "$p" bench --bandwidth -t "1,$threads" | sed "s/^/# $1: /" || echo "# $1: bench --bandwidth failed"; fi
}
pin=()
if [ -n "${PIN:-}" ]; then
  taskset -c "$PIN" true || { echo "compare_ort: PIN=$PIN names no cpu this process may use (taskset above)" >&2; exit 1; }
  pin=(taskset -c "$PIN")
  echo "# every engine pinned to CPU(s) $PIN"
fi
cores before
printf '%-5s %-14s %3s | %8s %8s %8s %8s %8s %8s | %7s %7s %7s %7s %7s | %9s | %6s %6s %6s %6s %6s\n' model input thr \
  p_fp32 p_bf16 p_int8 p_qdq ort_fp32 ort_int8 fp32/o bf16/o int8/o int8/o8 qdq/o8 bf16_err rss_pf rss_pi rss_pq rss_of rss_oi
for spec in det:ch_PP-OCRv4_det_infer.onnx:1,3,640,640:10 rec:ch_PP-OCRv4_rec_infer.onnx:1,3,48,320:20 cls:ch_ppocr_mobile_v2.0_cls_infer.onnx:1,3,48,192:50; do
  IFS=: read -r tag file shape runs <<<"$spec"
  [ -n "${ONLY:-}" ] && [ "$ONLY" != "$tag" ] && continue
  pf=() pb=() pi=() pq=() of=() oi=() mpf=() mpi=() mpq=() mof=() moi=() err=-
  pbench() { ${pin[@]+"${pin[@]}"} "$p" bench "$1" --shape "x=$shape" --runs "$runs" --warmup 2 --threads "$threads" $compile "${@:2}" --json; }
  obench() { ${pin[@]+"${pin[@]}"} node "$root/bench/ort_bench.js" "$ort" "$1" "x=$shape" "$runs" "$threads" opt; }
  for ((r = 0; r < rounds; r++)); do
    j=$(pbench "$root/models/ocr/$file"); pf+=("$(field median_ms <<<"$j")"); mpf+=("$(field peak_rss_bytes <<<"$j")")
    if [ -n "$compile" ]; then
      j=$(pbench "$root/models/ocr/$file" --precision bf16); pb+=("$(field median_ms <<<"$j")")
      err=$(sed 's/.*"relative_l2": *\([0-9.e+-]*\).*/\1/' <<<"$j")
    fi
    if [ -f "$int8/$file" ]; then j=$(pbench "$int8/$file"); pi+=("$(field median_ms <<<"$j")"); mpi+=("$(field peak_rss_bytes <<<"$j")"); fi
    j=$(obench "$root/models/ocr/$file"); of+=("$(sed 's/.*"median_ms":\([0-9.]*\).*/\1/' <<<"$j")")
    mof+=("$(node -e 'const j=JSON.parse(process.argv[1]);console.log(j.peak_rss_bytes-j.node_baseline_rss_bytes)' "$j")")
    if [ -f "$qdq/$file" ]; then
      j=$(pbench "$qdq/$file"); pq+=("$(field median_ms <<<"$j")"); mpq+=("$(field peak_rss_bytes <<<"$j")")
      j=$(obench "$qdq/$file"); oi+=("$(sed 's/.*"median_ms":\([0-9.]*\).*/\1/' <<<"$j")")
      moi+=("$(node -e 'const j=JSON.parse(process.argv[1]);console.log(j.peak_rss_bytes-j.node_baseline_rss_bytes)' "$j")")
    fi
  done
  med() { [ $# -eq 0 ] && { echo -; return; }; printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%.2f", a[int((NR+1)/2)]}'; }
  mib() { [ $# -eq 0 ] && { echo -; return; }; printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {printf "%.1f", a[int((NR+1)/2)] / 1048576}'; }
  ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-") print "-"; else printf "%.2fx", a / b }'; }
  PF=$(med "${pf[@]}") PB=$(med ${pb[@]+"${pb[@]}"}) PI=$(med ${pi[@]+"${pi[@]}"}) PQ=$(med ${pq[@]+"${pq[@]}"}) OF=$(med "${of[@]}") OI=$(med ${oi[@]+"${oi[@]}"})
  [ "$err" != - ] && err=$(printf '%.2e' "$err")
  printf '%-5s %-14s %3s | %8s %8s %8s %8s %8s %8s | %7s %7s %7s %7s %7s | %9s | %6s %6s %6s %6s %6s\n' "$tag" "$shape" "$threads" \
    "$PF" "$PB" "$PI" "$PQ" "$OF" "$OI" "$(ratio "$PF" "$OF")" "$(ratio "$PB" "$OF")" "$(ratio "$PI" "$OF")" "$(ratio "$PI" "$OI")" \
    "$(ratio "$PQ" "$OI")" "$err" "$(mib "${mpf[@]}")" "$(mib ${mpi[@]+"${mpi[@]}"})" "$(mib ${mpq[@]+"${mpq[@]}"})" "$(mib "${mof[@]}")" \
    "$(mib ${moi[@]+"${moi[@]}"})"
done
cores after
