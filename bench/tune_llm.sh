#!/usr/bin/env bash
# pareto tune on a GGUF LLM against llama.cpp's fixed mixes, from one run:
# llama.cpp c392e50 is built from ../shared/peers into .cache/llama.cpp, its
# llama-quantize writes the mixes (Q3_K_M Q4_K_M Q5_K_M Q6_K Q8_0 by
# default; a mix llama.cpp refuses for the model is reported and left out)
# from the same unquantized file; `pareto tune` searches with them as
# anchors (each is measured and timed as it is, beside pareto's uniform
# formats and the search's front), on the evaluation text, and reports
# every timed point's KL and perplexity on a held-out text as well (the
# search never sees it). Writes the JSON, the frontier page and a markdown
# table comparing, for each llama.cpp mix, the pareto point with the lowest
# KL on the search text at no more bits per weight, on the held-out text.
#
#   bench/tune_llm.sh [--model FILE.gguf] [--eval TEXT] [--test TEXT] [--mixes "Q4_K_M Q6_K"] [--out DIR] [--report-only]
#                     [-- TUNE OPTIONS...]
# --report-only prints the tables from the JSON a run left in --out.
#
# Defaults: ../shared/models/stories260K.gguf (F32), its evaluation text,
# bench/data/tinystories_heldout.txt, out .cache/tune-llm. Progress on stderr,
# the table on stdout.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=$root/../shared/models/stories260K.gguf
eval_text=$root/../shared/models/tinystories_style_eval.txt
test_text=$root/bench/data/tinystories_heldout.txt
mixes="Q3_K_M Q4_K_M Q5_K_M Q6_K Q8_0"
out=$root/.cache/tune-llm
extra=()
report_only=0
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=$2; shift 2;;
    --eval) eval_text=$2; shift 2;;
    --test) test_text=$2; shift 2;;
    --mixes) mixes=$2; shift 2;;
    --out) out=$2; shift 2;;
    --report-only) report_only=1; shift;;
    --) shift; extra=("$@"); break;;
    *) echo "tune_llm.sh: unknown option '$1'" >&2; exit 2;;
  esac
done
name=$(basename "$model" .gguf)
if [ "$report_only" = 0 ]; then
pareto=$root/build/pareto
[ -x "$pareto" ] || { echo "tune_llm.sh: build pareto first (scripts/build.sh release)" >&2; exit 1; }
peers=$root/../shared/peers
[ -f "$peers/build-llama-cpp.sh" ] || { echo "tune_llm.sh: $peers/build-llama-cpp.sh not found (../shared beside the repository)" >&2; exit 1; }
llama=$root/.cache/llama.cpp
bash "$peers/build-llama-cpp.sh" "$llama" >&2
mkdir -p "$out"

anchors=()
for m in $mixes; do
  file=$out/$name-$m.gguf
  if [ ! -f "$file" ]; then
    if ! "$llama/bin/llama-quantize" "$model" "$file" "$m" 1 >"$file.log" 2>&1; then
      echo "tune_llm.sh: llama-quantize refuses $m for $name: $(grep -m1 -oE 'tensor cols [^,]*|failed to quantize[^:]*' "$file.log" || echo "see $file.log")" >&2
      rm -f "$file"
      continue
    fi
  fi
  anchors+=(--anchor "$file")
done

start=$(date +%s)
"$pareto" tune "$model" --eval "$eval_text" --test "$test_text" -o "$out/$name-tuned.gguf" "${anchors[@]}" \
  --plot "$out/$name-frontier.html" --cache "$out/$name-cache.jsonl" --json "${extra[@]}" > "$out/$name.json"
echo "tune_llm.sh: pareto tune took $(( $(date +%s) - start )) s (a rerun reuses $out/$name-cache.jsonl)" >&2
fi

node - "$out/$name.json" <<'JS'
const r = JSON.parse(require('fs').readFileSync(process.argv[2], 'utf8'));
const short = l => l.replace(/^anchor .*\/[^-]*-/, 'llama.cpp ').replace(/\.gguf$/, '');
const e = v => v < 0 ? '-' : v.toExponential(2);
const threads = [...new Set(r.points.map(p => p.threads))];
console.log(`searched ${r.searched.length} mixes (${r.measured} measured, ${r.from_cache} from the cache), ${r.generations_run} generations, ${r.seconds.toFixed(1)} s; base perplexity ${r.ppl_base.toFixed(4)} on ${r.eval_tokens} scored tokens\n`);
const kvs = [...new Set(r.points.map(p => p.kv || 'f16'))];
const head = ['point', 'KV cache', 'bits/weight', 'KL (search text)', 'KL held out', 'perplexity held out', ...threads.map(t => `decode ms, ${t} thread${t > 1 ? 's' : ''}`), 'predicted ms', 'memory MiB', 'energy mJ/token', ''];
console.log('| ' + head.join(' | ') + ' |');
console.log('|' + head.map(() => '---').join('|') + '|');
const byLabel = new Map();
for (const p of r.points) {
  const key = p.label + '|' + (p.kv || 'f16');
  if (!byLabel.has(key)) byLabel.set(key, []);
  byLabel.get(key).push(p);
}
const rows = [...byLabel.values()].sort((a, b) => a[0].bpw - b[0].bpw || kvs.indexOf(a[0].kv) - kvs.indexOf(b[0].kv));
for (const ps of rows) {
  const p = ps[0];
  const front = ps.some(q => q.frontier) ? 'front' : '';
  const chosen = ps.some(q => r.points.indexOf(q) === r.chosen) ? ' chosen' : '';
  console.log(`| ${short(p.label)} | ${p.kv || 'f16'} | ${p.bpw.toFixed(3)} | ${e(p.kl)} | ${e(p.kl_test)} | ${p.ppl_test < 0 ? '-' : p.ppl_test.toFixed(4)} | ` +
              threads.map(t => (ps.find(q => q.threads === t) || {decode_ms: NaN}).decode_ms.toFixed(4)).join(' | ') +
              ` | ${p.predicted_ms < 0 ? '-' : p.predicted_ms.toFixed(4)} | ${p.memory_mib.toFixed(3)} | ${p.energy_mj.toFixed(4)} | ${front}${chosen} |`);
}
if (r.cost_model) console.log(`\ncost model: ${r.cost_model.constant_ms.toFixed(4)} ms + ${r.cost_model.scale.toFixed(3)} x the sum of one-token matmul times (fitted on the uniform points); median error on the other timed points ${r.cost_model.median_relative_error < 0 ? '-' : (100 * r.cost_model.median_relative_error).toFixed(1) + '%'}`);
if (r.calibration) console.log(`calibration (GPTQ, AWQ): ${r.calibration}`);
console.log('\nEach llama.cpp mix against the timed pareto point with the least KL on the search text at no more bits per weight, compared on the held-out text:\n');
console.log('| llama.cpp mix | bits/weight | KL held out | pareto point at <= its bits | its bits/weight | its KL held out | KL ratio pareto / llama.cpp | decode ms ratio (1st thread count) |');
console.log('|---|---|---|---|---|---|---|---|');
const t0 = threads[0], kv0 = kvs[0];
// pareto's points: not the anchors, nor llama.cpp's own mixes rebuilt by its rules and rounded as it rounds them.
const mine = r.points.filter(p => p.origin !== 'anchor' && !(p.origin === 'mix' && !p.label.endsWith('+gptq')) &&
  p.threads === t0 && (p.kv || 'f16') === kv0);
const theirs = r.points.filter(p => p.origin === 'anchor' && p.threads === t0 && (p.kv || 'f16') === kv0);
for (const a of theirs) {
  const ok = mine.filter(p => p.bpw <= a.bpw + 1e-9).sort((x, y) => x.kl - y.kl);  // chosen by what the search saw
  if (!ok.length) { console.log(`| ${short(a.label)} | ${a.bpw.toFixed(3)} | ${e(a.kl_test)} | none at <= its bits | | | | |`); continue; }
  const b = ok[0];
  console.log(`| ${short(a.label)} | ${a.bpw.toFixed(3)} | ${e(a.kl_test)} | ${b.label} | ${b.bpw.toFixed(3)} | ${e(b.kl_test)} | ${(b.kl_test / a.kl_test).toFixed(3)} | ${(b.decode_ms / a.decode_ms).toFixed(2)} |`);
}
console.log(`\nEach llama.cpp mix against the fastest timed pareto point (${t0} thread${t0 > 1 ? 's' : ''}, ${kv0} KV) with no more KL on the search text, and against the smallest such point:\n`);
console.log('| llama.cpp mix | KL | decode ms | bits/weight | fastest pareto point at <= its KL | its KL | decode ms ratio pareto / llama.cpp | smallest pareto point at <= its KL | bits/weight ratio |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const a of theirs) {
  const ok = mine.filter(p => p.kl <= a.kl);
  if (!ok.length) { console.log(`| ${short(a.label)} | ${e(a.kl)} | ${a.decode_ms.toFixed(4)} | ${a.bpw.toFixed(3)} | none at <= its KL | | | | |`); continue; }
  const f = [...ok].sort((x, y) => x.decode_ms - y.decode_ms)[0], s = [...ok].sort((x, y) => x.bpw - y.bpw)[0];
  console.log(`| ${short(a.label)} | ${e(a.kl)} | ${a.decode_ms.toFixed(4)} | ${a.bpw.toFixed(3)} | ${f.label} | ${e(f.kl)} | ${(f.decode_ms / a.decode_ms).toFixed(2)} | ${s.label} | ${(s.bpw / a.bpw).toFixed(3)} |`);
}
JS
