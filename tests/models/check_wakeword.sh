#!/usr/bin/env bash
# pareto wakeword against the same openWakeWord pipeline run by ONNX Runtime
# (tests/models/wakeword_reference.mjs, npm onnxruntime-node): every chunk's
# score of three heads on espeak-ng clips (with and without each wake word,
# in silence and pink noise) within 1e-4; and --stream (PCM on stdin) must
# print the detections the file run prints (each clip ends mid-chunk).
# usage: check_wakeword.sh PARETO REPO_ROOT     exits 77 (skipped) with a reason when a piece is missing
set -euo pipefail
pareto=$1 root=$2
models=$root/models/openwakeword
[ -f "$models/embedding_model.onnx" ] || { echo "SKIPPED: openWakeWord models not fetched (bash scripts/fetch-models.sh)"; exit 77; }
[ -f "$root/models/silero/silero_vad.onnx" ] || { echo "SKIPPED: silero VAD model not fetched (bash scripts/fetch-models.sh)"; exit 77; }
[ -f "$root/.cache/npm/node_modules/onnxruntime-node/package.json" ] || { echo "SKIPPED: onnxruntime-node not fetched (bash scripts/fetch-models.sh)"; exit 77; }
for c in node espeak-ng sox; do command -v $c >/dev/null || { echo "SKIPPED: $c not installed (scripts/setup.sh)"; exit 77; }; done
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
status=0 i=0
for spec in "en-us|hey jarvis, what time is it|" "en-gb|alexa, play some music|noise" "en-us+f3|hey my croft, tell me a joke|" \
            "en-029|the quick brown fox jumps over the lazy dog|noise" "en-gb-scotland|hey jarvis|noise"; do
  IFS='|' read -r voice text noise <<< "$spec"
  espeak-ng -v "$voice" -s 150 -w "$tmp/raw.wav" "$text"
  sox -R "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$tmp/clip.wav" pad 1 1.03
  if [ -n "$noise" ]; then
    # The length in samples, checked: sox's synth without a length never ends.
    len=$(soxi -s "$tmp/clip.wav")
    [[ "$len" =~ ^[1-9][0-9]*$ ]] || { echo "FAIL  no length for $tmp/clip.wav"; exit 1; }
    sox -R -n -r 16000 -c 1 -b 16 "$tmp/noise.wav" synth "${len}s" pinknoise vol 0.03
    sox -R -m "$tmp/clip.wav" "$tmp/noise.wav" "$tmp/mixed.wav" && mv "$tmp/mixed.wav" "$tmp/clip.wav"
  fi
  "$pareto" wakeword "$tmp/clip.wav" --keyword hey_jarvis,alexa,hey_mycroft --no-vad --scores > "$tmp/scores.txt" 2>/dev/null
  if result=$(node "$root/tests/models/wakeword_reference.mjs" "$models" "$tmp/clip.wav" hey_jarvis alexa hey_mycroft --against "$tmp/scores.txt"); then
    echo "ok    '$text' ($voice${noise:+, noise}): $result"
  else
    echo "FAIL  '$text' ($voice${noise:+, noise}): $result"; status=1
  fi
  # The same clip streamed through standard input, in the reads a pipe gives.
  "$pareto" wakeword "$tmp/clip.wav" --keyword hey_jarvis,alexa,hey_mycroft > "$tmp/file.txt" 2>/dev/null
  sox "$tmp/clip.wav" -t raw -e signed -b 16 -L - | "$pareto" wakeword --stream --keyword hey_jarvis,alexa,hey_mycroft > "$tmp/stream.txt"
  if ! cmp -s "$tmp/file.txt" "$tmp/stream.txt"; then
    echo "FAIL  '$text': --stream printed $(wc -l < "$tmp/stream.txt") detections, the file run $(wc -l < "$tmp/file.txt")"; status=1
  fi
  i=$((i + 1))
done
echo "$i clips compared"
exit $status
