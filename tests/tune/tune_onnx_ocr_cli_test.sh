#!/usr/bin/env bash
# pareto tune on the PP-OCRv4 recognizer through the CLI, with the OCR
# set's character error rate as the task metric: a small set rendered here
# (ImageMagick, three lines, truth.json), calibration and evaluation inputs
# dumped from the pipeline on it, int8 and bf16 searched, no rise of the CER
# over fp32 allowed. Checks: every point has a CER; fp32's is what `pareto
# ocr --score` reads with the shipped models; the chosen point is within the
# budget and on the front; the written .pareto, put in the pipeline, reads
# the set at the chosen point's CER.
# usage: tune_onnx_ocr_cli_test.sh PARETO REPO_ROOT OUTDIR
# Exit 77 (ctest's skip) without the OCR models or ImageMagick.
set -uo pipefail
p=$1 root=$2 out=$3
models=$root/models/ocr
if [ ! -f "$models/ch_PP-OCRv4_rec_infer.onnx" ]; then echo "skip: OCR models not in $models (scripts/fetch-models.sh)"; exit 77; fi
if ! convert -version 2>/dev/null | grep -q ImageMagick; then echo "skip: ImageMagick not installed (scripts/setup.sh)"; exit 77; fi
rm -rf "$out" && mkdir -p "$out/set" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }

font=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
# The last line the recognizer itself misreads at this size ("Tel:010-...":
# the space after the colon; ONNX Runtime's pipeline reads it the same way,
# tests/apps/ocr_e2e_test.cpp): fp32's CER is above 0, so the budget bites.
lines=("Open source inference engine" "Total: 1,284.50 EUR" "Fresh bread every morning" "Tel: 010-8827-3391")
sizes=(28 28 28 14)
truth="["
for i in 0 1 2 3; do
  convert -background white -fill black -font $font -pointsize ${sizes[$i]} label:"${lines[$i]}" -bordercolor white -border 24 "$out/set/l$i.png" || fail "convert"
  truth+="$([ $i -gt 0 ] && echo ,){\"file\": \"l$i.png\", \"lines\": [\"${lines[$i]}\"]}"
done
echo "$truth]" > "$out/set/truth.json"
"$p" ocr "$out"/set/l*.png --models "$models" --dump-inputs "$out/dump" --json > /dev/null || fail "pareto ocr --dump-inputs failed"

base=$("$p" ocr --score "$out/set" --models "$models") || fail "pareto ocr --score failed"
"$p" tune "$models/ch_PP-OCRv4_rec_infer.onnx" --calib "$out/dump/rec" --formats int8,bf16 --points 1 --generations 1 --population 2 --max-timed 1 --runs 1 --rounds 1 --calib-limit 4 --method minmax \
  --ocr-set "$out/set" --ocr-role rec --ocr-models "$models" --max-task-loss 0 -o "$out/rec.pareto" --json > "$out/tune.json" 2> "$out/tune.log" \
  || { cat "$out/tune.log"; fail "pareto tune failed"; }
tuned=$("$p" ocr --score "$out/set" --models "$models" --rec "$out/rec.pareto") || fail "the tuned recognizer does not run in the pipeline"

left=$(ls -A "$out" | grep -E '^\.tune-|\.npy$' || true)
[ -z "$left" ] || fail "files left behind: $left"
bf16=0; grep -q avx512_bf16 /proc/cpuinfo 2>/dev/null && bf16=1

node - "$out/tune.json" "$base" "$tuned" "$bf16" <<'JS' || fail "the report does not hold"
const fs = require('fs');
const [file, base, tuned, bf16] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const b = JSON.parse(base), t = JSON.parse(tuned);
if (r.task_metric !== 'OCR CER') throw new Error('no task metric named: ' + r.task_metric);
const fp32 = r.points.find(p => p.label === 'fp32');
for (const p of r.points) if (typeof p.task_metric !== 'number') throw new Error(`${p.label}: no CER`);
if (Math.abs(fp32.task_metric - b.cer) > 1e-12) throw new Error(`fp32 CER ${fp32.task_metric}, pareto ocr --score reads ${b.cer}`);
if (!(fp32.task_metric > 0)) throw new Error('fp32 reads the set without an error: the budget cannot bite');
// bf16 convs only where the kernel serves them (x86-64: AVX512-BF16 here; AMX-BF16 also counts, not checked).
if (bf16 === '1' && !r.points.some(p => p.bf16_layers.length > 0)) throw new Error('no point with bf16 convs on a CPU with AVX512-BF16');
if (!r.points.some(p => p.int8_layers.length > 0)) throw new Error('no point with int8 convs');
const c = r.points[r.chosen];
if (!c.within_budget || !c.frontier || c.task_metric > fp32.task_metric) throw new Error('chosen point over the CER budget or off the front: ' + JSON.stringify(c));
for (const p of r.points) if (p.within_budget !== (p.task_metric <= fp32.task_metric + 1e-12)) throw new Error(`${p.label}: budget flag wrong`);
if (Math.abs(t.cer - c.task_metric) > 1e-12) throw new Error(`the written model reads CER ${t.cer}, its point said ${c.task_metric}`);
for (const p of r.points) if (!(p.energy_mj > 0)) throw new Error(`${p.label}: no energy estimate`);
console.log(`tune rec: ${r.points.length} points, fp32 CER ${fp32.task_metric}, chosen ${c.label} (${c.int8_layers.length} int8, ${c.bf16_layers.length} bf16) CER ${c.task_metric}`);
JS
echo "ok"
