#!/usr/bin/env bash
# Installs the Debian packages pareto builds and tests with (skips apt when
# everything is already there). Run as root on Debian 12.
set -euo pipefail
missing=()
need_pkg() { dpkg -s "$1" >/dev/null 2>&1 || missing+=("$1"); }
need_cmd() { command -v "$1" >/dev/null 2>&1 || missing+=("$2"); }
need_cmd g++ build-essential
need_cmd cmake cmake
need_cmd git git
need_pkg libgtest-dev
need_pkg libgmock-dev
need_pkg libbenchmark-dev
need_pkg libonnx-testdata
need_pkg nlohmann-json3-dev
need_cmd convert imagemagick
need_pkg fonts-dejavu-core
# pareto ocr decodes PNG/JPEG; its tests render Latin and CJK text, the VAD
# tests synthesize speech and mix it with silence and noise.
need_pkg libpng-dev
need_pkg libjpeg-dev
need_pkg fonts-wqy-zenhei
need_cmd espeak-ng espeak-ng
need_cmd sox sox
# Node.js may come from elsewhere (e.g. NodeSource, which bundles npm).
need_cmd node nodejs
need_cmd npm npm
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
