#!/usr/bin/env bash
# pareto vs llama.cpp on the same GGUF files, side by side in one run:
# llama.cpp c392e50 is built from ../shared/peers into .cache/llama.cpp (native,
# its AMX path on where the CPU has AMX), the models are made with
# `pareto synth` (random weights, real shapes) and, for the types synth does
# not write (the K-quant mixes users download, Q6_K, Q5_0 ...), with
# llama.cpp's own llama-quantize from the F16 file. Each round runs
# llama-bench then `pareto bench --llm` (the order alternates between rounds);
# the table gives medians over the rounds, the ratios pareto / llama.cpp and
# pareto's decode share of the measured bandwidth roofline.
#
#   bench/compare_llamacpp.sh [--preset 1.1b] [--types "f32 f16 BF16 q8_0 q4_0 ... IQ4_XS"]
#                             [--threads "1 2"] [-p 512] [-n 128] [--rounds 2]
# Progress goes to stderr; the table (with both engines' peak resident set,
# read from /proc the same way for both) to stdout.
# Types in lower case come from pareto synth (f32 f16 q8_0 q4_0 q4_k); in
# upper case they are llama-quantize's names (Q4_K_M, Q5_K_M, Q3_K_M, Q6_K,
# Q5_K_S, Q2_K, Q5_0, Q5_1, Q4_1, IQ4_NL, IQ4_XS, BF16 ...), made from the F16 file.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
preset=1.1b types="f32 f16 BF16 q8_0 q4_0 Q4_1 Q5_0 Q5_1 q4_k Q4_K_M Q5_K_M Q6_K Q3_K_M Q2_K IQ4_NL IQ4_XS" threads="1 2" pp=512 tg=128 rounds=2
while [ $# -gt 0 ]; do
  case $1 in
    --preset) preset=$2; shift 2;;
    --types) types=$2; shift 2;;
    --threads) threads=$2; shift 2;;
    -p) pp=$2; shift 2;;
    -n) tg=$2; shift 2;;
    --rounds) rounds=$2; shift 2;;
    *) echo "compare_llamacpp.sh: unknown option '$1'" >&2; exit 2;;
  esac
done
peers=$root/../shared/peers
[ -f "$peers/build-llama-cpp.sh" ] || { echo "compare_llamacpp.sh: $peers/build-llama-cpp.sh not found (../shared beside the repository)" >&2; exit 1; }
pareto=$root/build/pareto
[ -x "$pareto" ] || { echo "compare_llamacpp.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
llama=$root/.cache/llama.cpp
bash "$peers/build-llama-cpp.sh" "$llama" >&2
models=$root/.cache/bench-models
mkdir -p "$models"

# The model file for a type, made once.
model_for() {
  local type=$1 file
  if [[ $type =~ [A-Z] ]]; then
    file=$models/synth-$preset-$type.gguf
    if [ ! -f "$file" ]; then
      model_for f16 >/dev/null
      "$llama/bin/llama-quantize" "$models/synth-$preset-f16.gguf" "$file" "$type" 2 >"$file.log" 2>&1 ||
        { echo "llama-quantize to $type failed: see $file.log" >&2; exit 1; }
    fi
  else
    file=$models/synth-$preset-$type.gguf
    [ -f "$file" ] || "$pareto" synth --preset "$preset" --type "$type" -o "$file" --threads 2 >/dev/null
  fi
  echo "$file"
}

or_dash() { sed 's/^$/-/'; }
num() { sed -n "s/.*\"$1\": *\([0-9.e+-]*\).*/\1/p" | head -1; }
median() { tr ' ' '\n' | grep -E '^[0-9]' | sort -g | awk '{a[NR]=$1} END {if (NR == 0) print "nan"; else print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "-"}'; }

declare -A res
# Runs a command with its stdout into $1 (stderr appended to $errlog) and
# echoes its peak resident set in MiB: the largest VmHWM (a high-water mark)
# read every 0.1 s while it runs, the same way for both engines. Exits the
# script when the command fails.
with_peak_rss() {
  local out=$1 pid peak=0 v rc=0
  shift
  "$@" >"$out" 2>>"$errlog" &
  pid=$!
  while kill -0 $pid 2>/dev/null; do
    v=$(awk "/^VmHWM:/ {print int(\$2 / 1024)}" /proc/$pid/status 2>/dev/null || true)
    [ -n "$v" ] && [ "$v" -gt "$peak" ] && peak=$v
    sleep 0.1
  done
  wait $pid || rc=$?
  if [ $rc -ne 0 ]; then
    echo "compare_llamacpp.sh: '$*' failed (exit $rc); its messages are in $errlog" >&2
    kill $$
    exit 1
  fi
  echo "$peak"
}
tmp=$(mktemp)
errlog=$root/.cache/compare_llamacpp.log
: >"$errlog"
trap 'rm -f "$tmp"' EXIT
llama_run() {  # model threads -> "pp tg rss"
  local out rss
  rss=$(with_peak_rss "$tmp" "$llama/bin/llama-bench" -m "$1" -p "$pp" -n "$tg" -t "$2" -r 1 -o jsonl)
  out=$(cat "$tmp")
  echo "$(echo "$out" | grep "\"n_prompt\": *$pp," | grep '"n_gen": *0,' | num avg_ts | or_dash) $(echo "$out" | grep '"n_prompt": *0,' | grep "\"n_gen\": *$tg," | num avg_ts | or_dash) $rss"
}
pareto_run() {  # model threads -> "pp tg roofline rss"
  local out rss
  rss=$(with_peak_rss "$tmp" "$pareto" bench --llm "$1" -p "$pp" -n "$tg" -t "$2" --reps 1 --json)
  out=$(cat "$tmp")
  echo "$(echo "$out" | grep "\"test\":\"pp$pp\"" | num tokens_per_s | or_dash) $(echo "$out" | grep "\"test\":\"tg$tg\"" | num tokens_per_s | or_dash) $(echo "$out" | grep "\"test\":\"tg$tg\"" | num roofline | or_dash) $rss"
}
for type in $types; do
  m=$(model_for "$type")
  for t in $threads; do
    for ((r = 0; r < rounds; r++)); do
      # Alternate which engine goes first (cache and frequency state).
      if ((r % 2 == 0)); then order="llama pareto"; else order="pareto llama"; fi
      for e in $order; do
        if [ $e = llama ]; then read -r a b c < <(llama_run "$m" "$t"); res[$type,$t,lpp]+=" $a"; res[$type,$t,ltg]+=" $b"; res[$type,$t,lrss]+=" $c"
        else read -r a b c d < <(pareto_run "$m" "$t"); res[$type,$t,ppp]+=" $a"; res[$type,$t,ptg]+=" $b"; res[$type,$t,roof]+=" $c"; res[$type,$t,prss]+=" $d"; fi
        if [ $e = llama ]; then echo "$type t=$t round $r llama.cpp: pp $a tg $b peak RSS $c MiB" >&2
        else echo "$type t=$t round $r pareto: pp $a tg $b roofline $c peak RSS $d MiB" >&2; fi
      done
    done
  done
done

echo "pareto $(git -C "$root" rev-parse --short HEAD) vs llama.cpp c392e50, preset $preset, pp$pp / tg$tg, medians of $rounds rounds, tokens/s"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); $(nproc) CPUs; flags: $(grep -m1 '^flags' /proc/cpuinfo | grep -o 'avx512_vnni\|avx512_bf16\|avx512_fp16\|amx_int8\|amx_bf16' | tr '\n' ' ')"
echo "pareto $("$pareto" info --cpu 2>/dev/null | grep -o 'kernels:.*')"
echo
echo "| type | threads | llama.cpp pp$pp | pareto pp$pp | ratio | llama.cpp tg$tg | pareto tg$tg | ratio | pareto roofline | file MiB | llama.cpp peak RSS MiB | pareto peak RSS MiB |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
for type in $types; do
  for t in $threads; do
    lpp=$(echo "${res[$type,$t,lpp]}" | median) ppp=$(echo "${res[$type,$t,ppp]}" | median)
    ltg=$(echo "${res[$type,$t,ltg]}" | median) ptg=$(echo "${res[$type,$t,ptg]}" | median)
    roof=$(echo "${res[$type,$t,roof]}" | median)
    lrss=$(echo "${res[$type,$t,lrss]}" | median) prss=$(echo "${res[$type,$t,prss]}" | median)
    mib=$(( $(stat -c %s "$(model_for "$type")") >> 20 ))
    printf '| %s | %s | %.1f | %.1f | %s | %.2f | %.2f | %s | %.0f%% | %s | %.0f | %.0f |\n' "$type" "$t" "$lpp" "$ppp" "$(ratio "$ppp" "$lpp")" "$ltg" "$ptg" \
      "$(ratio "$ptg" "$ltg")" "$(awk -v r="$roof" 'BEGIN {print 100 * r}')" "$mib" "$lrss" "$prss"
  done
done
