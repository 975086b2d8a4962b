#!/usr/bin/env bash
# pareto profile end to end through the CLI: an ONNX model (the OCR
# classifier when scripts/fetch-models.sh has fetched it, else an ONNX
# conformance conv) and a synthesized GGUF decoder, as text, --json and
# --html; the JSON's totals must be the sums of its ops and every op's bytes
# by level the sum of its bytes. The HTML it leaves in OUTDIR/onnx.html is
# drawn in headless Chromium by the next test (profile_report_in_chromium).
# usage: profile_cli_test.sh PARETO REPO_ROOT OUTDIR
set -euo pipefail
p=$1 root=$2 out=$3
rm -rf "$out" && mkdir -p "$out"
fail() { echo "profile_cli_test: $*" >&2; exit 1; }

cls=$root/models/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx
if [ -f "$cls" ]; then
  onnx=(profile "$cls" --shape x=1,3,48,192)
else
  echo "profile_cli_test: $cls not found (scripts/fetch-models.sh): using an ONNX conformance conv"
  onnx=(profile /usr/share/libonnx-testdata/data/node/test_conv_with_strides_padding/model.onnx)
fi
"$p" "${onnx[@]}" --runs 3 --no-ceilings --top 5 > "$out/onnx.txt"
grep -q "energy (estimated)" "$out/onnx.txt" || fail "the text report says nothing of estimated energy"
"$p" "${onnx[@]}" --runs 3 --no-ceilings --json --html "$out/onnx.html" > "$out/onnx.json"

"$p" synth --preset micro --type q4_0 -o "$out/micro.gguf" > /dev/null
"$p" profile "$out/micro.gguf" --runs 3 -p 8 --no-ceilings --json > "$out/llm.json"
"$p" profile "$out/micro.gguf" --runs 3 -p 8 --no-ceilings --device arm-phone > "$out/llm.txt"
grep -q "decode (per token)" "$out/llm.txt" || fail "the LLM report has no per-token decode line"

# Totals equal the sums over the ops (the first phase is the ops table's).
node - "$out/onnx.json" "$out/llm.json" <<'JS' || fail "report totals do not add up"
const fs = require('fs');
for (const file of process.argv.slice(2)) {
  const r = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!r.estimated) throw new Error(file + ': not marked estimated');
  const s = r.summary, ops = r.ops;
  if (!ops.length) throw new Error(file + ': no ops');
  const close = (a, b, what) => {
    if (Math.abs(a - b) > 1e-6 * Math.max(1, Math.abs(b))) throw new Error(`${file}: ${what} ${a} != ${b}`);
  };
  let w = 0, dram = 0, compute = 0, memory = 0;
  for (const o of ops) {
    const lv = o.levels, b = o.bytes;
    close(lv.l1 + lv.l2 + lv.llc + lv.dram, b.weights + b.state + b.activations_read + b.activations_written, `${o.name} bytes by level`);
    w += b.weights, dram += lv.dram, compute += o.energy_uj.compute, memory += o.energy_uj.memory;
  }
  close(s.bytes.weights, w, 'weight bytes');
  close(s.bytes_by_level.dram, dram, 'DRAM bytes');
  close(s.energy_mj.compute, compute / 1000, 'compute energy');
  close(s.energy_mj.memory, memory / 1000, 'memory energy');
  close(s.energy_mj.total, s.energy_mj.compute + s.energy_mj.memory + s.energy_mj.static, 'total energy');
  console.log(`${file}: ${ops.length} ops, ${s.energy_mj.total.toFixed(4)} mJ per ${r.per} (estimated)`);
}
JS
[ -s "$out/onnx.html" ] || fail "no HTML report written"
