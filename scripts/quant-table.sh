#!/usr/bin/env bash
# The stories260K quantization table of docs/quantization.md: every method at
# 8/4/3 bits (and W8A8), calibrated on data/calibration (not the evaluation
# text), evaluated on ../shared/models/tinystories_style_eval.txt.
# Usage: bash scripts/quant-table.sh [build/pareto]
set -euo pipefail
cd "$(dirname "$0")/.."
P=${1:-build/pareto}
M=../shared/models/stories260K.gguf
E=../shared/models/tinystories_style_eval.txt
C=data/calibration/tinystories_style_calib.txt
[ -f "$M" ] || { echo "needs ../shared/models (stories260K.gguf)"; exit 1; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
row() {  # label, file
  "$P" eval "$M" "$2" --file "$E" 2>/dev/null | awk -v l="$1" '/^quant:/{ppl=$4; inc=$5; bpw=$6} /mean KL/{kl=$5; t=$9}
    END{gsub(/[(),]/,"",inc); gsub(/,/,"",t); printf "| %s | %s | %s | %s | %s | %s |\n", l, ppl, inc, kl, t, bpw}'
}
echo "| stories260K | PPL | vs F32 | KL (nats) | top-1 | bits/weight |"
echo "|---|---|---|---|---|---|"
for spec in "8 32 sym q8_0" "4 32 sym q4_0" "4 32 asym q4_1" "4 128 asym pq4g128a" "3 32 asym pq3g32a" "3 128 asym pq3g128a"; do
  set -- $spec
  for m in rtn awq gptq; do
    "$P" quantize "$M" "$T/q.gguf" --method $m --bits $1 --group $2 --$3 --calib "$C" > /dev/null 2>&1
    row "$m W$1 g$2 ($4)" "$T/q.gguf"
  done
done
"$P" quantize "$M" "$T/q.gguf" --method smoothquant --calib "$C" > /dev/null 2>&1
row "smoothquant W8A8 (q8_row, alpha 0.85: llama default)" "$T/q.gguf"
row "llama.cpp Q4_K_M mix" ../shared/models/stories260K-Q4_K_M.gguf
