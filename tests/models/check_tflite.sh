#!/usr/bin/env bash
# pareto's TFLite frontend against TensorFlow Lite's own interpreter (2.2,
# its C library from npm node-tflite, fetched by scripts/fetch-models.sh):
# every Coral classification model in ../shared/models/coral and DeepLab v3
# on the labelled images (the input pareto classify prepares, dumped) and on
# random inputs; the outputs must be identical value for value.
# usage: check_tflite.sh PARETO REPO_ROOT      exits 77 (skipped) with a reason when a piece is missing
set -euo pipefail
pareto=$1 root=$2
coral=$root/../shared/models/coral lib=$root/.cache/tflite
[ -f "$coral/cat.bmp" ] || { echo "SKIPPED: ../shared/models/coral not found next to the repository"; exit 77; }
[ -f "$lib/lib/libtensorflowlite_c.so" ] || { echo "SKIPPED: TensorFlow Lite's C library not fetched (bash scripts/fetch-models.sh)"; exit 77; }
command -v cc >/dev/null || { echo "SKIPPED: no C compiler"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/tflite_reference" "$root/tests/models/tflite_reference.c" -I"$lib/include" -L"$lib/lib" -ltensorflowlite_c -Wl,-rpath,"$lib/lib"
status=0 cases=0
check() {  # check MODEL INPUT.npy LABEL
  local model=$1 input=$2 label=$3 name
  name=$("$tmp/tflite_reference" "$model" --random 0 "$tmp/probe.npy" | sed -n 's/^input=//p')
  rm -rf "$tmp/out"
  "$pareto" run "$model" --input "$name=$input" --output "$tmp/out" >/dev/null
  local outputs=("$tmp"/out/*.npy) result
  [ ${#outputs[@]} = 1 ] || { echo "FAIL  $(basename "$model") $label: ${#outputs[@]} outputs, one expected"; status=1; return; }
  if result=$("$tmp/tflite_reference" "$model" "$input" "${outputs[0]}" | tail -n1); then
    echo "ok    $(basename "$model") $label: $result"
  else
    echo "FAIL  $(basename "$model") $label: $result"; status=1
  fi
  cases=$((cases + 1))
}
for model in mobilenet_v1_0.25_128_quant mobilenet_v1_0.5_160_quant mobilenet_v1_0.75_192_quant mobilenet_v2_1.0_224_quant tf2_mobilenet_v2_1.0_224_ptq; do
  m=$coral/$model.tflite
  for image in cat.bmp bird.bmp grace_hopper.bmp sunflower.bmp dragonfly.bmp parrot.jpg owl.jpg hot_dog.jpg; do
    rm -rf "$tmp/in"; mkdir -p "$tmp/in"
    "$pareto" classify "$coral/$image" --model "$m" --dump-inputs "$tmp/in" >/dev/null 2>&1
    check "$m" "$tmp/in/$image.npy" "$image"
  done
  for seed in 1 2 3; do
    "$tmp/tflite_reference" "$m" --random "$seed" "$tmp/random.npy" >/dev/null
    check "$m" "$tmp/random.npy" "random input $seed"
  done
done
# DeepLab v3 (segmentation: a class index per pixel, int64): atrous convs,
# RESIZE_BILINEAR, CONCATENATION, ARG_MAX.
m=$coral/deeplabv3_mnv2_pascal_quant.tflite
for image in bird.bmp cat.bmp; do
  rm -rf "$tmp/in"; mkdir -p "$tmp/in"
  "$pareto" classify "$coral/$image" --model "$m" --top 1 --dump-inputs "$tmp/in" >/dev/null 2>&1
  check "$m" "$tmp/in/$image.npy" "$image"
done
"$tmp/tflite_reference" "$m" --random 1 "$tmp/random.npy" >/dev/null
check "$m" "$tmp/random.npy" "random input 1"
echo "$cases cases compared"
exit $status
