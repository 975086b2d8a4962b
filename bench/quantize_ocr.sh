#!/usr/bin/env bash
# Int8 PP-OCRv4 models with pareto's own quantizer, from calibration data
# that is not the evaluation set: the comparison set's generator with
# another seed (bench/ocr/make_set.mjs OUT 7), 3 images per category run
# through `pareto ocr --dump-inputs` (the real det/cls/rec inputs), then
# `pareto quantize` per model, depthwise convs included
# (--quantize-depthwise: pareto sums them in integers on VNNI; --float-depthwise
# leaves them float, the form before). Writes two model folders usable with
# `pareto ocr --models DIR`:
#   .cache/ocr-int8      conv inputs quantized (pareto: int8 in, float out)
#   .cache/ocr-int8-qdq  conv outputs too (--quantize-outputs: the form ONNX
#                        Runtime fuses into QLinearConv)
# usage: bash bench/quantize_ocr.sh [--method percentile] [--samples 16] [--float-depthwise]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
method=percentile samples=16 depthwise=(--quantize-depthwise)
while [ $# -gt 0 ]; do
  case $1 in
    --method) method=$2; shift 2 ;;
    --samples) samples=$2; shift 2 ;;
    --float-depthwise) depthwise=(); shift ;;
    *) echo "usage: quantize_ocr.sh [--method minmax|percentile|entropy|mse] [--samples N] [--float-depthwise]" >&2; exit 2 ;;
  esac
done
p=$root/build/pareto
[ -x "$p" ] || { echo "quantize_ocr: build pareto first (bash scripts/build.sh release)" >&2; exit 1; }
bash "$root/scripts/fetch-models.sh" >&2
set_dir=$root/.cache/ocr-calib-set
bash "$root/bench/ocr/ensure_set.sh" "$set_dir" 7
calib=$root/.cache/ocr-calib-npy
rm -rf "$calib"
mapfile -t images < <(for c in "$set_dir"/*/; do ls "$c" | head -3 | sed "s|^|$c|"; done)
"$p" ocr "${images[@]}" --threads 2 --dump-inputs "$calib" >/dev/null 2>"$calib.log" || { cat "$calib.log" >&2; exit 1; }
for out in ocr-int8 ocr-int8-qdq; do
  dir=$root/.cache/$out
  rm -rf "$dir"; mkdir -p "$dir"
  cp "$root/models/ocr/ppocr_keys_v1.txt" "$dir/"
  extra=(${depthwise[@]+"${depthwise[@]}"})
  [ "$out" = ocr-int8-qdq ] && extra+=(--quantize-outputs)
  for m in det:ch_PP-OCRv4_det_infer cls:ch_ppocr_mobile_v2.0_cls_infer rec:ch_PP-OCRv4_rec_infer; do
    "$p" quantize "$root/models/ocr/${m#*:}.onnx" "$dir/${m#*:}.onnx" --calib "$calib/${m%%:*}" --calib-limit "$samples" \
      --method "$method" "${extra[@]}" | tail -1
  done
done
