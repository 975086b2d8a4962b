#!/usr/bin/env bash
# Installs the peer OCR pipeline (npm @gutenye/ocr-node: PaddleOCR's PP-OCRv4
# models on ONNX Runtime, with sharp and OpenCV.js) into .cache/npm-ocr-peer.
# Scripts are not run: sharp and onnxruntime-node ship their native binaries
# inside npm packages. Prints the node_modules folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
dir=$root/.cache/npm-ocr-peer
PKG=@gutenye/ocr-node@1.4.8
if [ ! -f "$dir/node_modules/@gutenye/ocr-node/package.json" ]; then
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"private": true, "type": "module"}' > "$dir/package.json"
  npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$dir" "$PKG" >/dev/null
  echo "fetch-peer: $PKG -> $dir" >&2
fi
echo "$dir/node_modules"
