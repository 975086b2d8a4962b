#!/usr/bin/env bash
# Installs the Debian packages pareto builds and tests with (skips apt when
# everything is already there). Run as root on Debian 12.
#
# What is missing is decided by Debian package state (dpkg -s), never by a
# command name on PATH: a `convert` or `node` found on PATH may be something
# else than the package the tests need (seen: a wrapper script named convert).
set -euo pipefail
missing=()
need_pkg() { dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed' || missing+=("$1"); }
need_pkg build-essential
need_pkg cmake
need_pkg git
need_pkg libgtest-dev
need_pkg libgmock-dev
need_pkg libbenchmark-dev
need_pkg libonnx-testdata
need_pkg nlohmann-json3-dev
# pareto serve: the HTTP server library (its headers need OpenSSL's, zlib's and brotli's -dev packages, its dependencies).
need_pkg libcpp-httplib-dev
# bench/serve_load.sh polls the servers' /health.
need_pkg curl
# The install test builds a consumer against pareto.pc.
need_pkg pkgconf
# The fuzz harnesses build with clang's libFuzzer (the runtime is in
# libclang-rt-14-dev); the concurrency tests run under gcc's ThreadSanitizer.
need_pkg clang
need_pkg libclang-rt-14-dev
need_pkg libtsan2
# pareto ocr decodes PNG/JPEG.
need_pkg libpng-dev
need_pkg libjpeg-dev
# Tests and the OCR comparison set render text with ImageMagick and name
# every font by file from these packages (ImageMagick's default font,
# Helvetica, comes from no package installed here).
need_pkg imagemagick
need_pkg fonts-dejavu-core   # DejaVu Sans, Serif and Sans Mono
need_pkg fonts-liberation2
need_pkg fonts-wqy-zenhei
# The VAD tests synthesize speech and mix it with silence and noise.
need_pkg espeak-ng
need_pkg sox
# Node.js runs the ONNX Runtime references. Debian's nodejs needs the npm
# package; NodeSource's nodejs package ships npm itself.
need_pkg nodejs
if ! dpkg -S /usr/bin/npm >/dev/null 2>&1; then need_pkg npm; fi
# The profiler's HTML report is rendered by headless Chromium in a test.
need_pkg chromium
# The AArch64 cross build (cmake --preset arm64), with --arm64 only (the
# test command's --full pass): Debian's cross compiler, qemu-aarch64, and the
# arm64 builds of the libraries pareto links, installed beside the host's
# (multiarch; the :arm64 packages need the architecture added first).
arm64=false
if [[ " $* " == *" --arm64 "* ]]; then
  arm64=true
  need_pkg g++-aarch64-linux-gnu
  need_pkg qemu-user
  arm64_libs=(libc6:arm64 libstdc++6:arm64 libpng-dev:arm64 libjpeg-dev:arm64 libgtest-dev:arm64 libcpp-httplib-dev:arm64)
  for p in "${arm64_libs[@]}"; do need_pkg "$p"; done
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if $arm64 && ! dpkg --print-foreign-architectures | grep -qx arm64; then dpkg --add-architecture arm64; fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
