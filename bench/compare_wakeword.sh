#!/usr/bin/env bash
# pareto wakeword against the same openWakeWord pipeline on ONNX Runtime
# (tests/models/wakeword_reference.mjs, npm onnxruntime-node, 1 thread) on one
# 60 s espeak-ng recording (wake phrases and other sentences): ROUNDS
# interleaved rounds, each engine timing the whole file after its models are
# loaded; medians of the rounds, and each one's real-time factor. Both run the
# melspectrogram, embedding and three heads per 80 ms chunk; pareto without
# its VAD gate here, so the work is the same.
#   bench/compare_wakeword.sh [ROUNDS]     (default 5)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-5}
pareto=$root/build/pareto models=$root/models/openwakeword
[ -x "$pareto" ] || { echo "compare_wakeword.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
[ -f "$models/embedding_model.onnx" ] || { echo "compare_wakeword.sh: run scripts/fetch-models.sh" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
list=()
i=0
for text in "hey jarvis, what time is it" "the meeting has been moved to half past three" "alexa, play some music" \
            "we walked along the river until the sun went down" "hey mycroft, tell me a joke" "can you hear the birds singing outside"; do
  espeak-ng -v en-us -s 150 -w "$tmp/raw$i.wav" "$text"
  sox -R "$tmp/raw$i.wav" -r 16000 -c 1 -b 16 "$tmp/u$i.wav" pad 1 1
  list+=("$tmp/u$i.wav"); i=$((i + 1))
done
sox -R "${list[@]}" "$tmp/once.wav"
sox -R "$tmp/once.wav" "$tmp/clip.wav" repeat 9 trim 0 60
kw=(hey_jarvis alexa hey_mycroft)
median() { sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
: > "$tmp/p"; : > "$tmp/o"
for _ in $(seq 1 "$rounds"); do
  "$pareto" wakeword "$tmp/clip.wav" --keyword "$(IFS=,; echo "${kw[*]}")" --no-vad --json --profile | awk -F': ' '/"total_ms"/ {gsub(/,/, "", $2); print $2}' >> "$tmp/p"
  node "$root/tests/models/wakeword_reference.mjs" "$models" "$tmp/clip.wav" "${kw[@]}" --time 1 | sed -n 's/^median_ms=\([0-9.]*\).*/\1/p' >> "$tmp/o"
done
p=$(median < "$tmp/p") o=$(median < "$tmp/o")
echo "| engine | 60 s of audio, ms (median of $rounds) | real-time factor | per 80 ms chunk, ms |"
echo "|---|---|---|---|"
awk -v p="$p" -v o="$o" 'BEGIN {
  printf "| pareto wakeword (1 thread) | %.1f | %.4f | %.3f |\n", p, p / 60000, p / 750
  printf "| ONNX Runtime 1.30, same pipeline (node, 1 thread) | %.1f | %.4f | %.3f |\n", o, o / 60000, o / 750
  printf "\npareto / ONNX Runtime: %.2fx\n", p / o }'
