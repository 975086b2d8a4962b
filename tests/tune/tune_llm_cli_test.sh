#!/usr/bin/env bash
# pareto tune on a GGUF LLM through the CLI (stories260K, a small search):
# --json's chosen point must be within its budget, on the front and the
# least KL of every measured mix within it (the written file's types and KL
# are checked by TuneLlm.* in the unit tests), a second run with the
# same --cache must measure nothing new, and the --plot page must draw in
# headless Chromium: every point a mark, the chosen one ringed, no page
# console error, a screenshot that is not blank.
# usage: tune_llm_cli_test.sh PARETO REPO_ROOT OUTDIR
# Exit 77 (ctest's skip) without ../shared or Chromium.
set -uo pipefail
p=$1 root=$2 out=$3
models=$root/../shared/models
if [ ! -f "$models/stories260K.gguf" ]; then echo "skip: $models/stories260K.gguf not found (../shared beside the repository)"; exit 77; fi
rm -rf "$out" && mkdir -p "$out" || exit 1
fail() { echo "FAIL: $*" >&2; exit 1; }

args=("$models/stories260K.gguf" --eval "$models/tinystories_style_eval.txt" --formats f16,q8_0,q4_0 --ctx 64 --chunks 3
      --points 4 --generations 2 --population 6 --runs 1 --rounds 2 --max-timed 4 --max-bpw 7 --objective quality
      --anchor "$models/stories260K-Q4_K_M.gguf" --cache "$out/cache.jsonl")
"$p" tune "${args[@]}" -o "$out/a.gguf" --plot "$out/plot.html" --json > "$out/a.json" 2> "$out/a.log" || { cat "$out/a.log"; fail "pareto tune failed"; }
"$p" tune "${args[@]}" -o "$out/b.gguf" --json > "$out/b.json" 2> "$out/b.log" || { cat "$out/b.log"; fail "the second pareto tune failed"; }
"$p" tune "${args[@]}" -o "$out/c.gguf" --explain > "$out/c.txt" 2>&1 || { cat "$out/c.txt"; fail "pareto tune (text) failed"; }
grep -q "<- chosen" "$out/c.txt" || fail "the text output marks no chosen point"
grep -q "KL with only this tensor" "$out/c.txt" || fail "--explain printed no sensitivity table"

node - "$out/a.json" "$out/b.json" <<'JS' || fail "the JSON reports do not hold"
const fs = require('fs');
const [a, b] = process.argv.slice(2).map(f => JSON.parse(fs.readFileSync(f, 'utf8')));
const c = a.points[a.chosen];
if (!c) throw new Error('no chosen point');
if (!(c.bpw <= 7) || !c.within_budget || !c.frontier) throw new Error('chosen point outside the budget or off the front: ' + JSON.stringify(c));
for (const p of [...a.points, ...a.searched])
  if (p.bpw <= 7 && p.kl < c.kl) throw new Error(`${p.label} has less KL within the budget`);
if (!a.points.some(p => p.origin === 'anchor')) throw new Error('the anchor was not timed');
if (!a.points.every(p => Array.isArray(p.decode_rounds) && p.decode_rounds.length === 2)) throw new Error('a point without its 2 timing rounds');
if (!(a.measured > 0) || b.measured !== 0 || b.from_cache !== a.measured) throw new Error(`cache: first run measured ${a.measured}, second ${b.measured} (${b.from_cache} cached)`);
if (a.groups.length !== a.sensitivity.length) throw new Error('sensitivity rows differ from tensors');
JS

chromium=/usr/bin/chromium
if [ ! -x "$chromium" ]; then echo "skip: chromium not installed (scripts/setup.sh installs it)"; exit 77; fi
page=$out/plot.html
url=file://$page
flags=(--headless --no-sandbox --disable-gpu --disable-dev-shm-usage --hide-scrollbars --window-size=1100,1400 --enable-logging=stderr --v=0
       --no-first-run --no-default-browser-check --disable-extensions --user-data-dir="$out/chromium-profile")
timeout 120 "$chromium" "${flags[@]}" --dump-dom "$url" > "$out/dom.html" 2> "$out/chromium-dump.log" || fail "chromium --dump-dom failed (see $out/chromium-dump.log)"
timeout 120 "$chromium" "${flags[@]}" --screenshot="$out/plot.png" "$url" > /dev/null 2> "$out/chromium-shot.log" || fail "chromium --screenshot failed"
rm -rf "$out/chromium-profile"
# Chromium logs page messages as INFO:CONSOLE whatever their level (see
# tests/profile/report_in_chromium.sh): errors are told by their text.
errors=$(cat "$out/chromium-dump.log" "$out/chromium-shot.log" | grep -E ':(INFO|WARNING|ERROR):CONSOLE' |
  grep -E ':ERROR:CONSOLE|\] "(Uncaught|Error)|violates the following Content Security Policy|Refused to' || true)
[ -z "$errors" ] || fail "page errors in Chromium's log: $errors"
if grep -qiE '"(nan|-?inf)"|=(nan|-?inf)[ ,"]' "$out/dom.html"; then fail "the page holds a NaN or infinite coordinate"; fi
marks=$(grep -oE '<(circle|rect) class="point' "$out/dom.html" | wc -l)
searched=$(node -e 'const j=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(j.searched.length + j.points.filter(p=>p.origin==="anchor"&&p.threads===j.points[0].threads).length)' "$out/a.json")
[ "$marks" -eq "$searched" ] || fail "the plot has $marks marks for $searched measured points"
grep -q 'class="chosen"' "$out/dom.html" || fail "the chosen point is not ringed"
grep -q '<polyline class="front"' "$out/dom.html" || fail "no front line"
size=$(stat -c %s "$out/plot.png" 2>/dev/null || echo 0)
[ "$size" -gt 20000 ] || fail "the screenshot is $size bytes (blank?)"
echo "tune_llm_cli_test: all checks passed ($marks points drawn; $out)"
