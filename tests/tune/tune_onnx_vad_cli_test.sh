#!/usr/bin/env bash
# pareto tune on silero VAD through the CLI, judged by a labelled set's
# boundary error (the VAD task metric): recordings synthesized here with
# espeak-ng and sox (speech trimmed of its own silence, so the true
# boundaries are known), calibration windows dumped by `pareto vad` from
# another recording, sr bound to 16 kHz (--const: the convs live in If
# branches until then), no rise of the error over fp32 allowed. Checks:
# every point has a boundary error; fp32's is what `pareto vad --score`
# reads with the shipped model; the chosen point is within the budget and on
# the front; the written model, run by `pareto vad --score`, reads the set at
# the chosen point's error; nothing is left behind; --timing-cpu is taken
# for a cpu the test may use (tune then checks each 1-thread timing child's
# report lists that cpu alone: tests/cli/cli_test.sh checks bench reports
# it so) and refused for one it may not.
# usage: tune_onnx_vad_cli_test.sh PARETO REPO_ROOT OUTDIR
# Exit 77 (ctest's skip) without the model, espeak-ng or sox.
set -uo pipefail
p=$1 root=$2 out=$3
model=$root/models/silero/silero_vad.onnx
if [ ! -f "$model" ]; then echo "skip: silero model not in $root/models/silero (scripts/fetch-models.sh)"; exit 77; fi
for t in espeak-ng sox soxi awk node; do command -v $t > /dev/null || { echo "skip: $t not installed (scripts/setup.sh)"; exit 77; }; done
rm -rf "$out" && mkdir -p "$out/set" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }

bash "$root/bench/vad/make_set.sh" "$out" 1 > "$out/make_set.log" 2>&1 || { cat "$out/make_set.log"; fail "bench/vad/make_set.sh failed"; }
"$p" vad "$out/calib.wav" --dump-inputs "$out/dump" > /dev/null 2>&1 || fail "pareto vad --dump-inputs failed"

base=$("$p" vad --score "$out/set" --model "$model") || fail "pareto vad --score failed"
# The 1-thread timings pinned to a cpu this test may run on (tune checks
# each timing child's report says it ran there alone); a cpu it may not is refused.
cpu=$(taskset -cp $$ | sed 's/.*: *//' | cut -d, -f1 | cut -d- -f1)
[ -n "$cpu" ] || fail "taskset did not name this shell's cpus"
msg=$("$p" tune "$model" --const sr=16000 --calib "$out/dump" -o "$out/never.onnx" --timing-cpu 4095 2>&1) && fail "--timing-cpu 4095 was taken"
grep -q "timing-cpu 4095: this process may run on cpus" <<<"$msg" || fail "--timing-cpu 4095: unclear refusal: $msg"
"$p" tune "$model" --const sr=16000 --calib "$out/dump" --calib-limit 32 --points 1 --generations 1 --population 2 --max-timed 1 --runs 1 --rounds 1 \
  --method minmax --vad-set "$out/set" --max-task-loss 0 --timing-cpu "$cpu" -o "$out/vad.onnx" --json > "$out/tune.json" 2> "$out/tune.log" \
  || { cat "$out/tune.log"; fail "pareto tune failed"; }
tuned=$("$p" vad --score "$out/set" --model "$out/vad.onnx") || fail "the tuned model does not run in the detector"
left=$(ls -A "$out" | grep -E '^\.tune-' || true)
[ -z "$left" ] || fail "files left behind: $left"

node - "$out/tune.json" "$base" "$tuned" "$cpu" <<'JS' || fail "the report does not hold"
const fs = require('fs');
const [file, base, tuned, cpu] = process.argv.slice(2);
const r = JSON.parse(fs.readFileSync(file, 'utf8'));
const b = JSON.parse(base), t = JSON.parse(tuned);
if (r.timing_cpu !== Number(cpu)) throw new Error(`timing_cpu ${r.timing_cpu}, asked ${cpu}`);
if (r.task_metric !== 'VAD boundary error (ms)') throw new Error('no task metric named: ' + r.task_metric);
if (b.matched !== 2 || b.missed || b.extra) throw new Error('the float model does not find the two utterances: ' + base);
const fp32 = r.points.find(p => p.label === 'fp32');
for (const p of r.points) if (typeof p.task_metric !== 'number') throw new Error(`${p.label}: no boundary error`);
if (Math.abs(fp32.task_metric - b.boundary_error_ms) > 1e-9) throw new Error(`fp32 error ${fp32.task_metric} ms, pareto vad --score reads ${b.boundary_error_ms}`);
if (!r.points.some(p => p.int8_layers.length > 0)) throw new Error('no point with int8 convs');
const c = r.points[r.chosen];
if (!c.within_budget || !c.frontier || c.task_metric > fp32.task_metric + 1e-9) throw new Error('chosen point over the budget or off the front: ' + JSON.stringify(c));
for (const p of r.points) if (p.within_budget !== (p.task_metric <= fp32.task_metric + 1e-9)) throw new Error(`${p.label}: budget flag wrong`);
if (Math.abs(t.boundary_error_ms - c.task_metric) > 1e-9) throw new Error(`the written model reads ${t.boundary_error_ms} ms, its point said ${c.task_metric}`);
console.log(`tune vad: ${r.points.length} points, fp32 ${fp32.task_metric.toFixed(1)} ms, chosen ${c.label} (${c.int8_layers.length} int8) ${c.task_metric.toFixed(1)} ms; ` +
            r.points.map(p => `${p.label} ${p.task_metric.toFixed(1)}`).join(', '));
JS
echo "ok"
