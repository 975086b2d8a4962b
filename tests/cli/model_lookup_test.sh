#!/usr/bin/env bash
# `pareto ocr` and `pareto vad` find their models from any working directory
# (the user's cache folder where scripts/fetch-models.sh puts them), and say
# where they looked and how to fetch them when no folder has them.
# usage: model_lookup_test.sh PARETO REPO_ROOT
set -euo pipefail
pareto=$1 root=$2
models=$root/models
if [ ! -f "$models/ocr/ch_PP-OCRv4_rec_infer.onnx" ] || [ ! -f "$models/silero/silero_vad.onnx" ]; then
  echo "SKIPPED: models not fetched (run scripts/fetch-models.sh)"; exit 77
fi
if ! convert -version 2>/dev/null | grep -q ImageMagick || ! command -v sox >/dev/null; then
  echo "SKIPPED: ImageMagick or sox not installed (scripts/setup.sh)"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# A binary away from the checkout, a home and cache with nothing in them.
mkdir -p "$tmp/bin" "$tmp/home" "$tmp/work" "$tmp/cache"
cp "$pareto" "$tmp/bin/pareto"
convert -background white -fill black -font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf -pointsize 32 \
  label:'Found from anywhere' -bordercolor white -border 20 "$tmp/work/line.png"
sox -n -r 16000 -c 1 -b 16 "$tmp/work/tone.wav" synth 0.5 sine 300
cd "$tmp/work"
run() { env -u PARETO_OCR_MODELS -u PARETO_VAD_MODEL -u PARETO_MODELS HOME="$tmp/home" XDG_CACHE_HOME="$tmp/cache" "$tmp/bin/pareto" "$@"; }

if run ocr line.png > out.txt 2> err.txt; then echo "expected a missing-model error"; exit 1; fi
grep -q "$tmp/cache/pareto/models/ocr" err.txt
grep -q "scripts/fetch-models.sh" err.txt
if run vad tone.wav > out.txt 2> err.txt; then echo "expected a missing-model error"; exit 1; fi
grep -q "$tmp/cache/pareto/models/silero" err.txt

# Where the fetch script puts them: the cache folder.
mkdir -p "$tmp/cache/pareto/models"
ln -s "$models/ocr" "$tmp/cache/pareto/models/ocr"
ln -s "$models/silero" "$tmp/cache/pareto/models/silero"
run ocr line.png > out.txt
grep -q "^Found from anywhere" out.txt
run vad tone.wav > /dev/null
# --models names the folder and is the only one tried.
if run ocr line.png --models "$tmp/nowhere" > out.txt 2> err.txt; then echo "expected an error"; exit 1; fi
grep -q "$tmp/nowhere" err.txt
echo "model lookup ok"
