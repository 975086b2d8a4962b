#!/usr/bin/env bash
# Detection and false-accept rates of `pareto wakeword` on speech made with
# espeak-ng (8 voices x 2 speeds), in silence and in pink noise, and its
# real-time factor. Each condition is one long stream (what a device hears):
# wake phrases 2.5 s apart, or sentences without a wake word, or noise alone.
# A detection counts as a hit when it lands between the phrase's start and
# 1 s after its end; any other detection is a false accept.
#   bench/wakeword_rates.sh [KEYWORD...]     (default: hey_jarvis alexa hey_mycroft)
#   env: PARETO_WAKEWORD_FLAGS (e.g. --no-vad), NOISE_DB (pink-noise level, default -30 dBFS RMS)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
keywords=("$@"); [ ${#keywords[@]} -gt 0 ] || keywords=(hey_jarvis alexa hey_mycroft)
pareto=$root/build/pareto flags=${PARETO_WAKEWORD_FLAGS:-} noise_db=${NOISE_DB:--30}
[ -x "$pareto" ] || { echo "wakeword_rates.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
command -v espeak-ng >/dev/null && command -v sox >/dev/null || { echo "wakeword_rates.sh: needs espeak-ng and sox (scripts/setup.sh)" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
voices=(en-us en-gb en-gb-scotland en-029 en-us+f3 en-gb+f2 en-us+m3 en-gb-x-rp+f4)
speeds=(140 175)
# espeak-ng reads "mycroft" as m'Ikr0ft (mick-roft): the phrase is written as it is said.
declare -A phrases=(
  [hey_jarvis]="hey jarvis|hey jarvis, what time is it|hey jarvis, turn off the lights"
  [alexa]="alexa|alexa, play some music|alexa, what is the weather"
  [hey_mycroft]="hey my croft|hey my croft, set a timer|hey my croft, tell me a joke")
negatives=("the quick brown fox jumps over the lazy dog" "please send me the report by friday afternoon"
  "we walked along the river until the sun went down" "how much does a ticket to the city cost"
  "my sister bought a new bicycle last week" "turn left at the second traffic light"
  "the meeting has been moved to half past three" "can you hear the birds singing outside"
  "hey travis, are you coming to dinner" "a lexicon lists the words of a language"
  "hey marvin, did you see the game" "jars of honey stood on the kitchen shelf"
  "i think it might rain later today" "the children played football in the park"
  "what time does the train to london leave" "she reads a book every night before bed")
sil() { sox -R -n -r 16000 -c 1 -b 16 "$1" trim 0 "$2"; }
speak() {  # speak VOICE SPEED TEXT OUT: trimmed of its own silence, 16 kHz
  espeak-ng -v "$1" -s "$2" -w "$tmp/raw.wav" "$3"
  sox -R "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$4" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
}
samples() { soxi -s "$1"; }
# build_stream OUT SPANS TEXT...: gap, utterance, gap, ... for every voice and speed; SPANS gets "start end" in samples
build_stream() {
  local out=$1 spans=$2; shift 2
  local list=() at=0 i=0 n
  sil "$tmp/gap.wav" 2.5
  : > "$spans"
  for v in "${voices[@]}"; do for s in "${speeds[@]}"; do for text in "$@"; do
    speak "$v" "$s" "$text" "$tmp/u$i.wav"
    list+=("$tmp/gap.wav" "$tmp/u$i.wav")
    at=$((at + $(samples "$tmp/gap.wav"))); n=$(samples "$tmp/u$i.wav")
    echo "$at $((at + n))" >> "$spans"; at=$((at + n)); i=$((i + 1))
  done; done; done
  list+=("$tmp/gap.wav")
  sox -R "${list[@]}" "$out"
}
noisy() {  # noisy IN OUT: pink noise at NOISE_DB dBFS RMS under the whole stream
  local n; n=$(soxi -s "$1")  # checked: sox's synth without a length never ends
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "no length for $1" >&2; exit 1; }
  sox -R -n -r 16000 -c 1 -b 16 "$tmp/noise.wav" synth "${n}s" pinknoise
  local rms; rms=$(sox "$tmp/noise.wav" -n stat 2>&1 | awk '/RMS +amplitude/ {print $3}')
  sox -R "$tmp/noise.wav" "$tmp/noise_l.wav" vol "$(awk -v r="$rms" -v db="$noise_db" 'BEGIN {print 10^(db/20) / r}')"
  sox -R -m "$1" "$tmp/noise_l.wav" "$2"
}
detections() {  # detections KEYWORD WAV: detection times in seconds, one per line
  "$pareto" wakeword "$2" --keyword "$1" $flags --profile 2> "$tmp/err" | cut -f1
  awk '/real-time factor/ {print $NF}' "$tmp/err" >> "$tmp/rtf"
}
score() {  # score TIMES SPANS: "hits total false_accepts"
  awk 'NR == FNR {s[++n] = $1 / 16000; e[n] = $2 / 16000; next}
       {t = $1; hit = 0; for (i = 1; i <= n; i++) if (t >= s[i] && t <= e[i] + 1.0 && !used[i]) {used[i] = 1; hit = 1; break}
        if (hit) h++; else fa++}
       END {printf "%d %d %d\n", h, n, fa}' "$2" "$1"
}
: > "$tmp/rtf"
build_stream "$tmp/neg_clean.wav" "$tmp/neg.spans" "${negatives[@]}"
noisy "$tmp/neg_clean.wav" "$tmp/neg_noisy.wav"
sox -R -n -r 16000 -c 1 -b 16 "$tmp/noise_only.wav" synth 600 pinknoise
sox -R "$tmp/noise_only.wav" "$tmp/noise_only_l.wav" gain -n -12
neg_h=$(awk -v s="$(soxi -D "$tmp/neg_clean.wav")" 'BEGIN {print s / 3600}')
noise_h=$(awk -v s="$(soxi -D "$tmp/noise_only_l.wav")" 'BEGIN {print s / 3600}')
echo "| keyword | condition | detected | detection rate | false accepts on speech without it | on noise alone | false accepts per hour |"
echo "|---|---|---|---|---|---|---|"
for k in "${keywords[@]}"; do
  IFS='|' read -r -a texts <<< "${phrases[$k]}"
  build_stream "$tmp/pos_clean.wav" "$tmp/pos.spans" "${texts[@]}"
  noisy "$tmp/pos_clean.wav" "$tmp/pos_noisy.wav"
  noise_fa=$(detections "$k" "$tmp/noise_only_l.wav" | wc -l)
  for cond in clean noisy; do
    read -r hits total fa_pos < <(detections "$k" "$tmp/pos_$cond.wav" | score /dev/stdin "$tmp/pos.spans")
    fa_neg=$(detections "$k" "$tmp/neg_$cond.wav" | wc -l)
    per_h=$(awk -v a="$fa_neg" -v b="$noise_fa" -v h1="$neg_h" -v h2="$noise_h" 'BEGIN {printf "%.1f", (a + b) / (h1 + h2)}')
    echo "| $k | $cond | $hits / $total (+$fa_pos stray) | $(awk -v a="$hits" -v b="$total" 'BEGIN {printf "%.1f%%", 100 * a / b}') | $fa_neg in $(awk -v h="$neg_h" 'BEGIN {printf "%.1f", h * 60}') min | $noise_fa in $(awk -v h="$noise_h" 'BEGIN {printf "%.0f", h * 60}') min | $per_h |"
  done
done
echo
echo "real-time factor (whole pipeline${flags:+ with $flags}, VAD gate included unless --no-vad, 1 thread): median $(sort -g "$tmp/rtf" | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}') over $(wc -l < "$tmp/rtf") runs"
echo "noise: pink, ${noise_db} dBFS RMS under the speech streams; noise-alone stream 10 min of pink noise at -12 dBFS peak"
