#!/usr/bin/env bash
# Installs the Debian packages pareto builds and tests with (skips apt when
# everything is already there). Run as root on Debian 12.
set -euo pipefail
packages=(build-essential cmake git libgtest-dev libgmock-dev libbenchmark-dev nodejs npm
          libonnx-testdata imagemagick fonts-dejavu-core)
missing=()
for p in "${packages[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
