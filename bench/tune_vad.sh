#!/usr/bin/env bash
# pareto tune on silero VAD judged by a labelled set's boundary error: the
# set and a calibration recording synthesized by bench/vad/make_set.sh
# (espeak-ng, sox), calibration windows dumped by `pareto vad`, sr bound to
# 16 kHz, int8 per conv (ranges percentile or per run, weights rounded to
# nearest or by GPTQ) with no rise of the boundary error over fp32
# allowed. Twice: against the set's truth (the task), and against the float
# model's own segments on the same recordings (then fp32's error is 0 and
# the budget admits only points whose every boundary equals the float
# model's: "boundaries unchanged"). Writes .cache/tune-vad/{truth,float}/
# {tune.json,frontier.html,vad.onnx}, prints each run's points, and checks
# the written model's segments against the float model's.
# usage: bash bench/tune_vad.sh [-- TUNE OPTIONS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
p=$root/build/pareto
[ -x "$p" ] || { echo "tune_vad.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
[ "${1:-}" = "--" ] && shift
for t in espeak-ng sox soxi node; do command -v $t > /dev/null || { echo "tune_vad.sh: $t not installed (bash scripts/setup.sh)" >&2; exit 1; }; done
model=$root/models/silero/silero_vad.onnx
[ -f "$model" ] || bash "$root/scripts/fetch-models.sh" >&2
[ -f "$model" ] || { echo "tune_vad.sh: $model not found after scripts/fetch-models.sh" >&2; exit 1; }
out=$root/.cache/tune-vad
rm -rf "$out" && mkdir -p "$out"
bash "$root/bench/vad/make_set.sh" "$out" 2
"$p" vad "$out/calib.wav" --dump-inputs "$out/dump" > /dev/null
# The second set: the same recordings, the float model's segments as truth.
mkdir -p "$out/float-set"
cp "$out"/set/*.wav "$out/float-set/"
node - "$out/float-set" "$p" "$model" <<'JS'
const {execFileSync} = require('child_process'), fs = require('fs');
const [dir, p, model] = process.argv.slice(2);
const files = fs.readdirSync(dir).filter(f => f.endsWith('.wav')).sort();
const truth = files.map(f => ({file: f, segments: JSON.parse(execFileSync(p, ['vad', `${dir}/${f}`, '--model', model, '--json'])).segments.map(s => [s.start, s.end])}));
fs.writeFileSync(`${dir}/truth.json`, JSON.stringify(truth));
JS
for kind in truth float; do
  set_dir=$out/set
  [ $kind = float ] && set_dir=$out/float-set
  mkdir -p "$out/$kind"
  start=$(date +%s)
  "$p" tune "$model" --const sr=16000 --calib "$out/dump" --calib-limit 64 --method percentile,dynamic,percentile+gptq,dynamic+gptq --rounds 3 --runs 50 \
    --vad-set "$set_dir" --max-task-loss 0 --plot "$out/$kind/frontier.html" -o "$out/$kind/vad.onnx" --json "$@" > "$out/$kind/tune.json"
  echo; echo "### against the $([ $kind = truth ] && echo "set's truth" || echo "float model's own segments") (pareto tune took $(( $(date +%s) - start )) s)"
  node - "$out/$kind/tune.json" <<'JS'
const r = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
console.log(`\n| point | int8 convs | threads | latency ms | boundary error ms | output error | |\n|---|---|---|---|---|---|---|`);
r.points.forEach((p, i) => console.log(`| ${p.label} | ${p.int8_layers.length} | ${p.threads} | ${p.latency_ms.toFixed(4)} | ${p.task_metric.toFixed(1)} | ${p.quality_loss.toExponential(2)} | ${p.frontier ? 'front' : ''}${i === r.chosen ? ' chosen' : ''} |`));
console.log(`\nchosen: ${r.points[r.chosen].label}: ${r.reason}`);
JS
  for rec in "$out"/set/rec*.wav; do
    float=$("$p" vad "$rec" --model "$model")  # set -e: a model that does not run stops the script
    tuned=$("$p" vad "$rec" --model "$out/$kind/vad.onnx")
    [ "$float" = "$tuned" ] && echo "$(basename "$rec"): every segment of the written model equals the float model's" \
      || echo "$(basename "$rec"): segments differ from the float model's"
  done
done
