#!/usr/bin/env bash
# Cross-check of pareto's int8 execution against ONNX Runtime on the QDQ
# files pareto writes: each OCR model is quantized with every QuantizeLinear
# output exposed (--expose-quantized), both engines run it on the same
# input (a dumped pipeline input from the evaluation set, not the
# calibration set), and every quantized activation is compared in
# quantization steps (bench/npy_diff.mjs). pareto runs it optimized (its
# int8 kernels), ONNX Runtime with all optimizations (its QDQ fusions).
# A report, not a gate: rounding differences that propagate through deep
# layers are expected (README "int8 models"); it fails only when a tensor
# is missing or shaped differently. The yardstick for "expected": ONNX
# Runtime against itself on the same file, all optimizations (QLinearConv
# and friends) against none (the file's own Q/DQ and float operators),
# printed as the second line per model.
# The files quantize the depthwise convs too, as bench/quantize_ocr.sh's
# do (--float-depthwise: not); other arguments go to pareto quantize.
# usage: bash bench/check_qdq_ort.sh [--float-depthwise] [--quantize-outputs ...]   (after bench/quantize_ocr.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
p=$root/build/pareto ort=$root/.cache/npm/node_modules
work=$root/.cache/qdq-check
depthwise=--quantize-depthwise extra=()
for a in "$@"; do
  if [ "$a" = --float-depthwise ]; then depthwise=""; else extra+=("$a"); fi
done
[ -n "$depthwise" ] && extra+=("$depthwise")
[ -d "$root/.cache/ocr-calib-npy" ] || { echo "check_qdq_ort: run bench/quantize_ocr.sh first" >&2; exit 1; }
[ -d "$ort/onnxruntime-node" ] || { echo "check_qdq_ort: ONNX Runtime not in $ort (run scripts/fetch-models.sh)" >&2; exit 1; }
rm -rf "$work"; mkdir -p "$work"
set_dir=$root/.cache/ocr-set  # the evaluation set (bench/compare_ocr.sh makes it too)
bash "$root/bench/ocr/ensure_set.sh" "$set_dir"
# Inputs from the evaluation set: one receipt image through the pipeline.
img=$(ls "$root"/.cache/ocr-set/receipts/* | head -1)
"$p" ocr "$img" --dump-inputs "$work/inputs" >/dev/null
status=0
for m in det:ch_PP-OCRv4_det_infer cls:ch_ppocr_mobile_v2.0_cls_infer rec:ch_PP-OCRv4_rec_infer; do
  tag=${m%%:*} name=${m#*:}
  in=$(ls "$work/inputs/$tag"/*.npy | head -1)
  "$p" quantize "$root/models/ocr/$name.onnx" "$work/$tag.onnx" --calib "$root/.cache/ocr-calib-npy/$tag" --calib-limit 16 \
    --method percentile --expose-quantized "${extra[@]}" | tail -1 >&2
  node "$root/bench/ort_run.js" "$ort" "$work/$tag.onnx" "$work/$tag-ort" 1 opt "x=$in"
  node "$root/bench/ort_run.js" "$ort" "$work/$tag.onnx" "$work/$tag-ort-noopt" 1 noopt "x=$in"
  "$p" run "$work/$tag.onnx" --input "x=$in" -O --output "$work/$tag-pareto" >/dev/null
  echo "== $tag ($(basename "$in"))"
  echo -n "pareto vs ONNX Runtime: "
  node "$root/bench/npy_diff.mjs" "$work/$tag-ort" "$work/$tag-pareto" | tail -1 || status=1
  echo -n "ONNX Runtime vs itself unoptimized: "
  node "$root/bench/npy_diff.mjs" "$work/$tag-ort" "$work/$tag-ort-noopt" | tail -1 || status=1
done
exit $status
