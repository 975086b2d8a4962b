#!/usr/bin/env bash
# The main job: install, build, fetch PP-OCRv4 and silero VAD from npm,
# render a sample image and read its text back with `pareto ocr` (with the
# time each stage took), then find the speech in a synthesized recording
# with `pareto vad`; with ../shared beside the checkout, 3-bit AWQ vs RTN on
# stories260K with `pareto quantize` and `pareto eval`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bash scripts/setup.sh
bash scripts/build.sh release
bash scripts/fetch-models.sh
p=build/pareto
mkdir -p out
$p info --cpu
# A receipt-like sample: English, digits and punctuation, Chinese.
convert -background white -fill black -font /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf -pointsize 30 -interline-spacing 14 \
  label:'City Coffee Roasters\nOrder #A-77031  2026-11-24 18:30\nTotal: $12.80' \
  \( -background white -fill black -font /usr/share/fonts/truetype/wqy/wqy-zenhei.ttc -pointsize 30 label:'谢谢光临，欢迎再来' \) \
  -append -bordercolor white -border 30 out/sample.png
echo "== pareto ocr out/sample.png"
$p ocr out/sample.png --profile --threads 2
# Speech with known silences around it.
if command -v espeak-ng >/dev/null && command -v sox >/dev/null; then
  espeak-ng -w out/speech22k.wav "pareto finds speech in a recording"
  sox out/speech22k.wav -r 16000 -c 1 -b 16 out/speech.wav
  sox -n -r 16000 -c 1 -b 16 out/silence.wav trim 0 1.0
  sox out/silence.wav out/speech.wav out/silence.wav out/sample.wav
  echo "== pareto vad out/sample.wav"
  $p vad out/sample.wav --profile
fi
# Post-training quantization of a real (tiny) LLM: 3-bit AWQ against plain
# rounding, calibrated on our own text, judged on held-out text.
shared=$(cd "$root/.." && pwd)/shared/models
if [ -f "$shared/stories260K.gguf" ]; then
  for m in rtn awq; do
    echo "== pareto quantize stories260K --method $m --bits 3 --asym"
    $p quantize "$shared/stories260K.gguf" out/stories-w3-$m.gguf --method $m --bits 3 --asym \
      --calib data/calibration/tinystories_style_calib.txt | sed -n 1p
    $p eval "$shared/stories260K.gguf" out/stories-w3-$m.gguf --file "$shared/tinystories_style_eval.txt" 2>/dev/null | sed -n 1,3p
  done
fi
