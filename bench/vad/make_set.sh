#!/usr/bin/env bash
# A labelled VAD set and a calibration recording, synthesized with
# espeak-ng and sox: each utterance trimmed of its own silence (so the true
# boundaries are known from sample counts), joined with 1 s silences and, in
# the set's second recording, low white noise. Writes
#   OUT/set/truth.json, OUT/set/*.wav   (vad::score_set's format)
#   OUT/calib.wav                       (other sentences, another voice, speech first)
# Every sox call takes -R: sox dithers at random otherwise, and the set and
# the calibration would differ from run to run.
# usage: make_set.sh OUT [RECORDINGS]    (RECORDINGS: 1 or 2, default 2)
set -euo pipefail
out=$1 recordings=${2:-2}
case $recordings in 1|2) ;; *) echo "make_set.sh: RECORDINGS must be 1 or 2, got '$recordings'" >&2; exit 2;; esac
mkdir -p "$out/set" "$out/parts"
say() {  # say FILE VOICE TEXT
  espeak-ng -v "$2" -s 150 -w "$out/parts/raw.wav" "$3"
  sox -R "$out/parts/raw.wav" -r 16000 -c 1 -b 16 "$1" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
}
sox -R -n -r 16000 -c 1 -b 16 "$out/parts/sil.wav" trim 0 1.0
sox -R -n -r 16000 -c 1 -b 16 "$out/parts/noise.wav" synth 1.0 whitenoise vol 0.002  # -R: the same noise every run
say "$out/parts/c1.wav" en-us "turn left at the second light and park behind the blue car"
say "$out/parts/c2.wav" en-us "numbers like seven hundred and forty two are hard to say"
sox -R "$out/parts/c1.wav" "$out/parts/sil.wav" "$out/parts/c2.wav" "$out/parts/sil.wav" "$out/calib.wav"
sentences=("the weather is nice today and we will go outside" "please send the report before the meeting starts"
           "my phone number has changed since last year" "the train leaves at half past seven from platform four")
truth="[" sep=""
for r in $(seq 1 "$recordings"); do
  gap=sil
  [ "$r" = 2 ] && gap=noise
  a=$(( 2 * r - 2 )) b=$(( 2 * r - 1 ))
  say "$out/parts/s$a.wav" en "${sentences[$a]}"
  say "$out/parts/s$b.wav" en "${sentences[$b]}"
  sox -R "$out/parts/sil.wav" "$out/parts/s$a.wav" "$out/parts/$gap.wav" "$out/parts/s$b.wav" "$out/parts/sil.wav" "$out/set/rec$r.wav"
  na=$(soxi -s "$out/parts/s$a.wav") nb=$(soxi -s "$out/parts/s$b.wav")
  # Seconds: speech from 1 s, the gap 1 s, the second utterance after it.
  seg=$(awk -v a="$na" -v b="$nb" 'BEGIN { s = 16000; printf "[[1, %.6f], [%.6f, %.6f]]", 1 + a / s, 2 + a / s, 2 + (a + b) / s }')
  truth+="$sep{\"file\": \"rec$r.wav\", \"segments\": $seg}" sep=","
done
echo "$truth]" > "$out/set/truth.json"
rm -rf "$out/parts"
