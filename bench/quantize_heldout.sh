#!/usr/bin/env bash
# Output error of an int8 PP-OCR model on inputs held out of its
# calibration: quantizes models/ocr/ROLE's model on the first 16 of the
# pipeline inputs bench/quantize_ocr.sh dumped (.cache/ocr-calib-npy/ROLE),
# runs the float and the int8 model on the rest, and prints the mean
# relative L2 error of the outputs (and the quantizer's in-sample figure);
# with --eval DIR (e.g. the inputs bench/tune_ocr.sh dumps from the OCR set,
# .cache/tune-ocr/eval/ROLE) the same on those inputs too.
# usage: bash bench/quantize_heldout.sh det|rec|cls [--eval DIR] [-- QUANTIZE OPTIONS]   (--eval before --)
#   e.g. bash bench/quantize_heldout.sh rec -- --weights gptq
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
p=$root/build/pareto
role=${1:-}; shift || true
eval_dir=
if [ "${1:-}" = "--eval" ]; then
  eval_dir=${2:?quantize_heldout: --eval needs a folder of .npy inputs}
  shift 2
fi
[ "${1:-}" = "--" ] && shift
case $role in
  det) m=ch_PP-OCRv4_det_infer ;; rec) m=ch_PP-OCRv4_rec_infer ;; cls) m=ch_ppocr_mobile_v2.0_cls_infer ;;
  *) echo "usage: quantize_heldout.sh det|rec|cls [--eval DIR] [-- QUANTIZE OPTIONS]" >&2; exit 2 ;;
esac
[ -x "$p" ] || { echo "quantize_heldout: build pareto first (bash scripts/build.sh release)" >&2; exit 1; }
calib=$root/.cache/ocr-calib-npy/$role
[ -d "$calib" ] || { echo "quantize_heldout: run bash bench/quantize_ocr.sh first (it dumps $calib)" >&2; exit 1; }
mapfile -t held < <(ls "$calib" | tail -n +17)
[ ${#held[@]} -gt 0 ] || { echo "quantize_heldout: $calib has 16 samples or fewer: none to hold out" >&2; exit 1; }
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
"$p" quantize "$root/models/ocr/$m.onnx" "$work/int8.onnx" --calib "$calib" --calib-limit 16 --method percentile --quantize-depthwise "$@" |
  tail -1 | sed 's/.*output error/in-sample output error/'
score() {  # score NAME DIR FILE...: float and int8 outputs of each input, then the mean error
  local name=$1 dir=$2; shift 2
  for f in "$@"; do
    "$p" run "$root/models/ocr/$m.onnx" --input "x=$dir/$f" --output "$work/$name-float/$f" > /dev/null
    "$p" run "$work/int8.onnx" --input "x=$dir/$f" --output "$work/$name-int8/$f" > /dev/null
  done
  node - "$work/$name-float" "$work/$name-int8" "$name" <<'JS'
const fs = require('fs'), path = require('path');
function read(file) {  // a float32 .npy body
  const b = fs.readFileSync(file), hlen = b[6] === 1 ? b.readUInt16LE(8) : b.readUInt32LE(8), start = (b[6] === 1 ? 10 : 12) + hlen;
  return new Float32Array(b.buffer.slice(b.byteOffset + start, b.byteOffset + b.length));
}
const [ref, got, name] = process.argv.slice(2);
let total = 0, n = 0;
for (const s of fs.readdirSync(ref)) for (const f of fs.readdirSync(path.join(ref, s))) {
  const a = read(path.join(ref, s, f)), q = read(path.join(got, s, f));
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - q[i]; num += d * d; den += a[i] * a[i]; }
  total += Math.sqrt(num / den); n++;
}
console.log(`${name}: output error ${(total / n).toExponential(3)} (mean relative L2 over ${n} inputs)`);
JS
}
score held-out "$calib" "${held[@]}"
if [ -n "$eval_dir" ]; then
  evals=()
  [ -d "$eval_dir" ] && mapfile -t evals < <(ls "$eval_dir")
  [ ${#evals[@]} -gt 0 ] || { echo "quantize_heldout: no inputs in $eval_dir" >&2; exit 1; }
  score eval "$eval_dir" "${evals[@]}"
fi
