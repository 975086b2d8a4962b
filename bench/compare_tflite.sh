#!/usr/bin/env bash
# pareto against TensorFlow Lite 2.2's own interpreter (its C library from
# npm node-tflite, fetched by scripts/fetch-models.sh) on the Coral TFLite
# classifiers and MoveNet in ../shared/models/coral: per model and thread count, ROUNDS
# interleaved rounds of `pareto bench` and the same number of TFLite
# invocations; medians of the per-round medians, in milliseconds.
#   bench/compare_tflite.sh [ROUNDS] [THREADS...]      (default 3 rounds, 1 and 2 threads)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}; shift || true
threads=("$@"); [ ${#threads[@]} -gt 0 ] || threads=(1 2)
pareto=$root/build/pareto coral=$root/../shared/models/coral lib=$root/.cache/tflite
[ -x "$pareto" ] || { echo "compare_tflite.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
[ -f "$lib/lib/libtensorflowlite_c.so" ] || { echo "compare_tflite.sh: run scripts/fetch-models.sh (TensorFlow Lite's C library)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/tflite_reference" "$root/tests/models/tflite_reference.c" -I"$lib/include" -L"$lib/lib" -ltensorflowlite_c -Wl,-rpath,"$lib/lib"
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
echo "| model | threads | pareto ms | TFLite 2.2 ms | pareto / TFLite |"
echo "|---|---|---|---|---|"
for model in mobilenet_v1_0.25_128_quant mobilenet_v1_0.5_160_quant mobilenet_v1_0.75_192_quant mobilenet_v2_1.0_224_quant tf2_mobilenet_v2_1.0_224_ptq \
             movenet_single_pose_lightning_ptq; do
  m=$coral/$model.tflite
  for t in "${threads[@]}"; do
    : > "$tmp/p"; : > "$tmp/r"
    for _ in $(seq 1 "$rounds"); do
      "$pareto" bench "$m" --runs 10 -t "$t" 2>&1 | awk '/^median:/ {print $2}' >> "$tmp/p"
      "$tmp/tflite_reference" "$m" --time 10 "$t" | awk '/^median/ {print $2}' >> "$tmp/r"
    done
    p=$(median < "$tmp/p") r=$(median < "$tmp/r")
    echo "| $model | $t | $p | $r | $(awk -v a="$p" -v b="$r" 'BEGIN {printf "%.2fx", a / b}') |"
  done
done
