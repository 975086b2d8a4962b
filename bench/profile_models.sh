#!/usr/bin/env bash
# pareto profile over the README's models: the OCR det/rec/cls and silero
# VAD (per inference), stories260K and the synthesized 1.1B llama in Q4_K
# (per decoded token, after a 64-token prompt). Prints a markdown table of
# latency, operations, weight and DRAM bytes and the estimated energy split,
# and leaves each JSON and the det report's HTML in OUT.
# usage: bash bench/profile_models.sh [THREADS] [OUT] [DEVICE]
#   (after scripts/fetch-models.sh; the 1.1B model is synthesized once into OUT)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-1} out=${2:-$root/.cache/profile} device=${3:-x86-avx512}
p=$root/build/pareto m=$root/models shared=$root/../shared/models
mkdir -p "$out"
[ -f "$out/synth-1.1b-q4_k.gguf" ] || "$p" synth --preset 1.1b --type q4_k -o "$out/synth-1.1b-q4_k.gguf" >&2
run() {  # tag args...
  local tag=$1; shift
  "$p" profile "$@" --threads "$threads" --device "$device" --json > "$out/$tag.json"
}
run det "$m/ocr/ch_PP-OCRv4_det_infer.onnx" --shape x=1,3,640,640 --runs 3 --html "$out/det.html"
run rec "$m/ocr/ch_PP-OCRv4_rec_infer.onnx" --shape x=1,3,48,320 --runs 10
run cls "$m/ocr/ch_ppocr_mobile_v2.0_cls_infer.onnx" --shape x=1,3,48,192 --runs 20
run silero "$m/silero/silero_vad.onnx" --const sr=16000 --shape input=1,512 --shape state=2,1,128 --input state=fill:0 --runs 50
[ -f "$shared/stories260K.gguf" ] && run stories260K "$shared/stories260K.gguf" -p 64 --runs 32
run synth-1.1b-q4_k "$out/synth-1.1b-q4_k.gguf" -p 64 --runs 16
node - "$out" <<'JS'
const fs = require('fs'), dir = process.argv[2];
const f = (v, d = 2) => Number(v).toFixed(d);
console.log('| model | per | latency ms | GOP | weights MB | DRAM MB (est.) | energy mJ (est.) | compute | memory | static |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const tag of ['det', 'rec', 'cls', 'silero', 'stories260K', 'synth-1.1b-q4_k']) {
  if (!fs.existsSync(`${dir}/${tag}.json`)) continue;
  const r = JSON.parse(fs.readFileSync(`${dir}/${tag}.json`, 'utf8'));
  for (const p of r.phases) {
    const gop = Object.values(p.ops).reduce((a, b) => a + b, 0) / 1e9, e = p.energy_mj;
    console.log(`| ${tag} | ${p.name === 'inference' ? 'inference' : p.name + ' token'} | ${f(p.latency_ms, 3)} | ${f(gop, 3)} | ${f(p.bytes.weights / 1e6)} | ${f(p.bytes_by_level.dram / 1e6)} | ${f(e.total, 3)} | ${f(e.compute, 3)} | ${f(e.memory, 3)} | ${f(e.static, 3)} |`);
  }
}
JS
